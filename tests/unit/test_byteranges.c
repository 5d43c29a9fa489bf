// SPDX-License-Identifier: MIT
/*
 * lib/format/byteranges.c: the Range header, the boundary, and answers of
 * real servers (byteranges_answers.h, made by capture-byteranges) and
 * hostile ones, fed whole, one byte at a time and split at random.
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "byteranges.h"
#include "check.h"
#include "byteranges_answers.h"

#define MAX_GOT 8

/* What the callbacks saw, checked against the bytes of @file. */
struct got {
	const uint8_t *file;
	size_t file_len;
	struct byteranges_part parts[MAX_GOT];
	size_t nparts;
	uint64_t next;		/* the offset the next data must have */
	size_t bad;		/* data out of order, out of the part or wrong */
	int refuse_part;	/* a callback's error, for the tests of it */
};

static int on_part(void *ctx, const struct byteranges_part *part)
{
	struct got *g = ctx;

	if (g->refuse_part && (int)g->nparts + 1 == g->refuse_part)
		return -ERANGE;
	if (g->nparts == MAX_GOT)
		return -ENOSPC;
	if (part->number != g->nparts + 1)
		g->bad++;
	g->parts[g->nparts++] = *part;
	g->next = part->first;
	return 0;
}

static int on_data(void *ctx, const struct byteranges_part *part,
		   uint64_t off, const uint8_t *buf, size_t len)
{
	struct got *g = ctx;

	if (!len || off != g->next || off + len - 1 > part->last ||
	    off + len > g->file_len || memcmp(buf, g->file + off, len))
		g->bad++;
	g->next = off + len;
	return 0;
}

static const struct byteranges_ops ops = { on_part, on_data };

enum split { WHOLE, BYTES, RANDOM };

static uint64_t rng = 88172645463325252ULL;

static size_t rnd(size_t n)
{
	/* xorshift64: the same splits every run */
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return (size_t)(rng % n);
}

/*
 * Parses @body split as @how; returns what feed (or finish) returned, the
 * reason in @why.
 */
static int parse(const char *boundary, const void *body, size_t len,
		 enum split how, unsigned int max_parts, struct got *g,
		 char *why)
{
	struct byteranges_parser p;
	const uint8_t *b = body;
	size_t pos = 0;
	int ret = 0;

	g->nparts = 0;
	g->bad = 0;
	if (byteranges_init(&p, boundary, max_parts, &ops, g))
		return -EINVAL;
	while (pos < len && !ret) {
		size_t n = len - pos;

		if (how == BYTES)
			n = 1;
		else if (how == RANDOM)
			n = rnd(n + 1);	/* 0 too: an empty piece is fine */
		ret = byteranges_feed(&p, b + pos, n);
		pos += n;
	}
	if (!ret)
		ret = byteranges_finish(&p);
	/* an error stays */
	if (ret && (byteranges_feed(&p, "x", 1) != ret ||
		    byteranges_finish(&p) != ret))
		ret = -999;
	if (!ret && !byteranges_closed(&p))
		ret = -998;
	snprintf(why, BYTERANGES_WHY_MAX, "%s", byteranges_why(&p));
	return ret;
}

static void test_range_header(void)
{
	struct byterange r[3] = { { 0, 4096 }, { 65536, 4096 }, { 7, 1 } };
	struct byterange top = { UINT64_MAX, 1 }, past = { UINT64_MAX, 2 };
	struct byterange none = { 5, 0 };
	char buf[64];

	CHECK(byteranges_range_header(r, 2, buf, sizeof(buf)) == 0);
	CHECK_STR(buf, "bytes=0-4095,65536-69631");
	CHECK(byteranges_range_header(r, 3, buf, sizeof(buf)) == 0);
	CHECK_STR(buf, "bytes=0-4095,65536-69631,7-7");
	CHECK(byteranges_range_header(r, 1, buf, sizeof(buf)) == 0);
	CHECK_STR(buf, "bytes=0-4095");
	/* exactly fits: 12 characters and the NUL */
	CHECK(byteranges_range_header(r, 1, buf, 13) == 0);
	CHECK_STR(buf, "bytes=0-4095");
	CHECK(byteranges_range_header(r, 1, buf, 12) == -ENOSPC);
	CHECK_STR(buf, "");
	CHECK(byteranges_range_header(r, 3, buf, 25) == -ENOSPC);
	CHECK_STR(buf, "");
	CHECK(byteranges_range_header(r, 1, buf, 0) == -ENOSPC);
	CHECK(byteranges_range_header(r, 0, buf, sizeof(buf)) == -EINVAL);
	CHECK(byteranges_range_header(&none, 1, buf, sizeof(buf)) == -EINVAL);
	CHECK(byteranges_range_header(&past, 1, buf, sizeof(buf)) == -EINVAL);
	CHECK(byteranges_range_header(&top, 1, buf, sizeof(buf)) == 0);
	CHECK_STR(buf, "bytes=18446744073709551615-18446744073709551615");
}

