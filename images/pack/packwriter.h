/* SPDX-License-Identifier: MIT */
/*
 * A new pack of a run: the chunks no earlier image has, appended as zstd
 * frames (or as is, when that is smaller), then published as
 * OUTDIR/packs/<sha256>.pack.
 */
#ifndef LAZYROOT_PACK_PACKWRITER_H
#define LAZYROOT_PACK_PACKWRITER_H

#include <stddef.h>
#include <stdint.h>

#include <zstd.h>

#include "manifest.h"
#include "sha256.h"

struct pack_writer {
	int fd;				/* -1 until the first chunk */
	char *tmp;
	uint64_t size;
	struct sha256_ctx sha;
	ZSTD_CCtx *cctx;
	int level;
	unsigned char *zbuf;
	size_t zcap;
};

/* Returns 0 or -1 (said why). */
int pack_writer_init(struct pack_writer *w, int level);
void pack_writer_free(struct pack_writer *w);

/* Creates the temporary pack file in @packdir. Returns 0 or -1 (said why). */
int pack_writer_open(struct pack_writer *w, const char *packdir);

/*
 * Appends @len bytes of @data, compressed if that makes them smaller, and
 * fills @c's encoding, stored_size and offset. Returns 0 or -1 (said why).
 */
int pack_writer_append(struct pack_writer *w, struct manifest_chunk *c,
		       const unsigned char *data, size_t len);

/*
 * Appends chunk @c's @c->stored_size bytes at @stored, as they are (a frame
 * of another pack), and sets @c's offset. Returns 0 or -1 (said why).
 */
int pack_writer_copy(struct pack_writer *w, struct manifest_chunk *c,
		     const unsigned char *stored);

/* Closes and removes the pack not published. */
void pack_writer_discard(struct pack_writer *w);

/*
 * Syncs the pack and publishes it in @outdir/packs under its sha256
 * (@digest). Returns 0 or -1 (said why).
 */
int pack_writer_publish(struct pack_writer *w, const char *outdir,
			unsigned char digest[SHA256_SIZE]);

#endif
