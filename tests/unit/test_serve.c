// SPDX-License-Identifier: MIT
/*
 * daemon/serve.c between a recording front end and a source whose jobs the
 * test finishes by hand: what the kernel is answered, when, with which
 * bytes, and when an object may be freed.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "config.h"
#include "frontend.h"
#include "page.h"
#include "serve.h"
#include "source.h"

#define SIZE (10 * 4096 + 100)	/* a partial last page */
#define JOBS_MAX 16

/* the image, and the zeros after it to the end of its last page */
static unsigned char image[11 * 4096];

/* The source: opens at once, keeps jobs for the test to finish. */
static struct job *jobs[JOBS_MAX];
static unsigned int njobs;

static void fk_open(struct source *src, struct blob *b, const char *store_dir)
{
	(void)src;
	(void)store_dir;
	if (!strcmp(b->name, "missing")) {
		blob_opened(b, -ENOENT, "https://x/missing: HTTP 404");
		return;
	}
	/* "big": for windows and bounds; its jobs are never finished */
	b->size = strcmp(b->name, "big") ? SIZE : 64ULL << 20;
	strcpy(b->url, "https://x/img");
	blob_opened(b, 0, NULL);
}

static void fk_extent(const struct source *src, const struct blob *b,
		      uint64_t *off, uint64_t *end)
{
	(void)src;
	(void)b;
	(void)off;
	(void)end;
}

static int fk_fetch(struct source *src, struct job *j)
{
	(void)src;
	if (njobs == JOBS_MAX)
		return -ENOMEM;
	jobs[njobs++] = j;
	return 0;
}

static void fk_job_free(struct job *j)
{
	(void)j;
}

static void fk_destroy(struct source *src)
{
	(void)src;
}

static const struct source_ops fk_ops = {
	.open = fk_open,
	.extent = fk_extent,
	.fetch = fk_fetch,
	.job_free = fk_job_free,
	.destroy = fk_destroy,
};

static struct source fk_source = { .ops = &fk_ops };

/* Finishes job @i: its bytes from the image, checked, all or none. */
static void finish(unsigned int i, int ok)
{
	struct job *j = jobs[i];

	if (ok) {
		memcpy(j->buf, image + j->off, j->len);
		job_checked(j, j->off, j->len);
	}
	job_done(j, ok ? 0 : -EIO, ok ? "" : "HTTP 500");
}

/* The front end: records every call. */
struct rec {
	struct fe_object fe;
	struct blob *blob;
	int64_t size;
	int opened, released;
	unsigned int writes, answers;
	uint64_t written;
	uint64_t tag[32];
	int err[32];
	int data_ok[32];		/* the data handed over was the image's */
	uint64_t want_off[32], want_len[32];	/* per tag, set by read() */
};

static struct rec *as_rec(struct fe_object *o)
{
	return (struct rec *)o;
}

static void rec_opened(struct fe_object *o, struct blob *b, int64_t size)
{
	as_rec(o)->opened++;
	as_rec(o)->blob = b;
	as_rec(o)->size = size;
}

static int rec_write(struct fe_object *o, const unsigned char *buf,
		     uint64_t off, uint64_t len)
{
	struct rec *r = as_rec(o);

	r->writes++;
	r->written += len;
	CHECK(page_aligned(off));
	CHECK(!memcmp(buf, image + off, len));
	return 0;
}

static void rec_read_done(struct fe_object *o, uint64_t tag,
			  const unsigned char *data, int err)
{
	struct rec *r = as_rec(o);
	unsigned int n = r->answers++;

	r->tag[n] = tag;
	r->err[n] = err;
	r->data_ok[n] = data && !memcmp(data, image + r->want_off[tag],
					r->want_len[tag]);
}

static void rec_release(struct fe_object *o)
{
	as_rec(o)->released++;
}

static const struct frontend_ops rec_ops = {
	.opened = rec_opened,
	.write = rec_write,
	.read_done = rec_read_done,
	.release = rec_release,
};