static int boundary_is(const char *ct, const char *want)
{
	char b[BYTERANGES_BOUNDARY_MAX + 1], why[160] = "";

	if (byteranges_boundary(ct, b, why, sizeof(why)) || strcmp(b, want)) {
		fprintf(stderr, "for %s: '%s'\n", ct, why);
		return 0;
	}
	return 1;
}

static int boundary_refused(const char *ct, const char *why_has)
{
	char b[BYTERANGES_BOUNDARY_MAX + 1], why[160] = "";

	if (byteranges_boundary(ct, b, why, sizeof(why)) != -EPROTO ||
	    !strstr(why, why_has) || strchr(why, '\n') || strchr(why, '\r')) {
		fprintf(stderr, "for %.60s: why '%s'\n", ct, why);
		return 0;
	}
	return 1;
}

static void test_boundary(void)
{
	char ct[200], b71[72];

	CHECK(boundary_is("multipart/byteranges; boundary=00000000000000000001",
			  "00000000000000000001"));
	CHECK(boundary_is("multipart/byteranges; boundary=fkj49sn38dcn3",
			  "fkj49sn38dcn3"));
	CHECK(boundary_is("Multipart/ByteRanges;BOUNDARY=a.b_c+d-'e'",
			  "a.b_c+d-'e'"));
	CHECK(boundary_is("multipart/byteranges; boundary=\"a b:c/d=e?(f),g\"",
			  "a b:c/d=e?(f),g"));
	CHECK(boundary_is("multipart/byteranges; boundary=\"a\\bc\"", "abc"));
	CHECK(boundary_is("  multipart/byteranges ; charset=x ;; boundary=q ; x=\"y;z\"\r\n",
			  "q"));
	CHECK(boundary_is("multipart/byteranges; x=\"boundary=no\"; boundary=yes",
			  "yes"));
	memset(b71, 'b', 71);
	b71[71] = '\0';
	snprintf(ct, sizeof(ct), "multipart/byteranges; boundary=%.70s", b71);
	CHECK(boundary_is(ct, b71 + 1));

	/* lighttpd's answer to 0-9,100-109,50-59: one merged range */
	CHECK(answers[6].status == 206);
	CHECK(boundary_refused(answers[6].content_type,
			       "Content-Type 'application/octet-stream' is not multipart/byteranges"));
	CHECK(boundary_refused("", "is not multipart/byteranges"));
	CHECK(boundary_refused("multipart/mixed; boundary=a", "not multipart/byteranges"));
	CHECK(boundary_refused("multipart/byteranges2; boundary=a", "not multipart/byteranges"));
	CHECK(boundary_refused("multipart/byteranges", "no boundary parameter"));
	CHECK(boundary_refused("multipart/byteranges;", "no boundary parameter"));
	CHECK(boundary_refused("multipart/byteranges; charset=utf-8", "no boundary parameter"));
	CHECK(boundary_refused("multipart/byteranges; boundaryx=a", "no boundary parameter"));
	CHECK(boundary_refused("multipart/byteranges; boundary=", "without a value"));
	CHECK(boundary_refused("multipart/byteranges; boundary=\"\"", "the boundary is empty"));
	snprintf(ct, sizeof(ct), "multipart/byteranges; boundary=%s", b71);
	CHECK(boundary_refused(ct, "longer than 70 characters"));
	snprintf(ct, sizeof(ct), "multipart/byteranges; boundary=\"%s\"", b71);
	CHECK(boundary_refused(ct, "longer than 70 characters"));
	CHECK(boundary_refused("multipart/byteranges; boundary=a!b", "does not allow"));
	CHECK(boundary_refused("multipart/byteranges; boundary=\"a@b\"", "does not allow"));
	CHECK(boundary_refused("multipart/byteranges; boundary=\"ab \"", "does not allow"));
	CHECK(boundary_refused("multipart/byteranges; boundary=\"a\\\"b\"", "does not allow"));
	CHECK(boundary_refused("multipart/byteranges; boundary=\"a\tb\"", "does not allow"));
	CHECK(boundary_refused("multipart/byteranges; boundary=\"a\rb\"", "control byte"));
	CHECK(boundary_refused("multipart/byteranges; boundary=\"ab", "closing quote"));
	CHECK(boundary_refused("multipart/byteranges; boundary=\"ab\\", "closing quote"));
	CHECK(boundary_refused("multipart/byteranges; boundary=a; boundary=a", "two boundary"));
	CHECK(boundary_refused("multipart/byteranges; boundary = a", "not NAME=VALUE"));
	CHECK(boundary_refused("multipart/byteranges boundary=a", "after the type"));
	CHECK(boundary_refused("multipart/byteranges; boundary=a b", "after the type"));
	CHECK(boundary_refused("multipart/byteranges; boundary=a\r\nX: y", "after the type"));
	/* what is quoted stays one printable line */
	CHECK(boundary_refused("text/\x01\n\x7f\xff", "Content-Type 'text/?\?\?\?' is not"));
}

