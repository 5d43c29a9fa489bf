// SPDX-License-Identifier: MIT
/*
 * daemon/fill.c: the planner alone (pieces around held pages), then the
 * fill through serve.c with a source whose jobs the test finishes by hand:
 * pieces, a READ going first, the RAM store ending whole, the room check,
 * a failure.
 */
#include <string.h>
#include <time.h>

#include "check.h"
#include "config.h"
#include "fake_serve.h"
#include "fetch.h"
#include "fill.h"
#include "serve.h"
#include "source.h"

#define P 4096ULL
#define M (1ULL << 20)

/* ---- the planner ---- */

static unsigned char map[4096];	/* 1: page held */

static int held_in_map(void *ctx, uint64_t off)
{
	(void)ctx;
	return map[off / P];
}

static void test_plan(void)
{
	uint64_t cur = 0, off, end, skipped, size = 100 * P;

	/* nothing held: pieces of at most max, the last one short */
	memset(map, 0, sizeof(map));
	CHECK(fill_plan(&cur, size, held_in_map, NULL, 40 * P, &off, &end, &skipped) == 1);
	CHECK(off == 0 && end == 40 * P && cur == 40 * P && skipped == 0);
	CHECK(fill_plan(&cur, size, held_in_map, NULL, 40 * P, &off, &end, &skipped) == 1);
	CHECK(off == 40 * P && end == 80 * P);
	CHECK(fill_plan(&cur, size, held_in_map, NULL, 40 * P, &off, &end, &skipped) == 1);
	CHECK(off == 80 * P && end == 100 * P);
	CHECK(fill_plan(&cur, size, held_in_map, NULL, 40 * P, &off, &end, &skipped) == 0);
	CHECK(cur == size && skipped == 0);

	/* held pages: skipped at the start, trimmed at the end, fetched in between */
	memset(map, 0, sizeof(map));
	memset(map, 1, 10);		/* 0-9 */
	map[20] = 1;			/* one in the middle */
	memset(map + 45, 1, 5);		/* 45-49: the end of the first piece */
	cur = 0;
	CHECK(fill_plan(&cur, size, held_in_map, NULL, 40 * P, &off, &end, &skipped) == 1);
	CHECK(skipped == 10 * P && off == 10 * P && end == 45 * P && cur == 45 * P);
	CHECK(fill_plan(&cur, size, held_in_map, NULL, 40 * P, &off, &end, &skipped) == 1);
	CHECK(skipped == 5 * P && off == 50 * P && end == 90 * P);

	/* all held: nothing to fetch, all of it skipped */
	memset(map, 1, sizeof(map));
	cur = 0;
	CHECK(fill_plan(&cur, size, held_in_map, NULL, 40 * P, &off, &end, &skipped) == 0);
	CHECK(skipped == size && cur == size);

	/* one page missing at the very end */
	map[99] = 0;
	cur = 0;
	CHECK(fill_plan(&cur, size, held_in_map, NULL, 40 * P, &off, &end, &skipped) == 1);
	CHECK(off == 99 * P && end == 100 * P && skipped == 99 * P);
	CHECK(fill_plan(&cur, size, held_in_map, NULL, 40 * P, &off, &end, &skipped) == 0);

	/* a piece is never a lone held page: trimming stops at its first page */
	memset(map, 0, sizeof(map));
	memset(map + 1, 1, 99);
	cur = 0;
	CHECK(fill_plan(&cur, size, held_in_map, NULL, 40 * P, &off, &end, &skipped) == 1);
	CHECK(off == 0 && end == P);
	CHECK(fill_plan(&cur, size, held_in_map, NULL, 40 * P, &off, &end, &skipped) == 0);
	CHECK(skipped == 99 * P);
}

/* ---- through serve.c ---- */

#define SIZE (10 * M + 100)

static const struct fake_blob root[] = { { "root", SIZE }, { NULL, 0 } };

static struct fake_source fk;
static struct fake_fe fe;

static struct config cfg;
static struct fetch_engine *engine;
static struct server *srv;

static void pause_ms(long ms)
{
	struct timespec t = { 0, ms * 1000000 };

	nanosleep(&t, NULL);
}

static struct fill_progress progress(void)
{
	struct fill_progress p;

	fill_progress(server_filler(srv), &p);
	return p;
}

