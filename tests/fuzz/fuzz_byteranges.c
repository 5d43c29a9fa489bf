// SPDX-License-Identifier: MIT
/*
 * libFuzzer target: multipart/byteranges answers (lib/format/byteranges.c).
 * Input: one byte that places a split, a Content-Type line ending in '\n',
 * then the body. The body is fed in two pieces at that split and again
 * whole: both must give the same verdict, reason and parts. What the
 * callbacks see is checked against the rules: parts numbered in order,
 * FIRST <= LAST < SIZE, each part's bytes in order and all of them.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "byteranges.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define MAX_PARTS 8

struct seen {
	struct byteranges_part parts[MAX_PARTS];
	unsigned int nparts;
	uint64_t next;		/* the offset the next data must have */
	int in_part;		/* a part whose bytes are not all there */
};

static int on_part(void *ctx, const struct byteranges_part *part)
{
	struct seen *s = ctx;

	if (s->in_part || part->number != s->nparts + 1 ||
	    part->number > MAX_PARTS || part->first > part->last ||
	    part->last >= part->size)
		abort();
	s->parts[s->nparts++] = *part;
	s->next = part->first;
	s->in_part = 1;
	return 0;
}

static int on_data(void *ctx, const struct byteranges_part *part,
		   uint64_t off, const uint8_t *buf, size_t len)
{
	struct seen *s = ctx;
	volatile uint8_t sink;

	if (!s->in_part || !len || off != s->next ||
	    part->number != s->nparts || off + len - 1 > part->last)
		abort();
	/* every byte given is readable */
	sink = buf[0];
	sink = buf[len - 1];
	(void)sink;
	s->next = off + len;
	if (s->next - 1 == part->last)
		s->in_part = 0;
	return 0;
}

static const struct byteranges_ops ops = { on_part, on_data };

static int run(const char *boundary, const uint8_t *body, size_t len,
	       size_t split, struct seen *s, char *why)
{
	struct byteranges_parser p;
	int ret;

	memset(s, 0, sizeof(*s));
	if (byteranges_init(&p, boundary, MAX_PARTS, &ops, s))
		abort();
	ret = byteranges_feed(&p, body, split);
	if (!ret)
		ret = byteranges_feed(&p, body + split, len - split);
	if (!ret)
		ret = byteranges_finish(&p);
	if (ret) {
		const char *w = byteranges_why(&p);

		if (!*w || strchr(w, '\n') || strchr(w, '\r') ||
		    strlen(w) >= BYTERANGES_WHY_MAX ||
		    byteranges_feed(&p, body, len) != ret || byteranges_closed(&p))
			abort();
		strcpy(why, w);
	} else if (!byteranges_closed(&p) || s->in_part || !s->nparts) {
		abort();
	}
	return ret;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *ct, b[BYTERANGES_BOUNDARY_MAX + 1], why1[BYTERANGES_WHY_MAX],
		why2[BYTERANGES_WHY_MAX], why[160], hdr[256];
	const uint8_t *nl, *body;
	struct seen s1, s2;
	struct byterange r[MAX_PARTS];
	size_t len, split;
	unsigned int i;
	int ret1, ret2;

	if (size < 2)
		return 0;
	nl = memchr(data + 1, '\n', size - 1);
	if (!nl)
		return 0;
	ct = strndup((const char *)data + 1, (size_t)(nl - data - 1));
	if (!ct)
		return 0;
	if (byteranges_boundary(ct, b, why, sizeof(why))) {
		if (!*why || strchr(why, '\n'))
			abort();
		/* the body is worth parsing all the same */
		strcpy(b, "fkj49sn38dcn3");
	} else if (!*b || strlen(b) > BYTERANGES_BOUNDARY_MAX) {
		abort();
	}
	free(ct);
	body = nl + 1;
	len = size - (size_t)(body - data);
	split = (size_t)data[0] * len / 255;
	why1[0] = why2[0] = '\0';
	ret1 = run(b, body, len, split, &s1, why1);
	ret2 = run(b, body, len, len, &s2, why2);
	if (ret1 != ret2 || strcmp(why1, why2) || s1.nparts != s2.nparts)
		abort();
	/* the ranges found, asked again */
	for (i = 0; i < s1.nparts; i++) {
		if (s1.parts[i].number != s2.parts[i].number ||
		    s1.parts[i].first != s2.parts[i].first ||
		    s1.parts[i].last != s2.parts[i].last ||
		    s1.parts[i].size != s2.parts[i].size)
			abort();
		r[i].off = s1.parts[i].first;
		r[i].len = s1.parts[i].last - s1.parts[i].first + 1;
	}
	if (s1.nparts &&
	    (byteranges_range_header(r, s1.nparts, hdr, sizeof(hdr)) ?
		     hdr[0] != '\0' : strncmp(hdr, "bytes=", 6)))
		abort();
	return 0;
}