/* The parts each answer of byteranges_answers.h has, in its order. */
static const struct {
	size_t n;
	uint64_t first[3], last[3];
} expect[] = {
	{ 2, { 250, 0 }, { 340, 9 } },			/* nginx */
	{ 3, { 0, 100, 50 }, { 9, 109, 59 } },
	{ 3, { 0, 300, 500 }, { 9, 309, 509 } },
	{ 2, { 500, 0 }, { 509, 9 } },
	{ 3, { 0, 5, 400 }, { 9, 19, 409 } },
	{ 2, { 250, 0 }, { 340, 9 } },			/* lighttpd */
	{ 0, { 0 }, { 0 } },				/* not multipart */
	{ 3, { 0, 300, 500 }, { 9, 309, 509 } },
	{ 2, { 500, 0 }, { 509, 9 } },
	{ 2, { 0, 400 }, { 19, 409 } },			/* merged */
	{ 2, { 250, 0 }, { 340, 9 } },			/* Apache */
	{ 3, { 0, 100, 50 }, { 9, 109, 59 } },
	{ 3, { 0, 300, 500 }, { 9, 309, 509 } },
	{ 2, { 500, 0 }, { 509, 9 } },
	{ 2, { 0, 400 }, { 19, 409 } },			/* merged */
};

static int answer_ok(size_t i, enum split how)
{
	const struct answer *a = &answers[i];
	char b[BYTERANGES_BOUNDARY_MAX + 1], why[160];
	struct got g = { .file = answer_file, .file_len = sizeof(answer_file) };
	size_t k;
	int ret;

	if (byteranges_boundary(a->content_type, b, why, sizeof(why)))
		return 0;
	ret = parse(b, a->body, a->len, how, 16, &g, why);
	if (ret || g.bad || g.nparts != expect[i].n) {
		fprintf(stderr, "%s %s (split %d): ret %d, %zu parts, %zu bad: %s\n",
			a->server, a->range, how, ret, g.nparts, g.bad, why);
		return 0;
	}
	for (k = 0; k < g.nparts; k++) {
		const struct byteranges_part *p = &g.parts[k];

		if (p->first != expect[i].first[k] ||
		    p->last != expect[i].last[k] ||
		    p->size != sizeof(answer_file))
			return 0;
	}
	/* every byte of the last part came */
	return g.next == expect[i].last[g.nparts - 1] + 1;
}

static void test_real_answers(void)
{
	const void *trap;
	size_t i, k;

	CHECK(sizeof(answers) / sizeof(answers[0]) ==
	      sizeof(expect) / sizeof(expect[0]));
	CHECK(sizeof(answer_file) == 596);
	for (i = 0; i < sizeof(answers) / sizeof(answers[0]); i++) {
		if (!expect[i].n)
			continue;
		CHECK(answers[i].status == 206);
		CHECK(answer_ok(i, WHOLE));
		CHECK(answer_ok(i, BYTES));
		for (k = 0; k < 200; k++)
			if (!answer_ok(i, RANDOM))
				break;
		CHECK(k == 200);
	}
	/*
	 * The first part of nginx's and lighttpd's first answers holds their
	 * own delimiter, CRLF first: it is data, counted, not a part.
	 */
	CHECK(memmem(answers[0].body, answers[0].len,
		     "\r\n--00000000000000000001\r\nContent-Range: bytes 0-9/596\r\n\r\n", 58) != NULL);
	trap = memmem(answers[5].body, answers[5].len,
		      "\r\n--fkj49sn38dcn3--\r\n", 21);
	CHECK(trap && trap != answers[5].body + answers[5].len - 21);
}

