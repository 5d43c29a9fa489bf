// SPDX-License-Identifier: MIT
/*
 * daemon/prefetch.c through serve.c, with a source whose jobs the test
 * finishes by hand: the order jobs start in, what they cover, READs that
 * join a prefetch job or pass it by, lists that name too much, a failure,
 * and the RAM store that NBD answers from.
 */
#include <string.h>

#include "check.h"
#include "config.h"
#include "fake_serve.h"
#include "fetch.h"
#include "manifest.h"
#include "prefetch.h"
#include "prefetch_list.h"
#include "serve.h"
#include "source.h"

#define P 4096ULL
#define SIZE (64 * P * 1024 + 100)	/* 256 MiB and a bit */

static const struct fake_blob root[] = { { "root", SIZE }, { NULL, 0 } };

static struct fake_source fk;
static struct fake_fe fe;

static struct config cfg;
static struct fetch_engine *engine;
static struct server *srv;

static void list_of(struct prefetch_list *l, const char *text)
{
	char why[160];

	CHECK(prefetch_parse(l, text, strlen(text), why, sizeof(why)) == 0);
}

static int batching;

/* A server; the blob opened before (@early) or after the list came. */
static void setup(const char *list, int early, uint64_t ram)
{
	struct prefetch_list l;

	fake_source_init(&fk, root, "chunk 3 failed verification");
	if (batching)
		fake_source_batches(&fk);
	fake_fe_init(&fe);
	config_init(&cfg);
	CHECK(server_new_source(&srv, &cfg, engine, &fk.src) == 0);
	if (ram)
		server_keep_in_ram(srv, ram);
	if (early)
		serve_open(srv, "root", 4, &fe.o);
	list_of(&l, list);
	server_prefetch_from(srv, &l, "test.prefetch");
	if (!early)
		serve_open(srv, "root", 4, &fe.o);
	CHECK(fe.blob != NULL);
}

static void teardown(void)
{
	serve_close(srv, fe.blob);
	server_free(srv);
}

static void test_order_and_groups(int early)
{
	/* first touch: page 1000, then 0-1 and 3 (one job across the gap), then 500 */
	setup("lazyroot-prefetch 1\n"
	      "root 4096000 8192 1\n"
	      "root 0 8192 2\n"
	      "root 12288 4096 3\n"
	      "root 2048000 4096 4\n", early, 0);
	/* two jobs at once, the first touched first */
	CHECK(fk.njobs == 2);
	CHECK(fk.jobs[0]->off == 1000 * P && fk.jobs[0]->len == 2 * P);
	CHECK(fk.jobs[1]->off == 0 && fk.jobs[1]->len == 4 * P);
	fake_finish(&fk, 0, 1);
	CHECK(fk.njobs == 3 && fk.jobs[2]->off == 500 * P && fk.jobs[2]->len == P);
	fake_finish(&fk, 1, 1);
	fake_finish(&fk, 2, 1);
	CHECK(fk.njobs == 3);
	CHECK(fe.written == 7 * P && fe.bad == 0);
	teardown();
}

static void test_read_joins_or_passes(void)
{
	setup("lazyroot-prefetch 1\nroot 0 1048576 0\nroot 8388608 4096 1\n", 1, 0);
	CHECK(fk.njobs == 2);
	/* inside the job under way: waits for it, no new fetch */
	fake_read(srv, &fe, 5 * P, 100, 5 * P);
	CHECK(fk.njobs == 2 && fe.answers == 0);
	/* elsewhere: its own fetch, at once */
	fake_read(srv, &fe, 3000 * P, 4096, 3000 * P);
	CHECK(fk.njobs == 3 && fk.jobs[2]->off == 3000 * P);
	fake_finish(&fk, 2, 1);
	CHECK(fe.answers == 1);
	fake_finish(&fk, 0, 1);
	CHECK(fe.answers == 2 && fe.errors == 0);
	fake_finish(&fk, 1, 1);
	teardown();
}