static struct config cfg;
static struct server *srv;
static struct rec rec;

static void setup(void)
{
	unsigned int i;

	for (i = 0; i < SIZE; i++)
		image[i] = (unsigned char)(i * 7 + i / 4096);
	njobs = 0;
	memset(&rec, 0, sizeof(rec));
	rec.fe.ops = &rec_ops;
	config_init(&cfg);
	CHECK(server_new_source(&srv, &cfg, NULL, &fk_source) == 0);
	serve_open(srv, "rootfs", 6, &rec.fe);
}

static void teardown(void)
{
	server_free(srv);
}

/* Asks for [off, off + len) as read @tag. */
static void read(uint64_t tag, uint64_t off, uint64_t len)
{
	rec.want_off[tag] = off;
	rec.want_len[tag] = len;
	serve_read(srv, rec.blob, off, len, tag);
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
	struct rec r = { .fe.ops = &rec_ops };

	setup();
	serve_open(srv, "missing", 7, &r.fe);
	CHECK(r.opened == 1 && !r.blob && r.size == -ENOENT);
	CHECK(server_stats(srv)->errors == 1);
	teardown();
}

/* A name the kernel sends is hostile: never part of a URL unless plain. */
static void test_open_bad_name(void)
{
	struct rec r = { .fe.ops = &rec_ops };

	setup();
	serve_open(srv, "../etc", 6, &r.fe);
	CHECK(r.opened == 1 && !r.blob && r.size == -EINVAL);
	serve_open(srv, "a\0b", 3, &r.fe);
	CHECK(r.opened == 2 && r.size == -EINVAL);
	teardown();
}

