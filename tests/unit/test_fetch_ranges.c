// SPDX-License-Identifier: MIT
/*
 * daemon/fetch_ranges.c: the Range header of what parts lack, and the
 * answers of real servers (nginx, lighttpd, Apache: byteranges_answers.h)
 * and broken ones put into the parts, in pieces of every size.
 */
#include <errno.h>
#include <stdlib.h>

#include "byteranges_answers.h"
#include "check.h"
#include "fetch_ranges.h"

#define NP 8

static unsigned char bufs[NP][1024];
static unsigned int completed[NP];

static void on_complete(void *ctx, unsigned int i)
{
	(void)ctx;
	completed[i]++;
}

/* Parts for "bytes=A-B,C-D,..." in file order; returns how many. */
static unsigned int parts_for(const char *range, struct fetch_part *p)
{
	unsigned int n = 0, i, j;
	const char *s = range + 6;

	while (*s && n < NP) {
		char *end;
		unsigned long long a = strtoull(s, &end, 10), b;

		b = strtoull(end + 1, &end, 10);
		p[n++] = (struct fetch_part){ .off = a, .len = b - a + 1,
					      .buf = NULL };
		s = *end ? end + 1 : end;
	}
	for (i = 0; i < n; i++)
		for (j = i + 1; j < n; j++)
			if (p[j].off < p[i].off) {
				struct fetch_part t = p[i];

				p[i] = p[j];
				p[j] = t;
			}
	for (i = 0; i < n; i++) {
		p[i].buf = bufs[i];
		memset(bufs[i], 0xee, sizeof(bufs[i]));
	}
	memset(completed, 0, sizeof(completed));
	return n;
}

static int overlapping(const struct fetch_part *p, unsigned int n)
{
	unsigned int i;

	for (i = 1; i < n; i++)
		if (p[i].off < p[i - 1].off + p[i - 1].len)
			return 1;
	return 0;
}

/* Feeds @body in pieces of @step bytes; returns the first error. */
static int feed(struct ranges_answer *a, const unsigned char *body, size_t len,
		size_t step)
{
	size_t i;
	int ret;

	for (i = 0; i < len; i += step) {
		ret = ranges_body(a, body + i, len - i < step ? len - i : step);
		if (ret)
			return ret;
	}
	return ranges_end(a);
}

static int parts_right(const struct fetch_part *p, unsigned int n)
{
	unsigned int i;

	for (i = 0; i < n; i++)
		if (p[i].got != p[i].len || completed[i] != 1 ||
		    memcmp(p[i].buf, answer_file + p[i].off, p[i].len))
			return 0;
	return 1;
}

/* Every real answer to ranges that do not overlap fills every part. */
static void test_real_answers(void)
{
	size_t k, steps[] = { 1, 7, 100, 100000 }, s;
	char cr[64];

	for (k = 0; k < sizeof(answers) / sizeof(answers[0]); k++) {
		const struct answer *w = &answers[k];
		struct fetch_part p[NP];
		unsigned int n = parts_for(w->range, p);

		if (overlapping(p, n))
			continue;
		for (s = 0; s < sizeof(steps) / sizeof(steps[0]); s++) {
			struct ranges_answer a;
			int multi = !strncmp(w->content_type, "multipart/", 10);

			n = parts_for(w->range, p);
			/* lighttpd merges close ranges into one part */
			snprintf(cr, sizeof(cr), "bytes %llu-%llu/%zu",
				 (unsigned long long)p[0].off,
				 (unsigned long long)(p[n - 1].off + p[n - 1].len - 1),
				 sizeof(answer_file));
			CHECK(ranges_begin(&a, p, n, n, sizeof(answer_file), 206,
					   w->content_type, multi ? NULL : cr,
					   multi ? -1 : (int64_t)w->len,
					   on_complete, NULL) == 0);
			CHECK(feed(&a, w->body, w->len, steps[s]) == 0);
			if (!parts_right(p, n))
				fprintf(stderr, "%s %s in pieces of %zu\n",
					w->server, w->range, steps[s]);
			CHECK(parts_right(p, n));
		}
	}
}

