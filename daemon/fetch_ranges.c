// SPDX-License-Identifier: MIT
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "fetch_ranges.h"
#include "http.h"

/* Room for each part's boundary and headers in a multipart body. */
#define PART_OVERHEAD 1024u

int ranges_header(const struct fetch_part *parts, unsigned int n,
		  unsigned int max, char *buf, size_t size)
{
	struct byterange r[FETCH_PARTS_MAX];
	unsigned int i, k = 0;
	int ret;

	for (i = 0; i < n && k < max && k < FETCH_PARTS_MAX; i++)
		if (parts[i].got < parts[i].len)
			r[k++] = (struct byterange){
				.off = parts[i].off + parts[i].got,
				.len = parts[i].len - parts[i].got,
			};
	if (!k)
		return 0;
	ret = byteranges_range_header(r, k, buf, size);
	return ret ? ret : (int)k;
}

/*
 * An answer's part [first, last] must start where a part's missing bytes
 * start and end where a part ends, at or after it.
 */
static int part_fits(struct ranges_answer *a, uint64_t first, uint64_t last,
		     uint64_t total)
{
	unsigned int i, j;

	if (total != HTTP_TOTAL_UNKNOWN && total != a->blob_size) {
		snprintf(a->why, sizeof(a->why),
			 "blob changed size on the server (was %llu, now %llu)",
			 (unsigned long long)a->blob_size,
			 (unsigned long long)total);
		return -EPROTO;
	}
	for (i = 0; i < a->n; i++)
		if (a->parts[i].got < a->parts[i].len &&
		    a->parts[i].off + a->parts[i].got == first)
			break;
	for (j = i; j < a->n; j++)
		if (a->parts[j].off + a->parts[j].len - 1 == last)
			break;
	if (i == a->n || j == a->n) {
		/* the answer to another request, or ranges cut up */
		snprintf(a->why, sizeof(a->why),
			 "bytes %llu-%llu in the answer are not the ranges asked",
			 (unsigned long long)first, (unsigned long long)last);
		return -EAGAIN;
	}
	a->in_part = 1;
	a->pos = first;
	a->last = last;
	a->at = i;
	return 0;
}

/* Bytes at @pos of the file, @len of them, into the parts that lack them. */
static int place(struct ranges_answer *a, const unsigned char *d, size_t len)
{
	if (!a->in_part || len > a->last - a->pos + 1) {
		snprintf(a->why, sizeof(a->why),
			 "server sent more than the bytes %llu-%llu it announced",
			 (unsigned long long)(a->in_part ? a->pos : 0),
			 (unsigned long long)a->last);
		return -EPROTO;
	}
	while (len) {
		struct fetch_part *p;
		uint64_t have, take;

		while (a->at < a->n &&
		       a->parts[a->at].off + a->parts[a->at].len <= a->pos)
			a->at++;
		p = &a->parts[a->at];	/* last is a part's end: one is left */
		if (a->pos < p->off) {
			take = p->off - a->pos;	/* between the asked ranges */
		} else if (a->pos < (have = p->off + p->got)) {
			take = have - a->pos;	/* in already */
		} else {
			take = p->off + p->len - a->pos;
			if (take > len)
				take = len;
			memcpy(p->buf + p->got, d, take);
			p->got += take;
			a->placed += take;
			if (p->got == p->len && a->complete)
				a->complete(a->ctx, a->at);
		}
		if (take > len)
			take = len;
		a->pos += take;
		d += take;
		len -= take;
	}
	if (a->pos == a->last + 1)
		a->in_part = 0;
	return 0;
}

static int on_part(void *ctx, const struct byteranges_part *part)
{
	struct ranges_answer *a = ctx;

	return part_fits(a, part->first, part->last, part->size);
}

static int on_data(void *ctx, const struct byteranges_part *part, uint64_t off,
		   const uint8_t *buf, size_t len)
{
	struct ranges_answer *a = ctx;

	(void)part;
	if (off != a->pos) {
		snprintf(a->why, sizeof(a->why), "multipart body out of order");
		return -EPROTO;
	}
	return place(a, buf, len);
}