/* Whole pages are fetched; the read gets exactly its own bytes. */
static void test_read_unaligned(void)
{
	setup();
	read(1, 5000, 100);
	CHECK(njobs == 1 && jobs[0]->off == 4096 && jobs[0]->len == 4096);
	CHECK(rec.answers == 0);
	finish(0, 1);
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
	CHECK(njobs == 1 && jobs[0]->len == 100);
	finish(0, 1);
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
	CHECK(njobs == 0 && rec.answers == 3);
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
	CHECK(njobs == 1);
	finish(0, 1);
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
	finish(0, 0);
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
	j = jobs[0];
	memcpy(j->buf, image, 2 * 4096);
	job_checked(j, 0, 2 * 4096);
	job_done(j, -EIO, "chunk 1 failed verification");
	CHECK(rec.answers == 2 && rec.err[0] == -EIO && rec.err[1] == -EIO);
	/* what passed was still handed over */
	CHECK(rec.writes == 1 && rec.written == 2 * 4096);
	teardown();

	setup();
	read(1, 0, 4 * 4096);
	read(2, 0, 4096);
	j = jobs[0];
	memcpy(j->buf, image, 4096);
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
	finish(0, 1);
	read(2, 4096, 4096);
	CHECK(njobs == 2 && jobs[1]->off == 4096 && jobs[1]->len == 2 * 4096);
	finish(1, 1);
	read(3, 3 * 4096, 4096);
	CHECK(njobs == 3 && jobs[2]->len == 4 * 4096);
	finish(2, 1);
	/* elsewhere: back to what was asked */
	read(4, 0, 4096);
	CHECK(njobs == 4 && jobs[3]->len == 4096);
	finish(3, 1);
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
	serve_open(srv, "big", 3, &rec.fe);
	CHECK(rec.size == 64LL << 20);
	for (i = 1; i <= 9; i++) {
		read(i, off, 65536);
		off = jobs[njobs - 1]->off + jobs[njobs - 1]->len;
	}
	/* 64K, 128K, ... 2M: the window grows while it fits */
	CHECK(njobs == 9 && jobs[5]->len == 2 << 20);
	/* then only what was asked, at most up to the bound */
	CHECK(jobs[6]->len == 65536 && jobs[7]->len == 65536 &&
	      jobs[8]->len == 65536);
	for (i = 0; i < njobs; i++)
		total += jobs[i]->len;
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
	finish(0, 1);
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
	CHECK(server_new_source(&srv, &cfg, NULL, &fk_source) == 0);
	server_keep_in_ram(srv, 2 * 4096);
	serve_open(srv, "rootfs", 6, &rec.fe);
	read(1, 0, 2 * 4096);
	finish(0, 1);
	read(2, 4096, 100);
	CHECK(njobs == 1 && rec.answers == 2 && rec.err[1] == 0 && rec.data_ok[1]);
	CHECK(server_stats(srv)->bytes_from_ram == 4096);
	/* full: a third page is fetched, handed over, not kept */
	read(3, 5 * 4096, 4096);
	CHECK(njobs == 2);
	finish(1, 1);
	read(4, 5 * 4096, 4096);
	CHECK(njobs == 3);
	finish(2, 1);
	CHECK(rec.answers == 4 && rec.err[2] == 0 && rec.err[3] == 0 && rec.data_ok[3]);
	/* what it holds still answers */
	read(5, 0, 4096);
	CHECK(njobs == 3 && rec.answers == 5 && rec.data_ok[4]);
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
	CHECK(njobs == 2 && jobs[1]->off == 2 * 4096 && jobs[1]->len == 2 * 4096);
	finish(1, 1);
	CHECK(rec.answers == 0);
	finish(0, 1);
	CHECK(rec.answers == 2 && rec.err[0] == 0 && rec.err[1] == 0);
	CHECK(rec.data_ok[0] && rec.data_ok[1]);
	/* the window goes on from there */
	read(3, 4 * 4096, 4096);
	CHECK(njobs == 3 && jobs[2]->off == 4 * 4096 && jobs[2]->len == 4 * 4096);
	finish(2, 1);
	teardown();

	/* wholly within two fetches under way: nothing more is fetched */
	setup();
	read(1, 0, 4096);
	read(2, 4096, 4096);
	CHECK(njobs == 2);
	read(3, 100, 2 * 4096);
	CHECK(njobs == 2 && rec.answers == 0);
	finish(0, 1);
	finish(1, 1);
	CHECK(rec.answers == 3 && rec.tag[2] == 3 && rec.err[2] == 0 && rec.data_ok[2]);
	teardown();

	/* one part failed: the read fails, once */
	setup();
	read(1, 0, 4096);
	read(2, 0, 2 * 4096);
	CHECK(njobs == 2);
	finish(0, 0);
	finish(1, 1);
	CHECK(rec.answers == 2 && rec.tag[1] == 2 && rec.err[1] == -EIO);
	teardown();

	/* closed, or the daemon ends, while parts are out: nobody is answered (ASan: nothing leaks) */
	setup();
	read(1, 0, 4096);
	read(2, 0, 2 * 4096);
	serve_close(srv, rec.blob);
	finish(1, 1);
	finish(0, 1);
	CHECK(rec.answers == 0 && rec.released == 1);
	teardown();
	setup();
	read(1, 0, 4096);
	read(2, 0, 2 * 4096);
	finish(1, 1);
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
	CHECK(njobs == 2 && rec.answers == 0);
	finish(0, 1);
	/* room for one: the oldest waiting read goes first */
	CHECK(njobs == 3 && jobs[2]->off == 8 * 4096);
	CHECK(rec.answers == 1 && rec.tag[0] == 1 && rec.data_ok[0]);
	finish(1, 1);
	CHECK(njobs == 4 && jobs[3]->off == 6 * 4096);
	finish(2, 1);
	CHECK(rec.answers == 4 && rec.tag[2] == 3 && rec.tag[3] == 4);
	CHECK(rec.data_ok[2] && rec.data_ok[3]);
	finish(3, 1);
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
