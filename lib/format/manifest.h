/* SPDX-License-Identifier: MIT */
/*
 * The manifest of a verified image (docs/format.md): which blobs the kernel
 * will open, which chunks make up each blob, where each chunk's frame is in
 * which pack, and the sha256 of every chunk's plain bytes. Its own sha256
 * (erofs.digest=) is the root of trust for every byte lazyrootd writes.
 *
 * The on-disk records are in manifest_fs.h; this is the checked, decoded
 * form the daemon indexes.
 */
#ifndef LAZYROOT_MANIFEST_H
#define LAZYROOT_MANIFEST_H

#include <stddef.h>
#include <stdint.h>

#include "manifest_fs.h"
#include "sha256.h"

/* The whole manifest; in practice this, not the count limits, binds. */
#define MANIFEST_MAX_SIZE (64u << 20)
#define MANIFEST_BLOBS_MAX 16
#define MANIFEST_PACKS_MAX 65536
#define MANIFEST_CHUNKS_MAX (1u << 22)
#define MANIFEST_CHUNK_MAX (4u << 20)	/* plain bytes of one chunk */
#define MANIFEST_BLOB_SIZE_MAX (1ULL << 47)

enum manifest_encoding {
	MANIFEST_ZSTD = 0,
	MANIFEST_STORED = 1,
};

struct manifest_blob {
	char tag[SHA256_HEX_SIZE + 1];	/* NUL-terminated */
	unsigned char digest[SHA256_SIZE];	/* the tag, as bytes */
	uint64_t size;
	uint32_t first_ref, nrefs;
};

struct manifest_pack {
	unsigned char digest[SHA256_SIZE];
	uint64_t size;
};

struct manifest_chunk {
	unsigned char digest[SHA256_SIZE];
	uint64_t offset;		/* in its pack */
	uint32_t pack;
	uint32_t stored_size;
	uint32_t size;			/* plain */
	uint32_t encoding;
};

struct manifest {
	uint32_t nblobs, npacks, nchunks, nrefs, chunk_max;
	struct manifest_blob *blobs;
	struct manifest_pack *packs;
	struct manifest_chunk *chunks;
	uint32_t *refs;			/* chunk index of each ref */
	/*
	 * Filled by manifest_parse(): ref_off[r] is ref r's plain offset in
	 * its blob (so a blob's refs are sorted by offset).
	 */
	uint64_t *ref_off;
	/*
	 * The prefetch table (version 2): refs in the order boot first read
	 * them; 0 and NULL when there is none (version 1).
	 */
	uint32_t nprefetch;
	uint32_t *prefetch;
};

/*
 * Checks and decodes @len bytes. Returns 0 and a manifest to free with
 * manifest_free(), or -EINVAL (-ENOMEM) with one phrase in @why saying
 * what is wrong ("chunk 12: pack index 3 out of range").
 */
int manifest_parse(const void *buf, size_t len, struct manifest **out,
		   char *why, size_t why_size);
void manifest_free(struct manifest *m);

/* The blob whose tag is @tag (@len bytes, not terminated), or NULL. */
const struct manifest_blob *manifest_find_blob(const struct manifest *m,
					       const char *tag, size_t len);

/*
 * The ref of blob @b holding plain byte @off (< b->size): an index into
 * m->refs and m->ref_off.
 */
uint32_t manifest_ref_at(const struct manifest *m,
			 const struct manifest_blob *b, uint64_t off);

/*
 * Encodes @m (blobs, packs, chunks, refs, the prefetch table as version 2
 * if it has one; ref_off is not used) into a new
 * buffer. Checks what manifest_parse() checks, so it never writes a
 * manifest the daemon would refuse. Returns 0 or -EINVAL/-ENOMEM with @why.
 */
int manifest_encode(const struct manifest *m, unsigned char **out,
		    size_t *len, char *why, size_t why_size);

#endif