/* Three ways split, each must give the same verdict and reason. */
static int body_verdict(const char *body, size_t len, unsigned int max_parts,
			int want, const char *why_has, size_t want_parts)
{
	static const enum split how[] = { WHOLE, BYTES, RANDOM, RANDOM, RANDOM };
	char why[160], first[160] = "";
	struct got g = { .file = (const uint8_t *)"0123456789abcdefghij", .file_len = 20 };
	size_t i;

	for (i = 0; i < sizeof(how) / sizeof(how[0]); i++) {
		int ret = parse("XyZ", body, len, how[i], max_parts, &g, why);

		if (ret != want || !strstr(why, why_has) || g.bad ||
		    g.nparts != want_parts || (i && strcmp(why, first)) ||
		    strchr(why, '\n')) {
			fprintf(stderr, "for %.50s (split %d): ret %d, %zu parts, why '%s'\n",
				body, how[i], ret, g.nparts, why);
			return 0;
		}
		snprintf(first, sizeof(first), "%s", why);
	}
	return 1;
}

#define ACCEPTED(body, parts) \
	body_verdict(body, sizeof(body) - 1, 16, 0, "", parts)
#define REFUSED(body, why_has, parts) \
	body_verdict(body, sizeof(body) - 1, 16, -EPROTO, why_has, parts)

#define D "\r\n--XyZ\r\n"
#define CR0_9 "Content-Range: bytes 0-9/20\r\n\r\n0123456789"
#define CR10_14 "Content-Range: bytes 10-14/20\r\n\r\nabcde"
#define END "\r\n--XyZ--\r\n"

static void test_good_bodies(void)
{
	CHECK(ACCEPTED(D CR0_9 D CR10_14 END, 2));
	/* no preamble; a preamble; no CRLF after the closing delimiter */
	CHECK(ACCEPTED("--XyZ\r\n" CR0_9 END, 1));
	CHECK(ACCEPTED("a preamble\r\n--XyZ\r\n" CR0_9 END, 1));
	CHECK(ACCEPTED("\r\n\r\n--XyZ\r\n" CR0_9 END, 1));
	CHECK(ACCEPTED(D CR0_9 "\r\n--XyZ--", 1));
	/* the epilogue is ignored, whatever it is */
	CHECK(ACCEPTED(D CR0_9 "\r\n--XyZ--\r\n\x01garbage\r\n--XyZ\r\n", 1));
	/* transport padding */
	CHECK(ACCEPTED("--XyZ \t \r\n" CR0_9 "\r\n--XyZ\t\r\n" CR10_14 END, 2));
	/* header names in any case, other headers ignored, OWS */
	CHECK(ACCEPTED(D "content-type: text/plain\r\nX-Foo:\r\n"
		       "CONTENT-RANGE:bytes 0-9/20  \r\n\r\n0123456789"
		       D "Content-range: \tBYTES  10-14/20\r\n\r\nabcde" END, 2));
	CHECK(ACCEPTED(D "Content-Range: bytes 00-09/020\r\n\r\n0123456789" END, 1));
	/* parts out of order, overlapping, the same twice: reported as they come */
	CHECK(ACCEPTED(D CR10_14 D CR0_9 D CR10_14 D
		       "Content-Range: bytes 5-11/20\r\n\r\n56789ab" END, 4));
	/* a part of one byte, the last of the resource */
	CHECK(ACCEPTED(D "Content-Range: bytes 19-19/20\r\n\r\nj" END, 1));
}

static void test_data_holds_delimiters(void)
{
	/* bytes that look like the end of the part are its data */
	static const char body[] = D "Content-Range: bytes 0-19/40\r\n\r\n"
				     "\r\n--XyZ--\r\n--XyZ\r\n\r\n" END;
	static const char file[] = "\r\n--XyZ--\r\n--XyZ\r\n\r\n";
	struct got g = { .file = (const uint8_t *)file, .file_len = 20 };
	char why[160];

	CHECK(sizeof(file) - 1 == 20);
	CHECK(parse("XyZ", body, sizeof(body) - 1, WHOLE, 4, &g, why) == 0);
	CHECK(g.nparts == 1 && g.bad == 0 && g.next == 20);
	CHECK(parse("XyZ", body, sizeof(body) - 1, BYTES, 4, &g, why) == 0);
	CHECK(g.nparts == 1 && g.bad == 0 && g.next == 20);
}

