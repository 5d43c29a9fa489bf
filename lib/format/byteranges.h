/* SPDX-License-Identifier: MIT */
/*
 * Many byte ranges in one HTTP request (RFC 9110 §14): the Range header
 * that asks for them, and the answer, a 206 with a body of type
 * multipart/byteranges (RFC 2046 §5.1), one part per range, each with its
 * own Content-Range. The answer is hostile input: the parser checks every
 * rule below, reads the body as it comes, in pieces of any size, and keeps
 * nothing of it but one header line (BYTERANGES_LINE_MAX bytes).
 *
 * It reports the ranges as the server sent them; whether they are the ones
 * asked for (a server may merge, reorder or leave some out) is the
 * caller's to check.
 */
#ifndef LAZYROOT_BYTERANGES_H
#define LAZYROOT_BYTERANGES_H

#include <stddef.h>
#include <stdint.h>

#define BYTERANGES_BOUNDARY_MAX 70u	/* RFC 2046 */
#define BYTERANGES_LINE_MAX 512u	/* a part's header line, CRLF not counted */
#define BYTERANGES_WHY_MAX 160u

struct byterange {
	uint64_t off, len;
};

/*
 * Writes the Range header value for @n ranges ("bytes=0-4095,65536-69631")
 * into @buf, NUL-terminated. Returns 0; -EINVAL for no range, a range of
 * no bytes or one past 2^64; -ENOSPC if it does not fit in @size bytes
 * (@buf is then "").
 */
int byteranges_range_header(const struct byterange *r, size_t n, char *buf,
			    size_t size);

/*
 * The boundary of a Content-Type value @ct (a NUL-terminated string, as
 * the server sent it): the type must be multipart/byteranges, with one
 * boundary parameter, a token or a quoted string of 1 to 70 characters of
 * RFC 2046's set. Returns 0 with the boundary in @out, or -EPROTO with
 * @why saying what is wrong.
 */
int byteranges_boundary(const char *ct, char out[BYTERANGES_BOUNDARY_MAX + 1],
			char *why, size_t why_size);

/* One body part's Content-Range: bytes FIRST-LAST/SIZE. */
struct byteranges_part {
	unsigned int number;		/* 1 for the first part, as in messages */
	uint64_t first, last, size;	/* first <= last < size */
};

/*
 * What the parser tells its caller, in the order of the body. A non-zero
 * return (a negative errno) stops the parser: byteranges_feed() returns
 * it, and the reason says the caller refused the part.
 */
struct byteranges_ops {
	/* a part's headers are complete: its range, before any of its bytes */
	int (*part)(void *ctx, const struct byteranges_part *part);
	/* the next @len bytes of @part, those at @off of the resource */
	int (*data)(void *ctx, const struct byteranges_part *part,
		    uint64_t off, const uint8_t *buf, size_t len);
};

/* The parser's state; its fields are its own (byteranges_why() reads). */
struct byteranges_parser {
	const struct byteranges_ops *ops;
	void *ctx;
	char delim[4 + BYTERANGES_BOUNDARY_MAX];	/* CRLF "--" boundary */
	size_t delim_len;
	unsigned int max_parts;
	int state;
	int err;
	size_t matched;		/* of delim, or of a "--" or CRLF */
	size_t count;		/* bytes of the preamble or a delimiter line */
	struct byteranges_part part;
	uint64_t left;		/* data bytes of the part still to come */
	int have_range;
	size_t line_len;
	char line[BYTERANGES_LINE_MAX];
	char why[BYTERANGES_WHY_MAX];
};

/*
 * Sets @p up for a body with boundary @boundary (as byteranges_boundary()
 * gives it) and at most @max_parts parts (at least 1). Returns 0 or
 * -EINVAL for a boundary that is not one.
 */
int byteranges_init(struct byteranges_parser *p, const char *boundary,
		    unsigned int max_parts, const struct byteranges_ops *ops,
		    void *ctx);

/*
 * Parses the next @len bytes of the body. Returns 0, or the first error:
 * -EPROTO for a body that breaks the rules (byteranges_why() says which),
 * or what a callback returned. After an error every call returns it again.
 * Bytes after the closing delimiter (the epilogue) are ignored.
 */
int byteranges_feed(struct byteranges_parser *p, const void *buf, size_t len);

/*
 * The body has ended: 0 if the closing delimiter came, else -EPROTO (or
 * the error before) with the reason.
 */
int byteranges_finish(struct byteranges_parser *p);

/* 1 once the closing delimiter has come (without an error before it). */
int byteranges_closed(const struct byteranges_parser *p);

/* The one-line reason of the error, or "" while there is none. */
const char *byteranges_why(const struct byteranges_parser *p);

#endif