static void test_skips_what_was_read(void)
{
	struct prefetch_list l;

	fake_source_init(&fk, root, "chunk 3 failed verification");
	fake_fe_init(&fe);
	CHECK(server_new_source(&srv, &cfg, engine, &fk.src) == 0);
	serve_open(srv, "root", 4, &fe.o);
	/* the kernel read pages 0-3 before the list came */
	fake_read(srv, &fe, 0, 4 * P, 0);
	fake_finish(&fk, 0, 1);
	/* read whole: skipped; read in part: the rest only */
	list_of(&l, "lazyroot-prefetch 1\nroot 0 16384 0\n"
		"root 1048576 16384 1\nroot 2097152 4096 2\n");
	fake_read(srv, &fe, 1048576 + 2 * P, 2 * P, 0);
	fake_finish(&fk, 1, 1);
	fake_read(srv, &fe, 2097152, P, 0);
	fake_finish(&fk, 2, 1);
	CHECK(fk.njobs == 3);
	server_prefetch_from(srv, &l, "test.prefetch");
	CHECK(fk.njobs == 4 && fk.jobs[3]->off == 1048576 && fk.jobs[3]->len == 2 * P);
	fake_finish(&fk, 3, 1);
	CHECK(fk.njobs == 4);
	teardown();
}

static void test_bad_ranges(void)
{
	uint64_t big = 16777216, left = big;
	unsigned int i;

	/* past the blob, across its end, larger than a job, other blobs */
	setup("lazyroot-prefetch 1\n"
	      "root 274877906944 4096 0\n"
	      "root 268431360 16384 1\n"
	      "other 0 4096 2\n"
	      "root 8192 16777216 3\n", 1, 0);
	CHECK(fk.njobs == 2);
	/* across the end: cut at the blob's last page */
	CHECK(fk.jobs[0]->off == 65535 * P && fk.jobs[0]->len == SIZE - 65535 * P);
	/* larger than a job: cut into jobs back to back, one after another */
	for (i = 1; left; i++) {
		uint64_t want = left < PREFETCH_JOB_MAX ? left : PREFETCH_JOB_MAX;

		CHECK(fk.njobs == i + 1);
		CHECK(fk.jobs[i]->off == 2 * P + (big - left) &&
		      fk.jobs[i]->len == want);
		fake_finish(&fk, i - 1, 1);
		left -= want;
	}
	fake_finish(&fk, i - 1, 1);
	CHECK(fk.njobs == i && fe.bad == 0);
	teardown();
}

static void test_bridges_gaps(void)
{
	/*
	 * 384 KiB, an 80 KiB gap, 384 KiB, a 128 KiB gap, 384 KiB: 1152 KiB
	 * listed allows 230 KiB bridged: one job, gaps and all
	 */
	setup("lazyroot-prefetch 1\n"
	      "root 0 393216 0\n"
	      "root 475136 393216 1\n"
	      "root 999424 393216 2\n", 1, 0);
	CHECK(fk.njobs == 1);
	CHECK(fk.jobs[0]->off == 0 && fk.jobs[0]->len == 999424 + 393216);
	fake_finish(&fk, 0, 1);
	teardown();

	/* 64 KiB, 128 KiB gap, 64 KiB: bridging would fetch 100 % more */
	setup("lazyroot-prefetch 1\n"
	      "root 0 65536 0\n"
	      "root 196608 65536 1\n", 1, 0);
	CHECK(fk.njobs == 2);
	CHECK(fk.jobs[0]->off == 0 && fk.jobs[0]->len == 65536);
	CHECK(fk.jobs[1]->off == 196608 && fk.jobs[1]->len == 65536);
	fake_finish(&fk, 0, 1);
	fake_finish(&fk, 1, 1);
	teardown();

	/* the smallest gaps first: 80 KiB bridged, 200 KiB not (budget 230) */
	setup("lazyroot-prefetch 1\n"
	      "root 0 393216 0\n"
	      "root 475136 393216 1\n"
	      "root 1073152 393216 2\n", 1, 0);
	CHECK(fk.njobs == 2);
	CHECK(fk.jobs[0]->off == 0 && fk.jobs[0]->len == 475136 + 393216);
	CHECK(fk.jobs[1]->off == 1073152 && fk.jobs[1]->len == 393216);
	fake_finish(&fk, 0, 1);
	fake_finish(&fk, 1, 1);
	teardown();

	/* bridged ranges never make a job larger than PREFETCH_JOB_MAX */
	setup("lazyroot-prefetch 1\n"
	      "root 0 1048576 0\n"
	      "root 1179648 1048576 1\n", 1, 0);
	CHECK(fk.njobs == 2);
	CHECK(fk.jobs[0]->off == 0 && fk.jobs[0]->len == 1048576);
	CHECK(fk.jobs[1]->off == 1179648 && fk.jobs[1]->len == 1048576);
	fake_finish(&fk, 0, 1);
	fake_finish(&fk, 1, 1);
	teardown();
}