static void test_header(void)
{
	struct fetch_part p[3] = {
		{ .off = 0, .len = 10 }, { .off = 100, .len = 10 },
		{ .off = 500, .len = 4096 },
	};
	char buf[128];

	CHECK(ranges_header(p, 3, FETCH_PARTS_MAX, buf, sizeof(buf)) == 3);
	CHECK_STR(buf, "bytes=0-9,100-109,500-4595");
	p[0].got = 10;
	p[2].got = 96;
	CHECK(ranges_header(p, 3, FETCH_PARTS_MAX, buf, sizeof(buf)) == 2);
	CHECK_STR(buf, "bytes=100-109,596-4595");
	CHECK(ranges_header(p, 3, 1, buf, sizeof(buf)) == 1);
	CHECK_STR(buf, "bytes=100-109");
	CHECK(ranges_header(p, 3, FETCH_PARTS_MAX, buf, 8) == -ENOSPC);
	p[1].got = 10;
	p[2].got = 4096;
	CHECK(ranges_header(p, 3, FETCH_PARTS_MAX, buf, sizeof(buf)) == 0);
}

/* A nginx answer to "bytes=0-9,300-309,500-509" (answers[2]). */
static const struct answer *three(void)
{
	CHECK_STR(answers[2].range, "bytes=0-9,300-309,500-509");
	return &answers[2];
}

static void test_refused(void)
{
	const struct answer *w = three();
	struct fetch_part p[NP];
	struct ranges_answer a;
	unsigned int n = parts_for(w->range, p);
	size_t size = sizeof(answer_file);
	char cr[64];

	/* the whole file: this server does not do several ranges at once */
	CHECK(ranges_begin(&a, p, n, 3, size, 200, "text/plain", NULL, -1,
			   on_complete, NULL) == -EOPNOTSUPP);
	CHECK(strstr(a.why, "3 ranges with the whole file (HTTP 200)") != NULL);
	/* asked one range: a cache that ignored it, worth asking again */
	CHECK(ranges_begin(&a, p, n, 1, size, 200, NULL, NULL, -1,
			   on_complete, NULL) == -EAGAIN);
	CHECK(ranges_begin(&a, p, n, 3, size, 503, NULL, NULL, -1,
			   on_complete, NULL) == -EAGAIN);
	CHECK(ranges_begin(&a, p, n, 3, size, 404, NULL, NULL, -1,
			   on_complete, NULL) == -ENOENT);
	/* one part: not the ranges asked (another request's answer) */
	snprintf(cr, sizeof(cr), "bytes 1-9/%zu", size);
	CHECK(ranges_begin(&a, p, n, 3, size, 206, NULL, cr, -1, on_complete,
			   NULL) == -EAGAIN);
	CHECK(strstr(a.why, "bytes 1-9 in the answer are not the ranges asked") != NULL);
	snprintf(cr, sizeof(cr), "bytes 0-300/%zu", size);
	CHECK(ranges_begin(&a, p, n, 3, size, 206, NULL, cr, -1, on_complete,
			   NULL) == -EAGAIN);
	CHECK(ranges_begin(&a, p, n, 3, size, 206, NULL, NULL, -1,
			   on_complete, NULL) == -EPROTO);
	CHECK(ranges_begin(&a, p, n, 3, size, 206, NULL, "bytes 0-9", -1,
			   on_complete, NULL) == -EPROTO);
	/* the file changed size */
	snprintf(cr, sizeof(cr), "bytes 0-9/%zu", size + 1);
	CHECK(ranges_begin(&a, p, n, 3, size, 206, NULL, cr, -1, on_complete,
			   NULL) == -EPROTO);
	CHECK(strstr(a.why, "blob changed size") != NULL);
	snprintf(cr, sizeof(cr), "bytes 0-9/%zu", size);
	CHECK(ranges_begin(&a, p, n, 3, size, 206, NULL, cr, 11, on_complete,
			   NULL) == -EPROTO);
	/* more body than the part announced: nothing past it is kept */
	CHECK(ranges_begin(&a, p, n, 3, size, 206, NULL, cr, -1, on_complete,
			   NULL) == 0);
	CHECK(ranges_body(&a, answer_file, 11) == -EPROTO);
	CHECK(completed[0] == 0);
	/* a bad boundary: the server may still serve one range at a time */
	CHECK(ranges_begin(&a, p, n, 3, size, 206,
			   "multipart/byteranges; boundary=", NULL, -1,
			   on_complete, NULL) == -EOPNOTSUPP);
}

