/* SPDX-License-Identifier: MIT */
/*
 * Prefetch lists (docs/format.md, "Prefetch lists"): the pages boot read,
 * per blob, in the order it first read them. lazyrootd writes one as its
 * record (lazyrootctl record), lazyroot-mkimage publishes it, and
 * lazyrootd streams what it names first. A list read from anywhere is
 * hostile input: prefetch_parse() checks every rule below.
 */
#ifndef LAZYROOT_PREFETCH_LIST_H
#define LAZYROOT_PREFETCH_LIST_H

#include <stddef.h>
#include <stdint.h>

#define PREFETCH_MAGIC "lazyroot-prefetch 1"
#define PREFETCH_FILE_MAX (8u << 20)	/* bytes of a list */
#define PREFETCH_RANGES_MAX 65536u
#define PREFETCH_BLOBS_MAX 16u
#define PREFETCH_NAME_MAX 255u
#define PREFETCH_LINE_MAX 512u
#define PREFETCH_OFF_MAX (1ULL << 47)	/* no blob is larger */
#define PREFETCH_PAGE 4096u

struct prefetch_range {
	uint64_t off, len;	/* whole pages */
	uint32_t blob;		/* index into the list's names */
	uint32_t ms;		/* first read, ms after the daemon started */
};

struct prefetch_list {
	unsigned int nblobs;
	char names[PREFETCH_BLOBS_MAX][PREFETCH_NAME_MAX + 1];
	size_t nranges;
	struct prefetch_range *ranges;	/* first touch first */
};

/*
 * Parses @len bytes at @text into @l (freed with prefetch_list_free()).
 * Returns 0, or -EINVAL with @why naming the line and what is wrong, or
 * -ENOMEM.
 */
int prefetch_parse(struct prefetch_list *l, const char *text, size_t len,
		   char *why, size_t why_size);

/*
 * The index of blob @name in @l, added if new. Returns it, or -ENOSPC with
 * PREFETCH_BLOBS_MAX names already, -EINVAL for a name the rules refuse.
 */
int prefetch_blob_index(struct prefetch_list *l, const char *name);

/* Writes @l in the text form; *out is the caller's to free(). 0 or -ENOMEM. */
int prefetch_format(const struct prefetch_list *l, const char *comment,
		    char **out, size_t *len);

void prefetch_list_free(struct prefetch_list *l);

#endif
