/* SPDX-License-Identifier: MIT */
/*
 * The record of what the kernel read: for each blob, the pages of every
 * READ in the order they were first read, runs of pages merged, with the
 * time since the daemon started. Bounded: at most PREFETCH_RANGES_MAX
 * ranges (about 2.5 MiB at most); then it stops growing and says so.
 * `lazyrootctl record` writes it out (docs/format.md, "Prefetch lists").
 */
#ifndef LAZYROOT_RECORD_H
#define LAZYROOT_RECORD_H

#include <stddef.h>
#include <stdint.h>

struct record;

int record_new(struct record **out);
void record_free(struct record *r);

/* The kernel read pages [off, end) of blob @name (both page-aligned). */
void record_touch(struct record *r, const char *name, uint64_t off,
		  uint64_t end);

/* Every page of [off, end) of blob @name has been read. */
int record_covers(const struct record *r, const char *name, uint64_t off,
		  uint64_t end);

/* The record as a prefetch list; *out is the caller's to free(). 0 or -ENOMEM. */
int record_text(const struct record *r, char **out, size_t *len);

#endif
