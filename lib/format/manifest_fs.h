/* SPDX-License-Identifier: MIT */
/*
 * The manifest on disk (docs/format.md), declared once: manifest.c parses
 * and encodes exactly these records. All integers are little-endian, the
 * sections follow each other with no gaps:
 *
 *   header  1 x struct manifest_disk_header
 *   blobs   nblobs x struct manifest_disk_blob; blob 0 is the primary
 *           device (the bootstrap the kernel opens by fsid), the rest are
 *           extra devices, in device-table order
 *   packs   npacks x struct manifest_disk_pack
 *   chunks  nchunks x struct manifest_disk_chunk (a writer lists each
 *           content once; a reader need not check that)
 *   refs    nrefs x struct manifest_disk_ref
 *   prefetch  version 2 only: nprefetch x struct manifest_disk_ref, ref
 *           indexes in the order boot first read them (the boot set)
 *
 * Within a blob every chunk but the last is a whole number of 4096-byte
 * pages, and the plain sizes add up to the blob's size, so a page never
 * spans two chunks and lazyrootd writes whole chunks with direct I/O.
 * Reserved bytes are zero.
 */
#ifndef LAZYROOT_MANIFEST_FS_H
#define LAZYROOT_MANIFEST_FS_H

#include <stddef.h>

#include "le.h"
#include "sha256.h"

#define MANIFEST_MAGIC "LZRMANI1"
#define MANIFEST_VERSION 1
/* Version 2 is version 1 and a prefetch table; without one a writer writes 1. */
#define MANIFEST_VERSION_PREFETCH 2
#define MANIFEST_HEADER_SIZE 64
#define MANIFEST_BLOB_SIZE 96
#define MANIFEST_PACK_SIZE 48
#define MANIFEST_CHUNK_SIZE 56
#define MANIFEST_REF_SIZE 4

struct manifest_disk_header {
	char magic[8];			/* MANIFEST_MAGIC, no NUL */
	le32 version;			/* MANIFEST_VERSION or _PREFETCH */
	le32 nblobs;			/* 1..MANIFEST_BLOBS_MAX */
	le32 npacks;			/* 1..MANIFEST_PACKS_MAX */
	le32 nchunks;			/* 1..MANIFEST_CHUNKS_MAX */
	le32 nrefs;			/* 1..MANIFEST_CHUNKS_MAX, of all blobs */
	/* largest plain chunk: a multiple of 4096 in 4096..MANIFEST_CHUNK_MAX */
	le32 chunk_max;
	/* version 2: 1..nrefs entries in the prefetch table; version 1: 0 */
	le32 nprefetch;
	unsigned char reserved[28];
};

struct manifest_disk_blob {
	/*
	 * 64 lower-case hex digits, the sha256 of the blob's plain bytes;
	 * for extra devices also their device-table tag. Distinct.
	 */
	char tag[SHA256_HEX_SIZE];
	le64 size;			/* plain bytes, 1..2^47 */
	/*
	 * The blob is refs[first_ref .. first_ref + nrefs) in order; each
	 * ref belongs to exactly one blob and the blobs take the refs in
	 * order (blob 0 from ref 0 on).
	 */
	le32 first_ref;
	le32 nrefs;
	unsigned char reserved[16];
};

struct manifest_disk_pack {
	/* sha256 of the pack file; it is published as packs/<hex>.pack */
	unsigned char digest[SHA256_SIZE];
	le64 size;			/* of the pack file */
	unsigned char reserved[8];
};

struct manifest_disk_chunk {
	unsigned char digest[SHA256_SIZE];	/* of the plain bytes */
	le64 offset;			/* of its stored bytes in the pack */
	le32 pack;			/* index */
	le32 stored_size;		/* 1.., offset + stored <= pack size */
	le32 size;			/* plain, 1..chunk_max */
	le32 encoding;			/* enum manifest_encoding */
};

struct manifest_disk_ref {
	le32 chunk;			/* index */
};

#define MANIFEST_FIELD(type, f, off)                                       \
	_Static_assert(offsetof(struct type, f) == (off),                    \
		       #type "." #f " is at byte " #off)
MANIFEST_FIELD(manifest_disk_header, magic, 0);
MANIFEST_FIELD(manifest_disk_header, version, 8);
MANIFEST_FIELD(manifest_disk_header, nblobs, 12);
MANIFEST_FIELD(manifest_disk_header, npacks, 16);
MANIFEST_FIELD(manifest_disk_header, nchunks, 20);
MANIFEST_FIELD(manifest_disk_header, nrefs, 24);
MANIFEST_FIELD(manifest_disk_header, chunk_max, 28);
MANIFEST_FIELD(manifest_disk_header, nprefetch, 32);
MANIFEST_FIELD(manifest_disk_header, reserved, 36);
MANIFEST_FIELD(manifest_disk_blob, tag, 0);
MANIFEST_FIELD(manifest_disk_blob, size, 64);
MANIFEST_FIELD(manifest_disk_blob, first_ref, 72);
MANIFEST_FIELD(manifest_disk_blob, nrefs, 76);
MANIFEST_FIELD(manifest_disk_blob, reserved, 80);
MANIFEST_FIELD(manifest_disk_pack, digest, 0);
MANIFEST_FIELD(manifest_disk_pack, size, 32);
MANIFEST_FIELD(manifest_disk_pack, reserved, 40);
MANIFEST_FIELD(manifest_disk_chunk, digest, 0);
MANIFEST_FIELD(manifest_disk_chunk, offset, 32);
MANIFEST_FIELD(manifest_disk_chunk, pack, 40);
MANIFEST_FIELD(manifest_disk_chunk, stored_size, 44);
MANIFEST_FIELD(manifest_disk_chunk, size, 48);
MANIFEST_FIELD(manifest_disk_chunk, encoding, 52);
MANIFEST_FIELD(manifest_disk_ref, chunk, 0);
#undef MANIFEST_FIELD
_Static_assert(sizeof(struct manifest_disk_header) == MANIFEST_HEADER_SIZE,
	       "manifest header is 64 bytes");
_Static_assert(sizeof(struct manifest_disk_blob) == MANIFEST_BLOB_SIZE,
	       "manifest blob is 96 bytes");
_Static_assert(sizeof(struct manifest_disk_pack) == MANIFEST_PACK_SIZE,
	       "manifest pack is 48 bytes");
_Static_assert(sizeof(struct manifest_disk_chunk) == MANIFEST_CHUNK_SIZE,
	       "manifest chunk is 56 bytes");
_Static_assert(sizeof(struct manifest_disk_ref) == MANIFEST_REF_SIZE,
	       "manifest ref is 4 bytes");

#endif
