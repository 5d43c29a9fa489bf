/* SPDX-License-Identifier: MIT */
/*
 * The writer's chunking rule (informative in docs/format.md): cut after a
 * page once the chunk has CHUNKER_MIN_PAGES and the page's hash ends in
 * four 1 bits, or at CHUNKER_MAX_PAGES. Cuts depend on the page itself,
 * not its position, so a page inserted or removed moves only the chunks
 * near it; every chunk but a blob's last is whole pages.
 */
#ifndef LAZYROOT_PACK_CHUNKER_H
#define LAZYROOT_PACK_CHUNKER_H

#include <stddef.h>
#include <stdint.h>

#include "page.h"

#define CHUNKER_MIN_PAGES 4
#define CHUNKER_MAX_PAGES 64
#define CHUNKER_MAX (CHUNKER_MAX_PAGES * PAGE_SIZE_4K)

/* The hash of the 4 KiB page at @p that the rule looks at. */
uint64_t chunker_page_hash(const unsigned char *p);

/*
 * The length of the chunk that starts @buf, which holds the next @have
 * bytes (1..CHUNKER_MAX) of a blob: CHUNKER_MAX of them unless the blob
 * ends sooner, whose last chunk ends with it.
 */
size_t chunker_cut(const unsigned char *buf, size_t have);

#endif