static void test_bad_bodies(void)
{
	/* Content-Range */
	CHECK(REFUSED(D "Content-Type: a/b\r\n\r\n0123456789" END,
		      "part 1: no Content-Range", 0));
	CHECK(REFUSED(D CR0_9 D CR10_14 D "Content-Range: bytes 9-3/100\r\n\r\n" END,
		      "part 3: Content-Range 'bytes 9-3/100' is not a range", 2));
	CHECK(REFUSED(D "Content-Range: bytes 10-9/20\r\n\r\n",
		      "part 1: Content-Range 'bytes 10-9/20' is not a range", 0));
	CHECK(REFUSED(D "Content-Range: bytes a-b/100\r\n\r\n",
		      "part 1: Content-Range 'bytes a-b/100' is not 'bytes FIRST-LAST/SIZE'", 0));
	CHECK(REFUSED(D "Content-Range: bytes 0-9/*\r\n\r\n",
		      "is not 'bytes FIRST-LAST/SIZE'", 0));
	CHECK(REFUSED(D "Content-Range: bytes -9/20\r\n\r\n", "is not 'bytes", 0));
	CHECK(REFUSED(D "Content-Range: bytes 0-/20\r\n\r\n", "is not 'bytes", 0));
	CHECK(REFUSED(D "Content-Range: bytes 0-9/\r\n\r\n", "is not 'bytes", 0));
	CHECK(REFUSED(D "Content-Range: bytes 0-9\r\n\r\n", "is not 'bytes", 0));
	CHECK(REFUSED(D "Content-Range: bytes0-9/20\r\n\r\n", "is not 'bytes", 0));
	CHECK(REFUSED(D "Content-Range: items 0-9/20\r\n\r\n", "is not 'bytes", 0));
	CHECK(REFUSED(D "Content-Range: bytes 0-9/20 x\r\n\r\n", "is not 'bytes", 0));
	CHECK(REFUSED(D "Content-Range: bytes +0-9/20\r\n\r\n", "is not 'bytes", 0));
	CHECK(REFUSED(D "Content-Range: bytes 0 - 9/20\r\n\r\n", "is not 'bytes", 0));
	CHECK(REFUSED(D "Content-Range: bytes 0-9/9\r\n\r\n",
		      "part 1: Content-Range 'bytes 0-9/9' ends past the size", 0));
	CHECK(REFUSED(D "Content-Range: bytes 0-9/0\r\n\r\n", "ends past the size", 0));
	CHECK(REFUSED(D "Content-Range: bytes 0-18446744073709551616/18446744073709551617\r\n\r\n",
		      "has a number past 2^64", 0));
	CHECK(REFUSED(D "Content-Range: bytes 0-9/99999999999999999999999\r\n\r\n",
		      "has a number past 2^64", 0));
	CHECK(REFUSED(D "Content-Range: bytes \xff-9/20\r\n\r\n",
		      "Content-Range 'bytes ?-9/20' is not", 0));
	CHECK(REFUSED(D "Content-Range: bytes 0-9/20\r\ncontent-range: bytes 0-9/20\r\n\r\n",
		      "part 1: two Content-Range headers", 0));

	/* more data than the range says, less, garbage for a delimiter */
	CHECK(REFUSED(D CR0_9 "X" END,
		      "part 1: no CRLF and delimiter after its 10 bytes", 1));
	{
		/* fewer: the delimiter is taken for data, then what follows it */
		static const char less[] = D "Content-Range: bytes 0-9/20\r\n\r\n01234" END;
		struct got g = { .file = (const uint8_t *)"01234\r\n--X", .file_len = 10 };
		char why[160];

		CHECK(parse("XyZ", less, sizeof(less) - 1, BYTES, 4, &g, why) == -EPROTO);
		CHECK(g.nparts == 1 && g.bad == 0);
		CHECK_STR(why, "part 1: no CRLF and delimiter after its 10 bytes (not as many as its Content-Range says?)");
	}
	CHECK(REFUSED(D CR0_9 "\r\n--XyA\r\n", "no CRLF and delimiter", 1));
	CHECK(REFUSED(D CR0_9 "\n--XyZ--", "no CRLF and delimiter", 1));
	CHECK(REFUSED(D CR0_9 "\r\n--XyZx\r\n",
		      "the delimiter after part 1: the boundary is followed by neither", 1));
	CHECK(REFUSED(D CR0_9 "\r\n--XyZ-x", "followed by neither", 1));
	CHECK(REFUSED(D CR0_9 "\r\n--XyZ  x", "followed by neither", 1));
	CHECK(REFUSED(D CR0_9 "\r\n--XyZ\rx", "a CR without LF", 1));
	CHECK(REFUSED("--XyZZ\r\n", "the first delimiter: the boundary is followed by neither", 0));
	CHECK(REFUSED("--XyZ--\r\n", "the body closes before its first part", 0));

	/* headers */
	CHECK(REFUSED(D "Content-Range bytes 0-9/20\r\n\r\n", "part 1: a header line that is not 'NAME: VALUE'", 0));
	CHECK(REFUSED(D ": x\r\n\r\n", "not 'NAME: VALUE'", 0));
	CHECK(REFUSED(D "Con tent-Range: bytes 0-9/20\r\n\r\n", "not 'NAME: VALUE'", 0));
	CHECK(REFUSED(D "X-A: b\r\n c\r\n" CR0_9 END, "part 1: a folded header line", 0));
	CHECK(REFUSED(D CR0_9 D "Content-Range: bytes 0-9/20\n\n", "part 2: a header line ends in LF", 1));
	CHECK(REFUSED(D "X-A: b\rc\r\n", "part 1: a CR without LF in its headers", 0));
	CHECK(REFUSED(D "X-A: b\x01\r\n", "part 1: a control byte in a header line", 0));
	CHECK(REFUSED(D "X-A: b\x7f\r\n", "a control byte", 0));

	/* the body ends too soon */
	CHECK(REFUSED("", "the body ended before its first delimiter", 0));
	CHECK(REFUSED("\r\n--Xy", "the body ended before its first delimiter", 0));
	/* not at a line's start: no delimiter, until the closing one */
	CHECK(REFUSED("x--XyZ\r\n" CR0_9 END, "the body closes before its first part", 0));
	CHECK(REFUSED("\r--XyZ\r\n" CR0_9, "before its first delimiter", 0));
	CHECK(REFUSED(D, "part 1: the body ended in its headers", 0));
	CHECK(REFUSED(D "Content-Range: bytes 0-9/20\r", "part 1: the body ended in its headers", 0));
	CHECK(REFUSED(D "Content-Range: bytes 0-9/20\r\n\r\n01234",
		      "part 1: the body ended after 5 of its 10 bytes", 1));
	CHECK(REFUSED(D "Content-Range: bytes 0-9/20\r\n\r\n",
		      "part 1: the body ended after 0 of its 10 bytes", 1));
	CHECK(REFUSED(D CR0_9, "the body ended before the closing delimiter (after 1 parts)", 1));
	CHECK(REFUSED(D CR0_9 "\r\n--XyZ", "the body ended before the closing delimiter", 1));
	CHECK(REFUSED(D CR0_9 "\r\n--XyZ-", "the body ended before the closing delimiter", 1));
	CHECK(REFUSED(D CR0_9 "\r\n--XyZ  ", "the body ended before the closing delimiter", 1));
	/* a range too large to ever come: the numbers survive the count */
	CHECK(REFUSED(D "Content-Range: bytes 0-18446744073709551614/18446744073709551615\r\n\r\n",
		      "part 1: the body ended after 0 of its 18446744073709551615 bytes", 1));
}