/* A list of @n ranges of @len bytes, @gap apart, touched in order. */
static void spaced_list(char *buf, size_t size, unsigned int n, uint64_t len,
			uint64_t gap)
{
	size_t at = (size_t)snprintf(buf, size, "lazyroot-prefetch 1\n");
	unsigned int i;

	for (i = 0; i < n && at < size; i++)
		at += (size_t)snprintf(buf + at, size - at, "root %llu %llu %u\n",
				       (unsigned long long)(i * (len + gap)),
				       (unsigned long long)len, i);
}

/*
 * A source that asks several ranges at once gets them in batches: up to
 * 32 ranges or PREFETCH_JOB_MAX bytes each, two batches at once, the next
 * when one is done.
 */
static void test_batches(void)
{
	static char list[8192];
	unsigned int i, whole = 1;

	batching = 1;
	spaced_list(list, sizeof(list), 64, P, 32 * P);
	setup(list, 1, 0);
	CHECK(fk.njobs == 64);
	for (i = 0; i < 64; i++) {
		whole &= fk.jobs[i]->len == P &&
			 fk.jobs[i]->off == i * (P + 32 * P);
		CHECK(fk.batch[i] == (i < 32 ? 1u : 2u));
	}
	CHECK(whole);
	teardown();

	/* 40 ranges: a batch of 32, then 8; a third starts when one ends */
	spaced_list(list, sizeof(list), 40, P, 32 * P);
	setup(list, 1, 0);
	CHECK(fk.njobs == 40 && fk.batch[31] == 1 && fk.batch[32] == 2);
	for (i = 0; i < 40; i++)
		fake_finish(&fk, i, 1);
	CHECK(fe.written == 40 * P && fe.bad == 0);
	teardown();

	/* 640 KiB ranges 2 MiB apart: two fit the 1.5 MiB of a batch, not three */
	spaced_list(list, sizeof(list), 5, 160 * P, 512 * P);
	setup(list, 1, 0);
	CHECK(fk.njobs == 4);
	CHECK(fk.batch[0] == 1 && fk.batch[1] == 1 && fk.batch[2] == 2 &&
	      fk.batch[3] == 2);
	/* half a batch done: nothing new; all of it: the next one */
	fake_finish(&fk, 0, 1);
	CHECK(fk.njobs == 4);
	fake_finish(&fk, 1, 1);
	CHECK(fk.njobs == 5 && fk.batch[4] == 3);
	for (i = 2; i < 5; i++)
		fake_finish(&fk, i, 1);
	teardown();
	batching = 0;
}

