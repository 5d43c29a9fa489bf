// SPDX-License-Identifier: MIT
/*
 * The pack tool's chunking rule: deterministic, whole pages but for a
 * blob's last chunk, CHUNKER_MIN_PAGES..CHUNKER_MAX_PAGES pages, and
 * content-defined (a page inserted early moves only the cuts near it).
 */
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "../../images/pack/chunker.h"

#define NPAGES 2000
#define CUTS_MAX (NPAGES + 1)

/* xorshift64: the same pseudo-random pages on every run and machine. */
static void fill(unsigned char *p, size_t len, uint64_t seed)
{
	uint64_t x = seed | 1;
	size_t i;

	for (i = 0; i < len; i++) {
		x ^= x << 13;
		x ^= x >> 7;
		x ^= x << 17;
		p[i] = (unsigned char)x;
	}
}

/* Cuts @len bytes at @data as lazyroot-pack reads a blob; the chunk lengths into @out. */
static size_t cut_all(const unsigned char *data, size_t len, size_t *out)
{
	size_t n = 0, off = 0;

	while (off < len) {
		size_t have = len - off < CHUNKER_MAX ? len - off : CHUNKER_MAX;
		size_t c = chunker_cut(data + off, have);

		if (!c || c > have)
			return 0;	/* a broken rule; callers check n */
		out[n++] = c;
		off += c;
	}
	return n;
}

static unsigned char *random_blob(size_t len, uint64_t seed)
{
	unsigned char *p = malloc(len);

	if (p)
		fill(p, len, seed);
	return p;
}

static void test_deterministic(void)
{
	size_t len = NPAGES * PAGE_SIZE_4K, a[CUTS_MAX], b[CUTS_MAX], n, m;
	unsigned char *p = random_blob(len, 1), *q = random_blob(len, 1);

	CHECK(p && q);
	if (!p || !q)
		goto out;
	n = cut_all(p, len, a);
	m = cut_all(q, len, b);
	CHECK(n > 0 && n == m);
	CHECK(!memcmp(a, b, n * sizeof(a[0])));
out:
	free(p);
	free(q);
}

/* Whole pages but the last, and within the bounds. */
static void test_pages_and_bounds(void)
{
	size_t len = NPAGES * PAGE_SIZE_4K + 1234, cuts[CUTS_MAX], n, i;
	size_t total = 0, min_seen = SIZE_MAX, max_seen = 0;
	unsigned char *p = random_blob(len, 2);

	CHECK(p != NULL);
	if (!p)
		return;
	n = cut_all(p, len, cuts);
	CHECK(n > 1);
	for (i = 0; i < n; i++) {
		total += cuts[i];
		if (i + 1 == n)
			break;
		CHECK(page_aligned(cuts[i]));
		CHECK(cuts[i] >= CHUNKER_MIN_PAGES * PAGE_SIZE_4K);
		CHECK(cuts[i] <= CHUNKER_MAX);
		if (cuts[i] < min_seen)
			min_seen = cuts[i];
		if (cuts[i] > max_seen)
			max_seen = cuts[i];
	}
	CHECK(total == len);
	CHECK(cuts[n - 1] % PAGE_SIZE_4K == 1234);
	/* Random pages cut on average every 16 after the minimum. */
	CHECK(min_seen == CHUNKER_MIN_PAGES * PAGE_SIZE_4K);
	CHECK(max_seen > min_seen);
	CHECK(n > NPAGES / 32 && n < NPAGES / 8);
	free(p);
}

/* A page that never cuts (found by the rule itself): chunks of the maximum. */
static void test_maximum_cut(void)
{
	unsigned char page[PAGE_SIZE_4K], *p;
	size_t len = 3 * CHUNKER_MAX + 5 * PAGE_SIZE_4K, cuts[16], n, i;
	uint64_t seed;

	for (seed = 1; seed < 1000; seed++) {
		fill(page, sizeof(page), seed);
		if ((chunker_page_hash(page) & 15) != 15)
			break;
	}
	p = malloc(len);
	CHECK(p != NULL);
	if (!p)
		return;
	for (i = 0; i < len / PAGE_SIZE_4K; i++)
		memcpy(p + i * PAGE_SIZE_4K, page, PAGE_SIZE_4K);
	n = cut_all(p, len, cuts);
	CHECK(n == 4);
	for (i = 0; i + 1 < n && i < 3; i++)
		CHECK(cuts[i] == CHUNKER_MAX);
	CHECK(n == 4 && cuts[3] == 5 * PAGE_SIZE_4K);
	free(p);
}

/* A page that always cuts: every chunk has the minimum. */
static void test_minimum_cut(void)
{
	unsigned char page[PAGE_SIZE_4K], p[10 * PAGE_SIZE_4K];
	size_t cuts[16], n, i;
	uint64_t seed;

	for (seed = 1; seed < 1000; seed++) {
		fill(page, sizeof(page), seed);
		if ((chunker_page_hash(page) & 15) == 15)
			break;
	}
	CHECK((chunker_page_hash(page) & 15) == 15);
	for (i = 0; i < 10; i++)
		memcpy(p + i * PAGE_SIZE_4K, page, PAGE_SIZE_4K);
	n = cut_all(p, sizeof(p), cuts);
	CHECK(n == 3);
	CHECK(cuts[0] == 4 * PAGE_SIZE_4K && cuts[1] == 4 * PAGE_SIZE_4K);
	CHECK(n == 3 && cuts[2] == 2 * PAGE_SIZE_4K);
}

static void test_short_blob_is_one_chunk(void)
{
	unsigned char p[100];

	fill(p, sizeof(p), 3);
	CHECK(chunker_cut(p, sizeof(p)) == sizeof(p));
	CHECK(chunker_cut(p, 1) == 1);
}

/* Whether a chunk of @cuts (@n of them) ends at byte @end. */
static int ends_at(const size_t *cuts, size_t n, size_t end)
{
	size_t i, off = 0;

	for (i = 0; i < n && off < end; i++)
		off += cuts[i];
	return off == end;
}

/* One page inserted at the start: the cuts after the first few stay. */
static void test_insert_moves_only_nearby_cuts(void)
{
	size_t len = NPAGES * PAGE_SIZE_4K, a[CUTS_MAX], b[CUTS_MAX], n, m;
	size_t i, off = 0, kept = 0;
	unsigned char *p = random_blob(len + PAGE_SIZE_4K, 4);

	CHECK(p != NULL);
	if (!p)
		return;
	/* p + 4096: the blob; p: one more page, then the same blob */
	n = cut_all(p + PAGE_SIZE_4K, len, a);
	m = cut_all(p, len + PAGE_SIZE_4K, b);
	CHECK(n > 1 && m > 1);
	for (i = 0; i < n; i++) {
		off += a[i];
		kept += ends_at(b, m, off + PAGE_SIZE_4K);
	}
	CHECK(kept + 2 >= n);
	free(p);
}

int main(void)
{
	test_deterministic();
	test_pages_and_bounds();
	test_maximum_cut();
	test_minimum_cut();
	test_short_blob_is_one_chunk();
	test_insert_moves_only_nearby_cuts();
	return check_report("test_chunker");
}
