/* SPDX-License-Identifier: MIT */
/*
 * Several byte ranges of one file in one request (FETCH_RANGES): the Range
 * header for what the parts still lack, and the checks of the answer as it
 * comes. A server answers with a multipart/byteranges body, or with one
 * Content-Range when it merged the ranges into one, or leaves some out.
 * Every part of an answer must start where a part's missing bytes start
 * and end where a part ends; bytes between the asked ranges (a merged
 * part) are dropped; nothing goes into a buffer but the next bytes its
 * part lacks, in order. The engine asks again for what is still missing.
 */
#ifndef LAZYROOT_FETCH_RANGES_H
#define LAZYROOT_FETCH_RANGES_H

#include <stddef.h>
#include <stdint.h>

#include "byteranges.h"
#include "fetch.h"

struct ranges_answer {
	struct fetch_part *parts;
	unsigned int n;
	void (*complete)(void *ctx, unsigned int i);	/* part i is whole */
	void *ctx;
	int multipart;
	uint64_t blob_size;
	/* the answer's part being read: its bytes at [pos, last] */
	int in_part;
	uint64_t pos, last;
	unsigned int at;		/* no part before this one takes pos */
	uint64_t body, body_max;	/* body bytes so far, and their bound */
	uint64_t placed;		/* bytes that went into parts */
	struct byteranges_parser parser;
	char why[256];
};

/*
 * The Range header value ("bytes=...") asking for what @parts lack, at
 * most @max ranges of it (the first ones). Returns how many ranges it
 * asks (0: nothing lacks), or -ENOSPC.
 */
int ranges_header(const struct fetch_part *parts, unsigned int n,
		  unsigned int max, char *buf, size_t size);

/*
 * Checks the status and headers of the answer to a request of @asked
 * ranges (NULL for headers that were not sent): 0 to read its body, or
 * -errno with a->why: -EOPNOTSUPP when the server does not answer
 * several ranges at once (HTTP 200, or a multipart answer it got wrong),
 * -EAGAIN worth asking again, -EPROTO, or what http_status_error() gives.
 */
int ranges_begin(struct ranges_answer *a, struct fetch_part *parts,
		 unsigned int n, unsigned int asked, uint64_t blob_size,
		 long status, const char *content_type,
		 const char *content_range, int64_t content_length,
		 void (*complete)(void *ctx, unsigned int i), void *ctx);

/* The next @len bytes of the body. Returns 0 or -errno with a->why. */
int ranges_body(struct ranges_answer *a, const void *buf, size_t len);

/*
 * The body ended without a transfer error: 0 when the answer was whole,
 * else -EAGAIN (cut short) or -EOPNOTSUPP, with a->why.
 */
int ranges_end(struct ranges_answer *a);

#endif
