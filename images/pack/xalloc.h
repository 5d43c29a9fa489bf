/* SPDX-License-Identifier: MIT */
/*
 * Allocation for a command-line tool: running out of memory ends the run
 * (its temporary files are removed at exit), so callers need no path for it.
 */
#ifndef LAZYROOT_PACK_XALLOC_H
#define LAZYROOT_PACK_XALLOC_H

#include <stddef.h>

#include <zstd.h>

/* realloc() of @n elements of @size bytes, the product checked. */
void *xrealloc(void *p, size_t n, size_t size);
char *xasprintf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* Grows *@p (of *@cap elements of @size bytes) to hold at least @need. */
void xgrow(void **p, size_t *cap, size_t need, size_t size);
/* A decompression context for chunk_decode(). */
ZSTD_DCtx *xdctx_new(void);

#endif
