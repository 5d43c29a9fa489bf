/* SPDX-License-Identifier: MIT */
/*
 * Digest -> index into an array whose elements start with a sha256 digest
 * (packs, chunks): open addressing on the digest's first bytes, which are
 * already uniformly spread. The map keeps indexes only, so the array may
 * move (be reallocated) between calls.
 */
#ifndef LAZYROOT_PACK_DIGESTMAP_H
#define LAZYROOT_PACK_DIGESTMAP_H

#include <stddef.h>
#include <stdint.h>

/* No element; also "not numbered yet" for the indexes kept beside them. */
#define NO_INDEX UINT32_MAX

struct digest_map {
	uint32_t *slot;
	size_t mask, count;
};

/* The index of the element of @base (@stride bytes each) with digest @d. */
uint32_t digest_map_find(const struct digest_map *m, const unsigned char *d,
			 const void *base, size_t stride);

/* Adds element @idx of @base, which must not be in @m yet. */
void digest_map_add(struct digest_map *m, uint32_t idx, const void *base,
		    size_t stride);

void digest_map_free(struct digest_map *m);

#endif