static const struct byteranges_ops parts_ops = {
	.part = on_part,
	.data = on_data,
};

int ranges_begin(struct ranges_answer *a, struct fetch_part *parts,
		 unsigned int n, unsigned int asked, uint64_t blob_size,
		 long status, const char *content_type,
		 const char *content_range, int64_t content_length,
		 void (*complete)(void *ctx, unsigned int i), void *ctx)
{
	char boundary[BYTERANGES_BOUNDARY_MAX + 1], why[BYTERANGES_WHY_MAX];
	uint64_t first, last, total, lo = 0, hi = 0;
	unsigned int i;
	int ret;

	memset(a, 0, sizeof(*a));
	a->parts = parts;
	a->n = n;
	a->complete = complete;
	a->ctx = ctx;
	a->blob_size = blob_size;
	for (i = 0; i < n; i++) {
		if (parts[i].got == parts[i].len)
			continue;
		if (!hi)
			lo = parts[i].off + parts[i].got;
		hi = parts[i].off + parts[i].len;
	}
	if (status == 200) {
		snprintf(a->why, sizeof(a->why),
			 asked > 1 ? "server answered %u ranges with the whole file (HTTP 200)" :
				     "server ignored the Range header (HTTP 200, the whole blob)",
			 asked);
		return asked > 1 ? -EOPNOTSUPP : -EAGAIN;
	}
	if (status != 206)
		return http_status_error(status, a->why, sizeof(a->why));
	if (content_type && !strncasecmp(content_type, "multipart/byteranges", 20)) {
		ret = byteranges_boundary(content_type, boundary, why, sizeof(why));
		if (!ret)
			ret = byteranges_init(&a->parser, boundary, asked,
					      &parts_ops, a);
		if (ret) {
			snprintf(a->why, sizeof(a->why), "multipart answer: %s",
				 why);
			return -EOPNOTSUPP;
		}
		a->multipart = 1;
		a->body_max = hi - lo + (uint64_t)asked * PART_OVERHEAD +
			      PART_OVERHEAD;
		return 0;
	}
	if (!content_range ||
	    http_parse_content_range(content_range, &first, &last, &total)) {
		snprintf(a->why, sizeof(a->why),
			 "HTTP 206 with %s Content-Range '%.64s'",
			 content_range ? "malformed" : "no",
			 content_range ? content_range : "");
		return -EPROTO;
	}
	ret = part_fits(a, first, last, total);
	if (ret)
		return ret;
	if (content_length >= 0 && (uint64_t)content_length != last - first + 1) {
		snprintf(a->why, sizeof(a->why), "Content-Length %lld, expected %llu",
			 (long long)content_length,
			 (unsigned long long)(last - first + 1));
		return -EPROTO;
	}
	a->body_max = last - first + 1;
	return 0;
}

int ranges_body(struct ranges_answer *a, const void *buf, size_t len)
{
	int ret;

	if (len > a->body_max - a->body) {
		snprintf(a->why, sizeof(a->why),
			 "server sent more than the %llu bytes the ranges asked can take",
			 (unsigned long long)a->body_max);
		return -EPROTO;
	}
	a->body += len;
	if (!a->multipart)
		return place(a, buf, len);
	ret = byteranges_feed(&a->parser, buf, len);
	if (ret == -EPROTO && !a->why[0])
		snprintf(a->why, sizeof(a->why), "multipart answer: %s",
			 byteranges_why(&a->parser));
	/* a broken multipart body: the server may still serve one range */
	return ret == -EPROTO && !strncmp(a->why, "multipart answer: ", 18) ?
	       -EOPNOTSUPP : ret;
}

int ranges_end(struct ranges_answer *a)
{
	if (a->multipart) {
		if (byteranges_finish(&a->parser)) {
			snprintf(a->why, sizeof(a->why), "multipart answer cut short: %s",
				 byteranges_why(&a->parser));
			return -EAGAIN;
		}
		return 0;
	}
	if (a->in_part) {
		snprintf(a->why, sizeof(a->why), "short body: %llu of %llu bytes",
			 (unsigned long long)(a->body),
			 (unsigned long long)a->body_max);
		return -EAGAIN;
	}
	return 0;
}
