/* SPDX-License-Identifier: MIT */
/*
 * One chunk of a verified image (docs/format.md): its stored bytes decoded
 * to exactly its plain size and checked against its sha256. The daemon and
 * lazyroot-pack use the same rules, so the writer never publishes what the
 * reader would refuse.
 */
#ifndef LAZYROOT_CHUNK_H
#define LAZYROOT_CHUNK_H

#include <stddef.h>

#include <zstd.h>

#include "manifest.h"

/* A decompression context for chunk_decode(). */
ZSTD_DCtx *chunk_dctx_new(void);

/*
 * Decodes chunk @c's @stored bytes (c->stored_size of them) into @out
 * (c->size bytes): as is, or one zstd frame that declares exactly that
 * size and fills the stored bytes. Returns 0, or -EBADMSG with the reason
 * in @why; @out then holds nothing to be trusted.
 */
int chunk_decode(ZSTD_DCtx *dctx, const struct manifest_chunk *c,
		 const unsigned char *stored, unsigned char *out, char *why,
		 size_t why_size);

/* chunk_decode(), then the sha256 of @out must be the chunk's. */
int chunk_decode_checked(ZSTD_DCtx *dctx, const struct manifest_chunk *c,
			 const unsigned char *stored, unsigned char *out,
			 char *why, size_t why_size);

#endif
