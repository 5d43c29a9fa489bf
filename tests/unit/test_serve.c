// SPDX-License-Identifier: MIT
/*
 * daemon/serve.c between a recording front end and a source whose jobs the
 * test finishes by hand: what the kernel is answered, when, with which
 * bytes, and when an object may be freed.
 */
#include <errno.h>
#include <string.h>

#include "check.h"
#include "config.h"
#include "fake_serve.h"
#include "page.h"
#include "serve.h"

#define SIZE (10 * 4096 + 100)	/* a partial last page */

/* "big": for windows and bounds; its jobs are never finished */
static const struct fake_blob blobs[] = {
	{ "rootfs", SIZE }, { "big", 64ULL << 20 }, { NULL, 0 },
};

static struct fake_source fk;
static struct config cfg;
static struct server *srv;
static struct fake_fe rec;

/* Every byte handed over is the image's, at a page boundary. */
static void check_write(struct fake_fe *fe, uint64_t off, uint64_t len,
			uint64_t bad)
{
	(void)fe, (void)len;
	CHECK(page_aligned(off));
	CHECK(bad == 0);
}

static void rec_init(struct fake_fe *r)
{
	fake_fe_init(r);
	r->on_write = check_write;
}

static void setup(void)
{
	fake_source_init(&fk, blobs, "HTTP 500");
	rec_init(&rec);
	config_init(&cfg);
	CHECK(server_new_source(&srv, &cfg, NULL, &fk.src) == 0);
	serve_open(srv, "rootfs", 6, &rec.o);
}

static void teardown(void)
{
	server_free(srv);
}

/* Asks for [off, off + len) as read @tag. */
static void read(uint64_t tag, uint64_t off, uint64_t len)
{
	fake_read(srv, &rec, off, len, tag);
}

static void test_open(void)
{
	setup();
	CHECK(rec.opened == 1 && rec.blob && rec.size == SIZE);
	CHECK(blob_size(rec.blob) == SIZE);
	CHECK_STR(blob_name(rec.blob), "rootfs");
	teardown();
}

static void test_open_failed(void)
{
	struct fake_fe r;

	rec_init(&r);
	setup();
	serve_open(srv, "missing", 7, &r.o);
	CHECK(r.opened == 1 && !r.blob && r.size == -ENOENT);
	CHECK(server_stats(srv)->errors == 1);
	teardown();
}

/* A name the kernel sends is hostile: never part of a URL unless plain. */
static void test_open_bad_name(void)
{
	struct fake_fe r;

	rec_init(&r);
	setup();
	serve_open(srv, "../etc", 6, &r.o);
	CHECK(r.opened == 1 && !r.blob && r.size == -EINVAL);
	serve_open(srv, "a\0b", 3, &r.o);
	CHECK(r.opened == 2 && r.size == -EINVAL);
	teardown();
}

/* Whole pages are fetched; the read gets exactly its own bytes. */
static void test_read_unaligned(void)
{
	setup();
	read(1, 5000, 100);
	CHECK(fk.njobs == 1 && fk.jobs[0]->off == 4096 && fk.jobs[0]->len == 4096);
	CHECK(rec.answers == 0);
	fake_finish(&fk, 0, 1);
	CHECK(rec.answers == 1 && rec.tag[0] == 1 && rec.err[0] == 0);
	CHECK(rec.data_ok[0]);
	CHECK(rec.writes == 1 && rec.written == 4096);
	teardown();
}

/* The blob's last page is part bytes, part zeros: a read of it succeeds. */
static void test_read_last_page(void)
{
	setup();
	read(1, 10 * 4096, 4096);
	CHECK(fk.njobs == 1 && fk.jobs[0]->len == 100);
	fake_finish(&fk, 0, 1);
	CHECK(rec.answers == 1 && rec.err[0] == 0);
	CHECK(server_stats(srv)->bytes_written == 4096);
	teardown();
}

static void test_read_outside(void)
{
	setup();
	read(1, SIZE, 4096);
	read(2, 0, 0);
	read(3, 0, 1ULL << 40);
	CHECK(fk.njobs == 0 && rec.answers == 3);
	CHECK(rec.err[0] == -EINVAL && rec.err[1] == -EINVAL &&
	      rec.err[2] == -EINVAL);
	teardown();
}

/* A read inside a fetch under way waits for it: one request, two answers. */
static void test_join(void)
{
	setup();
	read(1, 0, 16384);
	read(2, 8192, 4096);
	CHECK(fk.njobs == 1);
	fake_finish(&fk, 0, 1);
	CHECK(rec.answers == 2 && rec.err[0] == 0 && rec.err[1] == 0);
	CHECK(rec.data_ok[0] && rec.data_ok[1]);
	teardown();
}

/* A failed fetch answers every read waiting for it, with an error. */
static void test_failure(void)
{
	setup();
	read(1, 0, 16384);
	read(2, 4096, 4096);
	fake_finish(&fk, 0, 0);
	CHECK(rec.answers == 2 && rec.err[0] == -EIO && rec.err[1] == -EIO);
	CHECK(rec.writes == 0);
	CHECK(server_stats(srv)->errors == 1);
	teardown();
}