static void test_failure_stops(void)
{
	setup("lazyroot-prefetch 1\nroot 0 4096 0\nroot 1048576 4096 1\n"
	      "root 2097152 4096 2\n", 1, 0);
	CHECK(fk.njobs == 2);
	fake_finish(&fk, 0, 0);
	/* nothing of the failed job reached the kernel; no new job */
	CHECK(fk.njobs == 2 && fe.written == 0);
	fake_finish(&fk, 1, 1);
	CHECK(fk.njobs == 2 && fe.written == P);
	/* on-demand reads go on as before */
	fake_read(srv, &fe, 0, 100, 0);
	CHECK(fk.njobs == 3);
	fake_finish(&fk, 2, 1);
	CHECK(fe.answers == 1 && fe.errors == 0);
	teardown();
}

static void test_ram_store(void)
{
	const struct serve_stats *st;

	setup("lazyroot-prefetch 1\nroot 40960 8192 0\n", 1, 64 << 20);
	CHECK(fk.njobs == 1);
	fake_finish(&fk, 0, 1);
	/* NBD: the READ is answered from the RAM store, nothing fetched */
	fake_read(srv, &fe, 10 * P, 2 * P, 10 * P);
	st = server_stats(srv);
	CHECK(fk.njobs == 1 && fe.answers == 1 && fe.errors == 0);
	CHECK(st->bytes_from_ram == 2 * P);
	teardown();
}

/* A verified manifest's table as a list: blob 0 by the fsid, the rest by tag. */
static void test_from_manifest(void)
{
	struct manifest_blob blobs[2] = {
		{ .tag = "b0", .size = 8192, .first_ref = 0, .nrefs = 2 },
		{ .size = 3 * 65536, .first_ref = 2, .nrefs = 3 },
	};
	struct manifest_chunk chunks[3] = {
		{ .size = 4096 }, { .size = 65536 }, { .size = 65536 },
	};
	uint32_t refs[5] = { 0, 0, 1, 2, 1 };
	uint64_t ref_off[5] = { 0, 4096, 0, 65536, 131072 };
	/* first touch: blob 1's last chunk, then its first two, then blob 0 */
	uint32_t table[5] = { 4, 2, 3, 0, 1 };
	struct manifest m = {
		.nblobs = 2, .nchunks = 3, .nrefs = 5, .blobs = blobs,
		.chunks = chunks, .refs = refs, .ref_off = ref_off,
		.nprefetch = 5, .prefetch = table,
	};
	struct prefetch_list l;

	memset(blobs[1].tag, 'a', 64);
	CHECK(prefetch_list_from_manifest(&l, &m, "rootfs-v") == 0);
	CHECK(l.nblobs == 2);
	CHECK_STR(l.names[0], "rootfs-v");
	CHECK(strlen(l.names[1]) == 64 && l.names[1][0] == 'a');
	/* adjacent refs in the table's order merge into one range */
	CHECK(l.nranges == 3);
	CHECK(l.ranges[0].blob == 1 && l.ranges[0].off == 131072 && l.ranges[0].len == 65536);
	CHECK(l.ranges[1].blob == 1 && l.ranges[1].off == 0 && l.ranges[1].len == 131072);
	CHECK(l.ranges[2].blob == 0 && l.ranges[2].off == 0 && l.ranges[2].len == 8192);
	prefetch_list_free(&l);
	/* no table: an empty list */
	m.nprefetch = 0;
	CHECK(prefetch_list_from_manifest(&l, &m, "rootfs-v") == 0 && !l.nranges);
	prefetch_list_free(&l);
}

int main(void)
{
	struct fetch_options fo = {
		.base_url = "https://127.0.0.1:1/img",
		.connections = 4,
		.timeout_s = 1,
	};

	CHECK(fetch_engine_new(&engine, &fo) == 0);
	test_order_and_groups(1);
	test_order_and_groups(0);
	test_read_joins_or_passes();
	test_skips_what_was_read();
	test_bad_ranges();
	test_bridges_gaps();
	test_batches();
	test_failure_stops();
	test_ram_store();
	test_from_manifest();
	fetch_engine_free(engine);
	return check_report("test_prefetch");
}