static void test_bounds(void)
{
	char body[2048], why[160];
	struct got g = { .file = (const uint8_t *)"0123456789abcdefghij", .file_len = 20 };
	size_t n;

	/* parts: two allowed, the third refused before its headers */
	n = (size_t)snprintf(body, sizeof(body), D CR0_9 D CR10_14 END);
	CHECK(body_verdict(body, n, 2, 0, "", 2));
	CHECK(body_verdict(body, n, 1, -EPROTO, "more than 1 parts", 1));
	n = (size_t)snprintf(body, sizeof(body), D CR0_9 D CR10_14 D CR0_9 END);
	CHECK(body_verdict(body, n, 2, -EPROTO, "more than 2 parts", 2));
	CHECK(body_verdict(body, n, 3, 0, "", 3));

	/* a header line of 512 bytes, then one of 513 */
	n = (size_t)snprintf(body, sizeof(body), D "X-A: ");
	memset(body + n, 'a', 512 - 5);
	n += 512 - 5;
	n += (size_t)snprintf(body + n, sizeof(body) - n, "\r\n" CR0_9 END);
	CHECK(body_verdict(body, n, 4, 0, "", 1));
	n = (size_t)snprintf(body, sizeof(body), D "X-A: ");
	memset(body + n, 'a', 513 - 5);
	n += 513 - 5;
	n += (size_t)snprintf(body + n, sizeof(body) - n, "\r\n" CR0_9 END);
	CHECK(body_verdict(body, n, 4, -EPROTO,
			   "part 1: a header line longer than 512 bytes", 0));

	/* padding: 512 bytes, then 513 */
	n = (size_t)snprintf(body, sizeof(body), "--XyZ");
	memset(body + n, ' ', 512);
	n += 512;
	n += (size_t)snprintf(body + n, sizeof(body) - n, "\r\n" CR0_9 END);
	CHECK(body_verdict(body, n, 4, 0, "", 1));
	n = (size_t)snprintf(body, sizeof(body), "--XyZ");
	memset(body + n, '\t', 513);
	n += 513;
	n += (size_t)snprintf(body + n, sizeof(body) - n, "\r\n" CR0_9 END);
	CHECK(body_verdict(body, n, 4, -EPROTO,
			   "the first delimiter: more than 512 bytes of padding", 0));

	/* a preamble: 512 bytes and the delimiter; then one more */
	memset(body, 'p', 512);
	n = 512 + (size_t)snprintf(body + 512, sizeof(body) - 512, D CR0_9 END);
	CHECK(body_verdict(body, n, 4, 0, "", 1));
	memset(body, 'p', 513);
	n = 513 + (size_t)snprintf(body + 513, sizeof(body) - 513, D CR0_9 END);
	CHECK(body_verdict(body, n, 4, -EPROTO,
			   "no delimiter in the first 512 bytes of the body", 0));

	/* a NUL where a header byte goes */
	n = (size_t)snprintf(body, sizeof(body), D "X-A: b");
	body[n++] = '\0';
	n += (size_t)snprintf(body + n, sizeof(body) - n, "\r\n" CR0_9 END);
	CHECK(body_verdict(body, n, 4, -EPROTO, "a control byte", 0));

	/* the longest boundary */
	{
		char b[BYTERANGES_BOUNDARY_MAX + 2];
		struct byteranges_parser p;

		memset(b, 'B', sizeof(b) - 1);
		b[sizeof(b) - 1] = '\0';
		CHECK(byteranges_init(&p, b, 1, &ops, &g) == -EINVAL);
		b[BYTERANGES_BOUNDARY_MAX] = '\0';
		n = (size_t)snprintf(body, sizeof(body),
				     "--%s\r\n" CR0_9 "\r\n--%s--", b, b);
		CHECK(parse(b, body, n, BYTES, 1, &g, why) == 0 && g.nparts == 1);
		CHECK(byteranges_init(&p, "", 1, &ops, &g) == -EINVAL);
		CHECK(byteranges_init(&p, "a b ", 1, &ops, &g) == -EINVAL);
		CHECK(byteranges_init(&p, "a\r\nb", 1, &ops, &g) == -EINVAL);
		CHECK(byteranges_init(&p, "ok", 0, &ops, &g) == -EINVAL);
		CHECK(byteranges_init(&p, "a b", 1, &ops, &g) == 0);
	}
}

static void test_caller_refuses(void)
{
	static const char body[] = D CR0_9 D CR10_14 END;
	struct got g = { .file = (const uint8_t *)"0123456789abcdefghij",
			 .file_len = 20, .refuse_part = 2 };
	char why[160];

	CHECK(parse("XyZ", body, sizeof(body) - 1, BYTES, 4, &g, why) == -ERANGE);
	CHECK(g.nparts == 1);
	CHECK_STR(why, "part 2: the caller refused bytes 10-14/20");
}

int main(void)
{
	test_range_header();
	test_boundary();
	test_real_answers();
	test_good_bodies();
	test_data_holds_delimiters();
	test_bad_bodies();
	test_bounds();
	test_caller_refuses();
	return check_report("test_byteranges");
}
