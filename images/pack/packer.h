/* SPDX-License-Identifier: MIT */
/*
 * One run of lazyroot-pack: the blobs of an image cut into chunks, each
 * content once, taken from a --previous image where one has it or written
 * into the new pack, then the manifest naming them all.
 */
#ifndef LAZYROOT_PACK_PACKER_H
#define LAZYROOT_PACK_PACKER_H

#include <stddef.h>
#include <stdint.h>

#include <zstd.h>

#include "digestmap.h"
#include "manifest.h"
#include "packwriter.h"
#include "sha256.h"

struct pack {
	unsigned char digest[SHA256_SIZE];
	uint64_t size;
	const char *dir;		/* its --previous DIR; NULL: the new pack */
	uint32_t index;			/* in the new manifest */
};

/* A manifest chunk first (so the element starts with its digest). */
struct chunk {
	struct manifest_chunk m;	/* m.pack: in packer.packs */
	uint32_t index;			/* in the new manifest */
};

struct blob {
	const char *path;
	char tag[SHA256_HEX_SIZE + 1];
	unsigned char digest[SHA256_SIZE];
	uint64_t size;
	uint32_t *refs;			/* in packer.chunks */
	size_t nrefs, cap;
};

/* --prefetch: one chunk of the boot set (bootset.c), digest first. */
struct boot_entry {
	unsigned char digest[SHA256_SIZE];
	uint32_t blob;			/* its blob's index */
	size_t order;			/* the record's range it came from */
	/* or a range of a blob of this image, by its tag */
	int pending;
	char tag[SHA256_HEX_SIZE];
	uint64_t off, len;
};

struct packer {
	const char *outdir;
	char *packdir;
	struct pack *packs;		/* reused and new */
	size_t npacks, packs_cap;
	struct digest_map pack_map;
	struct chunk *old;		/* every chunk of the --previous manifests */
	size_t nold, old_cap;
	struct digest_map old_map;
	struct chunk *chunks;		/* this image's distinct chunks */
	size_t nchunks, chunks_cap;
	struct digest_map chunk_map;
	struct blob blobs[MANIFEST_BLOBS_MAX];
	unsigned int nblobs;
	size_t nrefs, reused;
	uint32_t new_pack;		/* in packs, NO_INDEX until a new chunk */
	struct pack_writer writer;
	/* Checking reused chunks: the old pack last read, and buffers. */
	ZSTD_DCtx *dctx;
	unsigned char *buf, *zbuf, *vbuf;
	size_t zcap;
	int old_fd;
	uint32_t old_fd_pack;
	/* --prefetch: the record, its boot set, the manifest's table */
	const char *prefetch_record;
	struct boot_entry *boot;
	size_t nboot, boot_cap;
	struct digest_map boot_map;
	uint32_t *prefetch, nprefetch;
};

/*
 * Sets up @p for OUTDIR @outdir and the image files @paths (bootstrap
 * first), compressing at zstd @level. Returns 0 or -1 (said why); call
 * packer_free() either way.
 */
int packer_init(struct packer *p, const char *outdir, int npaths,
		char **paths, int level);
void packer_free(struct packer *p);

/*
 * Packs the image and writes its manifest as @manifest_path (NULL:
 * OUTDIR/<sha256>.manifest); prints the manifest's sha256 on stdout and a
 * summary on stderr. Returns 0 or -1 (said why).
 */
int pack_image(struct packer *p, const char *manifest_path);

#endif
