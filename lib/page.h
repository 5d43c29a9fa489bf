/* SPDX-License-Identifier: MIT */
/*
 * The one page size: EROFS blocks, cachefiles direct I/O, manifest chunk
 * boundaries, the disk store's map and NBD blocks are all 4 KiB.
 */
#ifndef LAZYROOT_PAGE_H
#define LAZYROOT_PAGE_H

#include <stdint.h>

#define PAGE_SIZE_4K 4096u

static inline uint64_t page_down(uint64_t x)
{
	return x & ~(uint64_t)(PAGE_SIZE_4K - 1);
}

static inline uint64_t page_up(uint64_t x)
{
	return (x + PAGE_SIZE_4K - 1) & ~(uint64_t)(PAGE_SIZE_4K - 1);
}

static inline int page_aligned(uint64_t x)
{
	return !(x & (PAGE_SIZE_4K - 1));
}

#endif
