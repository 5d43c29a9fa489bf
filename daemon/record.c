// SPDX-License-Identifier: MIT
/*
 * First touches: each blob keeps the set of pages read so far (sorted,
 * disjoint spans); a READ adds to the list only the pages not in it, and a
 * piece that continues the list's last range extends it.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "log.h"
#include "prefetch_list.h"
#include "record.h"

struct span {
	uint64_t off, end;
};

/* The pages read of one blob. */
struct touched {
	struct span *spans;
	size_t n, cap;
};

struct record {
	struct prefetch_list list;
	size_t cap;
	struct touched blobs[PREFETCH_BLOBS_MAX];
	struct timespec start;
	int full;		/* said so once */
};

int record_new(struct record **out)
{
	struct record *r = calloc(1, sizeof(*r));

	if (!r)
		return -ENOMEM;
	clock_gettime(CLOCK_MONOTONIC, &r->start);
	*out = r;
	return 0;
}

void record_free(struct record *r)
{
	unsigned int i;

	if (!r)
		return;
	for (i = 0; i < PREFETCH_BLOBS_MAX; i++)
		free(r->blobs[i].spans);
	prefetch_list_free(&r->list);
	free(r);
}

static uint32_t ms_since_start(const struct record *r)
{
	struct timespec now;
	long long ms;

	clock_gettime(CLOCK_MONOTONIC, &now);
	ms = (long long)(now.tv_sec - r->start.tv_sec) * 1000 +
	     (now.tv_nsec - r->start.tv_nsec) / 1000000;
	return ms < 0 ? 0 : ms > UINT32_MAX ? UINT32_MAX : (uint32_t)ms;
}

/* The first span of @t that ends after @off. */
static size_t first_after(const struct touched *t, uint64_t off)
{
	size_t lo = 0, hi = t->n;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (t->spans[mid].end <= off)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

static int find_blob(const struct record *r, const char *name)
{
	unsigned int i;

	for (i = 0; i < r->list.nblobs; i++)
		if (!strcmp(r->list.names[i], name))
			return (int)i;
	return -1;
}

int record_covers(const struct record *r, const char *name, uint64_t off,
		  uint64_t end)
{
	int b = find_blob(r, name);
	const struct touched *t;
	size_t i;

	if (b < 0)
		return 0;
	t = &r->blobs[b];
	i = first_after(t, off);
	return i < t->n && t->spans[i].off <= off && t->spans[i].end >= end;
}

/* Adds [off, end) to @t, merging with the spans it touches. */
static int touched_add(struct touched *t, uint64_t off, uint64_t end)
{
	size_t i = off ? first_after(t, off - 1) : 0, j = i;

	/* spans i..j-1 overlap or adjoin [off, end) */
	while (j < t->n && t->spans[j].off <= end)
		j++;
	if (i < j) {
		if (t->spans[i].off < off)
			off = t->spans[i].off;
		if (t->spans[j - 1].end > end)
			end = t->spans[j - 1].end;
		t->spans[i].off = off;
		t->spans[i].end = end;
		memmove(&t->spans[i + 1], &t->spans[j],
			(t->n - j) * sizeof(*t->spans));
		t->n -= j - i - 1;
		return 0;
	}
	if (t->n == t->cap) {
		size_t ncap = t->cap ? 2 * t->cap : 64;
		struct span *s = realloc(t->spans, ncap * sizeof(*s));

		if (!s)
			return -ENOMEM;
		t->spans = s;
		t->cap = ncap;
	}
	memmove(&t->spans[i + 1], &t->spans[i], (t->n - i) * sizeof(*t->spans));
	t->spans[i].off = off;
	t->spans[i].end = end;
	t->n++;
	return 0;
}

/* Appends a first touch of [off, end) of blob @b to the list. */
static int list_add(struct record *r, uint32_t b, uint64_t off, uint64_t end,
		    uint32_t ms)
{
	struct prefetch_list *l = &r->list;
	struct prefetch_range *last = l->nranges ? &l->ranges[l->nranges - 1] : NULL;

	if (last && last->blob == b && last->off + last->len == off) {
		last->len += end - off;
		return 0;
	}
	if (l->nranges == PREFETCH_RANGES_MAX)
		return -ENOSPC;
	if (l->nranges == r->cap) {
		size_t ncap = r->cap ? 2 * r->cap : 256;
		struct prefetch_range *nr = realloc(l->ranges, ncap * sizeof(*nr));

		if (!nr)
			return -ENOMEM;
		l->ranges = nr;
		r->cap = ncap;
	}
	l->ranges[l->nranges++] = (struct prefetch_range){
		.off = off, .len = end - off, .blob = b, .ms = ms,
	};
	return 0;
}

static void stop(struct record *r, const char *why)
{
	if (r->full++)
		return;
	log_info("record: %s after %zu ranges; later reads are not recorded",
		 why, r->list.nranges);
}

void record_touch(struct record *r, const char *name, uint64_t off,
		  uint64_t end)
{
	struct touched *t;
	uint32_t ms;
	size_t i;
	int b;

	if (r->full || off >= end)
		return;
	b = find_blob(r, name);
	if (b < 0) {
		b = prefetch_blob_index(&r->list, name);
		if (b < 0) {
			stop(r, "more than 16 blobs");
			return;
		}
	}
	t = &r->blobs[b];
	ms = ms_since_start(r);
	/* the pieces of [off, end) not read before, in order */
	i = first_after(t, off);
	while (off < end) {
		uint64_t piece_end = end;
		int ret;

		if (i < t->n && t->spans[i].off <= off) {
			off = t->spans[i].end;
			i++;
			continue;
		}
		if (i < t->n && t->spans[i].off < end)
			piece_end = t->spans[i].off;
		ret = list_add(r, (uint32_t)b, off, piece_end, ms);
		if (!ret)
			ret = touched_add(t, off, piece_end);
		if (ret) {
			stop(r, ret == -ENOSPC ? "full" : "out of memory");
			return;
		}
		/* the set changed: find our place again */
		off = piece_end;
		i = first_after(t, off);
	}
}

int record_text(const struct record *r, char **out, size_t *len)
{
	char comment[128];

	snprintf(comment, sizeof(comment),
		 "recorded by lazyrootd %s: %zu ranges, %u ms%s", LAZYROOT_VERSION,
		 r->list.nranges, ms_since_start(r),
		 r->full ? ", stopped early (see the daemon's log)" : "");
	return prefetch_format(&r->list, comment, out, len);
}
