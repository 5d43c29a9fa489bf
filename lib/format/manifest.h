/* SPDX-License-Identifier: MIT */
/*
 * The manifest of a verified image (docs/format.md): which blobs the kernel
 * will open, which chunks make up each blob, where each chunk's frame is in
 * which pack, and the sha256 of every chunk's plain bytes. Its own sha256
 * (erofs.digest=) is the root of trust for every byte lazyrootd writes.
 *
 * Encoding, all integers little-endian, sections back to back with no gaps:
 *
 *   header  64 bytes
 *     0  magic "LZRMANI1" (8 bytes)
 *     8  le32 version = 1
 *    12  le32 nblobs   1..MANIFEST_BLOBS_MAX; blob 0 is the primary device
 *                       (the bootstrap the kernel opens by fsid), the rest
 *                       are extra devices, in device-table order
 *    16  le32 npacks   1..MANIFEST_PACKS_MAX
 *    20  le32 nchunks  1..MANIFEST_CHUNKS_MAX chunks (a writer lists each
 *                       content once; a reader need not check that)
 *    24  le32 nrefs    1..MANIFEST_CHUNKS_MAX, chunk references of all blobs
 *    28  le32 chunk_max  largest plain chunk, 4096..MANIFEST_CHUNK_MAX,
 *                        a multiple of 4096; no chunk is larger
 *    32  32 bytes zero (reserved)
 *   blobs   nblobs x 96 bytes
 *     0  tag: 64 lower-case hex digits, the sha256 of the blob's plain
 *        bytes; for extra devices also their device-table tag. Distinct.
 *    64  le64 size: plain bytes, 1..2^47
 *    72  le32 first_ref, 76 le32 nrefs: the blob is refs[first_ref ..
 *        first_ref + nrefs) in order; each ref belongs to exactly one blob
 *        and the blobs take the refs in order (blob 0 from ref 0 on)
 *    80  16 bytes zero
 *   packs   npacks x 48 bytes
 *     0  sha256 of the pack file; it is published as packs/<hex>.pack
 *    32  le64 size of the pack file
 *    40  8 bytes zero
 *   chunks  nchunks x 56 bytes
 *     0  sha256 of the chunk's plain bytes
 *    32  le64 offset of its stored bytes in the pack
 *    40  le32 pack index
 *    44  le32 stored size: bytes in the pack (1.., offset + stored <= pack size)
 *    48  le32 plain size (1..chunk_max)
 *    52  le32 encoding: 0 = one zstd frame, 1 = stored as is (stored = plain)
 *   refs    nrefs x le32 chunk index
 *
 * Within a blob every chunk but the last is a whole number of 4096-byte
 * pages, and the plain sizes add up to the blob's size, so a page never
 * spans two chunks and lazyrootd writes whole chunks with direct I/O.
 */
#ifndef LAZYROOT_MANIFEST_H
#define LAZYROOT_MANIFEST_H

#include <stddef.h>
#include <stdint.h>

#include "sha256.h"

#define MANIFEST_MAGIC "LZRMANI1"
#define MANIFEST_VERSION 1
#define MANIFEST_HEADER_SIZE 64
#define MANIFEST_BLOB_SIZE 96
#define MANIFEST_PACK_SIZE 48
#define MANIFEST_CHUNK_SIZE 56
#define MANIFEST_REF_SIZE 4
#define MANIFEST_PAGE 4096
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
 * Encodes @m (blobs, packs, chunks, refs; ref_off is not used) into a new
 * buffer. Checks what manifest_parse() checks, so it never writes a
 * manifest the daemon would refuse. Returns 0 or -EINVAL/-ENOMEM with @why.
 */
int manifest_encode(const struct manifest *m, unsigned char **out,
		    size_t *len, char *why, size_t why_size);

#endif