/* Only what the source vouched for answers a read (verified: chunks). */
static void test_partly_checked(void)
{
	struct job *j;

	setup();
	read(1, 0, 4 * 4096);
	read(2, 3 * 4096, 4096);
	j = fk.jobs[0];
	fake_bytes(j->buf, 0, 2 * 4096);
	job_checked(j, 0, 2 * 4096);
	job_done(j, -EIO, "chunk 1 failed verification");
	CHECK(rec.answers == 2 && rec.err[0] == -EIO && rec.err[1] == -EIO);
	/* what passed was still handed over */
	CHECK(rec.writes == 1 && rec.written == 2 * 4096);
	teardown();

	setup();
	read(1, 0, 4 * 4096);
	read(2, 0, 4096);
	j = fk.jobs[0];
	fake_bytes(j->buf, 0, 4096);
	job_checked(j, 0, 4096);
	job_done(j, -EIO, "chunk 1 failed verification");
	CHECK(rec.answers == 2 && rec.err[0] == -EIO && rec.err[1] == 0);
	CHECK(rec.data_ok[1]);
	teardown();
}

/* Reads that go on where the last fetch ended fetch ever larger windows. */
static void test_sequential(void)
{
	setup();
	read(1, 0, 4096);
	fake_finish(&fk, 0, 1);
	read(2, 4096, 4096);
	CHECK(fk.njobs == 2 && fk.jobs[1]->off == 4096 && fk.jobs[1]->len == 2 * 4096);
	fake_finish(&fk, 1, 1);
	read(3, 3 * 4096, 4096);
	CHECK(fk.njobs == 3 && fk.jobs[2]->len == 4 * 4096);
	fake_finish(&fk, 2, 1);
	/* elsewhere: back to what was asked */
	read(4, 0, 4096);
	CHECK(fk.njobs == 4 && fk.jobs[3]->len == 4096);
	fake_finish(&fk, 3, 1);
	CHECK(rec.answers == 4);
	teardown();
}

/*
 * Bytes nobody asked for are fetched only while fewer than 4 MiB of fetch
 * buffers are in use: past that a sequential reader gets what it asks for,
 * and no read-ahead starts.
 */
static void test_speculative_bound(void)
{
	uint64_t off = 0, total = 0;
	unsigned int i;

	setup();
	serve_close(srv, rec.blob);
	serve_open(srv, "big", 3, &rec.o);
	CHECK(rec.size == 64LL << 20);
	for (i = 1; i <= 9; i++) {
		read(i, off, 65536);
		off = fk.jobs[fk.njobs - 1]->off + fk.jobs[fk.njobs - 1]->len;
	}
	/* 64K, 128K, ... 2M: the window grows while it fits */
	CHECK(fk.njobs == 9 && fk.jobs[5]->len == 2 << 20);
	/* then only what was asked, at most up to the bound */
	CHECK(fk.jobs[6]->len == 65536 && fk.jobs[7]->len == 65536 &&
	      fk.jobs[8]->len == 65536);
	for (i = 0; i < fk.njobs; i++)
		total += fk.jobs[i]->len;
	CHECK(total <= (4 << 20) + 3 * 65536);
	teardown();
}

/* The object outlives a CLOSE while a fetch still writes through it. */
static void test_close_while_fetching(void)
{
	setup();
	read(1, 0, 4096);
	serve_close(srv, rec.blob);
	CHECK(rec.released == 0);
	fake_finish(&fk, 0, 1);
	CHECK(rec.released == 1);
	/* nothing is written or answered on a closed object */
	CHECK(rec.writes == 0 && rec.answers == 0);
	CHECK(server_stats(srv)->closes == 1);
	teardown();
}

static void test_close_idle(void)
{
	setup();
	serve_close(srv, rec.blob);
	CHECK(rec.released == 1);
	teardown();
}

/* At exit, fetches under way and closed objects are freed (ASan checks). */
static void test_free_busy(void)
{
	setup();
	read(1, 0, 4096);
	read(2, 8192, 4096);
	serve_close(srv, rec.blob);
	teardown();
	CHECK(rec.released == 1);
}

/*
 * With a RAM cache (NBD), a page read again after the kernel dropped it is
 * answered from RAM, not fetched; a full cache keeps what it holds and the
 * rest is fetched again.
 */
static void test_ram_cache(void)
{
	setup();
	server_free(srv);
	CHECK(server_new_source(&srv, &cfg, NULL, &fk.src) == 0);
	server_keep_in_ram(srv, 2 * 4096);
	serve_open(srv, "rootfs", 6, &rec.o);
	read(1, 0, 2 * 4096);
	fake_finish(&fk, 0, 1);
	read(2, 4096, 100);
	CHECK(fk.njobs == 1 && rec.answers == 2 && rec.err[1] == 0 && rec.data_ok[1]);
	CHECK(server_stats(srv)->bytes_from_ram == 4096);
	/* full: a third page is fetched, handed over, not kept */
	read(3, 5 * 4096, 4096);
	CHECK(fk.njobs == 2);
	fake_finish(&fk, 1, 1);
	read(4, 5 * 4096, 4096);
	CHECK(fk.njobs == 3);
	fake_finish(&fk, 2, 1);
	CHECK(rec.answers == 4 && rec.err[2] == 0 && rec.err[3] == 0 && rec.data_ok[3]);
	/* what it holds still answers */
	read(5, 0, 4096);
	CHECK(fk.njobs == 3 && rec.answers == 5 && rec.data_ok[4]);
	CHECK(server_stats(srv)->bytes_from_disk == 0);
	teardown();
}