static void test_broken_bodies(void)
{
	const struct answer *w = three();
	struct fetch_part p[NP];
	struct ranges_answer a;
	unsigned int n = parts_for(w->range, p);
	size_t size = sizeof(answer_file);
	unsigned char body[1024];

	/* cut short in the second part: the first is whole, told once */
	CHECK(ranges_begin(&a, p, n, 3, size, 206, w->content_type, NULL, -1,
			   on_complete, NULL) == 0);
	CHECK(feed(&a, w->body, 200, 13) == -EAGAIN);
	CHECK(completed[0] == 1 && p[0].got == 10);
	CHECK(p[2].got == 0 && completed[2] == 0);
	/* asked again: the header names only what is missing */
	{
		char h[128];

		CHECK(ranges_header(p, n, FETCH_PARTS_MAX, h, sizeof(h)) >= 2);
		CHECK(!strncmp(h, "bytes=30", 8) || !strncmp(h, "bytes=3", 7));
	}

	/* a part that is not one asked: refused as another answer */
	n = parts_for("bytes=0-9,300-309,400-409", p);
	CHECK(ranges_begin(&a, p, n, 3, size, 206, w->content_type, NULL, -1,
			   on_complete, NULL) == 0);
	CHECK(feed(&a, w->body, w->len, 64) == -EAGAIN);
	CHECK(strstr(a.why, "bytes 500-509 in the answer are not the ranges asked") != NULL);
	CHECK(completed[2] == 0);

	/* the server left one range out: the others are whole, no error */
	n = parts_for("bytes=0-9,300-309,500-509,600-609", p);
	CHECK(ranges_begin(&a, p, n, 4, size, 206, w->content_type, NULL, -1,
			   on_complete, NULL) == 0);
	CHECK(feed(&a, w->body, w->len, 5) == 0);
	CHECK(a.placed == 30 && p[3].got == 0 && completed[3] == 0);

	/* garbage in the part headers: the multipart answer is unusable */
	n = parts_for(w->range, p);
	memcpy(body, w->body, w->len);
	body[40] = '\n';
	body[41] = '\n';
	CHECK(ranges_begin(&a, p, n, 3, size, 206, w->content_type, NULL, -1,
			   on_complete, NULL) == 0);
	CHECK(feed(&a, body, w->len, 1000) == -EOPNOTSUPP);
	CHECK(strstr(a.why, "multipart answer: ") == a.why);
}

/* Parts with some bytes in: the answer goes on where they stop. */
static void test_resume(void)
{
	struct fetch_part p[NP];
	struct ranges_answer a;
	unsigned int n = parts_for("bytes=0-9,300-309", p);
	size_t size = sizeof(answer_file);
	char cr[64];

	memcpy(p[0].buf, answer_file, 4);
	p[0].got = 4;
	/* a merged part from where part 0 stops to the end of part 1 */
	snprintf(cr, sizeof(cr), "bytes 4-309/%zu", size);
	CHECK(ranges_begin(&a, p, n, 2, size, 206, "application/octet-stream",
			   cr, 306, on_complete, NULL) == 0);
	CHECK(feed(&a, answer_file + 4, 306, 17) == 0);
	CHECK(p[0].got == 10 && p[1].got == 10 && a.placed == 16);
	CHECK(!memcmp(p[0].buf, answer_file, 10));
	CHECK(!memcmp(p[1].buf, answer_file + 300, 10));
	CHECK(completed[0] == 1 && completed[1] == 1);
	/* from the start of part 0 instead: not where its bytes go on */
	n = parts_for("bytes=0-9,300-309", p);
	p[0].got = 4;
	snprintf(cr, sizeof(cr), "bytes 0-309/%zu", size);
	CHECK(ranges_begin(&a, p, n, 2, size, 206, NULL, cr, -1, on_complete,
			   NULL) == -EAGAIN);
}

int main(void)
{
	test_real_answers();
	test_header();
	test_refused();
	test_broken_bodies();
	test_resume();
	return check_report("test_fetch_ranges");
}
