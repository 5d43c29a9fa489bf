// SPDX-License-Identifier: MIT
#include "chunker.h"
#include "le.h"

#define CUT_MASK 15

/*
 * FNV-1a over little-endian 64-bit words, then MurmurHash3's fmix64,
 * since the low bits of FNV's products depend only on the low bits of the
 * words.
 */
uint64_t chunker_page_hash(const unsigned char *p)
{
	uint64_t h = 0xcbf29ce484222325ull;
	size_t i;

	for (i = 0; i < PAGE_SIZE_4K; i += 8)
		h = (h ^ get_le64(p + i)) * 0x100000001b3ull;
	h ^= h >> 33;
	h *= 0xff51afd7ed558ccdull;
	h ^= h >> 33;
	h *= 0xc4ceb9fe1a85ec53ull;
	h ^= h >> 33;
	return h;
}

size_t chunker_cut(const unsigned char *buf, size_t have)
{
	size_t pg, len;

	/* The buffer is short only at the end: the last page cuts. */
	for (pg = 0;; pg++) {
		len = (pg + 1) * PAGE_SIZE_4K;
		if (len >= have)
			return have;
		if (pg + 1 >= CHUNKER_MIN_PAGES &&
		    (chunker_page_hash(buf + pg * PAGE_SIZE_4K) & CUT_MASK) ==
		    CUT_MASK)
			return len;
	}
}