/*
 * A read that begins in a fetch under way and goes past it waits for that
 * fetch and fetches only the rest, as the sequential window's next step;
 * it is answered once, when both are in, with the image's bytes.
 */
static void test_straddle(void)
{
	setup();
	read(1, 0, 2 * 4096);
	read(2, 4096, 2 * 4096);
	CHECK(fk.njobs == 2 && fk.jobs[1]->off == 2 * 4096 && fk.jobs[1]->len == 2 * 4096);
	fake_finish(&fk, 1, 1);
	CHECK(rec.answers == 0);
	fake_finish(&fk, 0, 1);
	CHECK(rec.answers == 2 && rec.err[0] == 0 && rec.err[1] == 0);
	CHECK(rec.data_ok[0] && rec.data_ok[1]);
	/* the window goes on from there */
	read(3, 4 * 4096, 4096);
	CHECK(fk.njobs == 3 && fk.jobs[2]->off == 4 * 4096 && fk.jobs[2]->len == 4 * 4096);
	fake_finish(&fk, 2, 1);
	teardown();

	/* wholly within two fetches under way: nothing more is fetched */
	setup();
	read(1, 0, 4096);
	read(2, 4096, 4096);
	CHECK(fk.njobs == 2);
	read(3, 100, 2 * 4096);
	CHECK(fk.njobs == 2 && rec.answers == 0);
	fake_finish(&fk, 0, 1);
	fake_finish(&fk, 1, 1);
	CHECK(rec.answers == 3 && rec.tag[2] == 3 && rec.err[2] == 0 && rec.data_ok[2]);
	teardown();

	/* one part failed: the read fails, once */
	setup();
	read(1, 0, 4096);
	read(2, 0, 2 * 4096);
	CHECK(fk.njobs == 2);
	fake_finish(&fk, 0, 0);
	fake_finish(&fk, 1, 1);
	CHECK(rec.answers == 2 && rec.tag[1] == 2 && rec.err[1] == -EIO);
	teardown();

	/* closed, or the daemon ends, while parts are out: nobody is answered (ASan: nothing leaks) */
	setup();
	read(1, 0, 4096);
	read(2, 0, 2 * 4096);
	serve_close(srv, rec.blob);
	fake_finish(&fk, 1, 1);
	fake_finish(&fk, 0, 1);
	CHECK(rec.answers == 0 && rec.released == 1);
	teardown();
	setup();
	read(1, 0, 4096);
	read(2, 0, 2 * 4096);
	fake_finish(&fk, 1, 1);
	teardown();
	CHECK(rec.answers == 0);
}

/*
 * Fetch buffers are bounded: a read past the limit waits its turn, in
 * order, and others may join it meanwhile; read-ahead past it is skipped.
 */
static void test_inflight_bound(void)
{
	setup();
	server_limit_inflight(srv, 2 * 4096);
	read(1, 0, 4096);
	read(2, 4 * 4096, 4096);
	read(3, 8 * 4096, 4096);	/* over the limit: waits */
	read(4, 8 * 4096 + 100, 50);	/* joins the waiting one */
	read(5, 6 * 4096, 4096);	/* waits behind it */
	CHECK(fk.njobs == 2 && rec.answers == 0);
	fake_finish(&fk, 0, 1);
	/* room for one: the oldest waiting read goes first */
	CHECK(fk.njobs == 3 && fk.jobs[2]->off == 8 * 4096);
	CHECK(rec.answers == 1 && rec.tag[0] == 1 && rec.data_ok[0]);
	fake_finish(&fk, 1, 1);
	CHECK(fk.njobs == 4 && fk.jobs[3]->off == 6 * 4096);
	fake_finish(&fk, 2, 1);
	CHECK(rec.answers == 4 && rec.tag[2] == 3 && rec.tag[3] == 4);
	CHECK(rec.data_ok[2] && rec.data_ok[3]);
	fake_finish(&fk, 3, 1);
	CHECK(rec.answers == 5 && rec.tag[4] == 5 && rec.data_ok[4]);
	CHECK(server_stats(srv)->errors == 0);
	teardown();
}

int main(void)
{
	test_open();
	test_open_failed();
	test_inflight_bound();
	test_open_bad_name();
	test_read_unaligned();
	test_read_last_page();
	test_read_outside();
	test_join();
	test_failure();
	test_partly_checked();
	test_sequential();
	test_speculative_bound();
	test_close_while_fetching();
	test_close_idle();
	test_free_busy();
	test_ram_cache();
	test_straddle();
	return check_report("test_serve");
}