/* NBD's RAM store of @ram bytes; the fill at 16M/s (a job each 250 ms), no quiet time. */
static void setup(uint64_t ram)
{
	fake_source_init(&fk, root, "https://x/root: HTTP 500");
	fake_fe_init(&fe);
	config_init(&cfg);
	CHECK(server_new_source(&srv, &cfg, engine, &fk.src) == 0);
	server_keep_in_ram(srv, ram);
	server_fill(srv, 16 * M, 0);
	CHECK(progress().state == FILL_WAITING);
	serve_open(srv, "root", 4, &fe.o);
	CHECK(fe.blob != NULL);
}

static void teardown(void)
{
	serve_close(srv, fe.blob);
	server_free(srv);
}

static void test_fills_whole(void)
{
	struct fill_progress p;
	unsigned int i;

	setup(64 * M);
	/* the kernel read a page near the end first: that page is held */
	fake_read(srv, &fe, 9 * M + 5 * P, 100, 9 * M + 5 * P);
	CHECK(fk.njobs == 1);
	fake_finish(&fk, 0, 1);
	CHECK(fe.answers == 1 && fe.errors == 0);
	/* the first piece: a whole job, then no credit until time passes */
	server_fill_pump(srv);
	p = progress();
	CHECK(p.state == FILL_FILLING && p.total == SIZE - 100 + P && p.blobs == 1);
	CHECK(fk.njobs == 2 && fk.jobs[1]->off == 0 && fk.jobs[1]->len == FILL_JOB_MAX);
	server_fill_pump(srv);
	CHECK(fk.njobs == 2);
	pause_ms(260);
	server_fill_pump(srv);
	CHECK(fk.njobs == 3 && fk.jobs[2]->off == 4 * M && fk.jobs[2]->len == FILL_JOB_MAX);
	/* FILL_JOBS at once */
	pause_ms(260);
	server_fill_pump(srv);
	CHECK(fk.njobs == 3);
	/* a READ goes first: its own fetch at once, fill or not */
	fake_read(srv, &fe, 8 * M, 100, 8 * M);
	CHECK(fk.njobs == 4 && fk.jobs[3]->off == 8 * M);
	fake_finish(&fk, 3, 1);
	fake_finish(&fk, 1, 1);
	/*
	 * the next piece starts after the page read and runs to the end: the
	 * page held inside it costs less than another request
	 */
	pause_ms(260);
	server_fill_pump(srv);
	CHECK(fk.njobs == 5);
	CHECK(fk.jobs[4]->off == 8 * M + P && fk.jobs[4]->len == SIZE - (8 * M + P));
	fake_finish(&fk, 2, 1);
	CHECK(progress().state == FILL_FILLING);
	fake_finish(&fk, 4, 1);
	p = progress();
	CHECK(p.state == FILL_COMPLETE);
	CHECK(p.held == p.total);
	CHECK(p.requests == 3 && p.fetched == p.total - P);
	CHECK(fe.bad == 0);
	/* every page is in the RAM store: reads need no fetch */
	for (i = 0; i < 10; i++)
		fake_read(srv, &fe, i * M + 3 * P, 4096, i * M + 3 * P);
	CHECK(fk.njobs == 5 && fe.errors == 0);
	teardown();
}

static void test_does_not_fit(void)
{
	setup(8 * M);
	server_fill_pump(srv);
	CHECK(progress().state == FILL_STOPPED && fk.njobs == 0);
	teardown();
}

static void test_failure_stops(void)
{
	setup(64 * M);
	server_fill_pump(srv);
	CHECK(fk.njobs == 1);
	fake_finish(&fk, 0, 0);
	CHECK(progress().state == FILL_STOPPED);
	pause_ms(260);
	server_fill_pump(srv);
	CHECK(fk.njobs == 1);
	teardown();
}

static void test_names(void)
{
	struct fill_progress p;

	fill_progress(NULL, &p);
	CHECK(p.state == FILL_OFF && p.total == 0);
	CHECK_STR(fill_state_name(FILL_OFF), "off");
	CHECK_STR(fill_state_name(FILL_COMPLETE), "complete");
	CHECK_STR(fill_state_name((enum fill_state)99), "?");
}

int main(void)
{
	struct fetch_options fo = {
		.base_url = "https://127.0.0.1:1/img",
		.connections = 4,
		.timeout_s = 1,
	};

	test_plan();
	CHECK(fetch_engine_new(&engine, &fo) == 0);
	test_fills_whole();
	test_does_not_fit();
	test_failure_stops();
	test_names();
	fetch_engine_free(engine);
	return check_report("test_fill");
}
