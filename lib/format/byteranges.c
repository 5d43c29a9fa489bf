// SPDX-License-Identifier: MIT
/*
 * multipart/byteranges, read as it arrives. The body is
 *
 *	[preamble] "--" B padding CRLF headers CRLF data
 *	( CRLF "--" B padding CRLF headers CRLF data )*
 *	CRLF "--" B "--" [epilogue]
 *
 * A part's data is never scanned for the boundary: its Content-Range says
 * how many bytes it has, they are counted, and after exactly that many the
 * delimiter must follow. So data may hold any bytes, the boundary too, and
 * a server that sends more than it said is caught where it does.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "byteranges.h"
#include "content_range.h"
#include "refuse.h"

enum {
	ST_PREAMBLE,	/* looking for the first delimiter */
	ST_BOUNDARY,	/* a delimiter came: "--", padding or CRLF next */
	ST_CLOSE_DASH,	/* "-" of the closing "--" came */
	ST_PADDING,	/* spaces or tabs after the boundary */
	ST_DELIM_LF,	/* CR after the boundary */
	ST_HEADER,	/* a part's header line */
	ST_HEADER_LF,	/* CR of a header line */
	ST_DATA,
	ST_DELIM,	/* after a part's data: CRLF "--" boundary, exactly */
	ST_CLOSED,
	ST_ERROR,
};

/* RFC 2046's bcharsnospace; a space may be in a boundary but not last. */
static int bchar_nospace(unsigned char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
	       (c >= '0' && c <= '9') || (c && strchr("'()+_,-./:=?", c));
}

/* RFC 9110's tchar: header names and unquoted parameters. */
static int tchar(unsigned char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
	       (c >= '0' && c <= '9') || (c && strchr("!#$%&'*+-.^_`|~", c));
}

static int boundary_ok(const char *b, size_t len)
{
	size_t i;

	if (!len || len > BYTERANGES_BOUNDARY_MAX || b[len - 1] == ' ')
		return 0;
	for (i = 0; i < len; i++)
		if (b[i] != ' ' && !bchar_nospace((unsigned char)b[i]))
			return 0;
	return 1;
}

/*
 * A hostile value quoted in a reason: at most 64 bytes, anything but
 * printable ASCII as '?', so that the reason stays one harmless line.
 */
static void quote(char *out, size_t size, const char *s, size_t len)
{
	size_t i, n = len < size - 1 ? len : size - 1;

	for (i = 0; i < n; i++)
		out[i] = s[i] >= 0x20 && s[i] < 0x7f ? s[i] : '?';
	out[n] = '\0';
}

int byteranges_range_header(const struct byterange *r, size_t n, char *buf,
			    size_t size)
{
	size_t i, pos;
	int w;

	if (!size)
		return -ENOSPC;
	buf[0] = '\0';
	if (!n)
		return -EINVAL;
	for (i = 0; i < n; i++)
		if (!r[i].len || r[i].off > UINT64_MAX - (r[i].len - 1))
			return -EINVAL;
	pos = 0;
	for (i = 0; i < n; i++) {
		w = snprintf(buf + pos, size - pos, "%s%llu-%llu",
			     i ? "," : "bytes=", (unsigned long long)r[i].off,
			     (unsigned long long)(r[i].off + r[i].len - 1));
		if (w < 0 || (size_t)w >= size - pos) {
			buf[0] = '\0';
			return -ENOSPC;
		}
		pos += (size_t)w;
	}
	return 0;
}

/*
 * A parameter's value at *@s, a token or a quoted string (RFC 9110 5.6),
 * unquoted into @v as far as it holds a boundary; *@vlen is its whole
 * length. Returns NULL, or what is wrong with it.
 */
static const char *param_value(const char **s, char *v, size_t *vlen)
{
	const char *p = *s;
	size_t n = 0;

	if (*p != '"') {
		for (; tchar((unsigned char)*p); p++)
			if (n++ < BYTERANGES_BOUNDARY_MAX)
				v[n - 1] = *p;
		*s = p;
		*vlen = n;
		return n ? NULL : "a parameter without a value";
	}
	for (p++; *p != '"'; p++) {
		unsigned char c = (unsigned char)*p;

		if (c == '\\' && p[1])
			c = (unsigned char)*++p;	/* a quoted-pair */
		if (!c)
			return "a quoted value without its closing quote";
		if ((c < 0x20 && c != '\t') || c == 0x7f)
			return "a control byte in a quoted value";
		if (n++ < BYTERANGES_BOUNDARY_MAX)
			v[n - 1] = (char)c;
	}
	*s = p + 1;
	*vlen = n;
	return NULL;
}

/* a bad answer, not a bad argument: -EPROTO, as daemon/http.c says it */
#define ct_fail(...) (format_refuse(__VA_ARGS__), -EPROTO)

int byteranges_boundary(const char *ct, char out[BYTERANGES_BOUNDARY_MAX + 1],
			char *why, size_t why_size)
{
	static const char type[] = "multipart/byteranges";
	const char *p = ct, *s;
	char q[65];
	int found = 0;

	quote(q, sizeof(q), ct, strlen(ct));
	while (*p == ' ' || *p == '\t')
		p++;
	s = p;
	while (tchar((unsigned char)*p) || *p == '/')
		p++;
	if ((size_t)(p - s) != sizeof(type) - 1 ||
	    strncasecmp(s, type, sizeof(type) - 1))
		return ct_fail(why, why_size,
			       "Content-Type '%s' is not multipart/byteranges",
			       q);
	for (;;) {
		const char *name, *what;
		size_t nlen, vlen;
		char v[BYTERANGES_BOUNDARY_MAX + 1];

		while (*p == ' ' || *p == '\t')
			p++;
		/* a header value may come with its line end */
		if (!*p || (p[0] == '\r' && p[1] == '\n' && !p[2]))
			break;
		if (*p != ';')
			return ct_fail(why, why_size,
				       "Content-Type '%s': not '; NAME=VALUE' after the type or a parameter",
				       q);
		p++;
		while (*p == ' ' || *p == '\t')
			p++;
		if (!*p || *p == ';' || *p == '\r')
			continue;	/* an empty parameter is allowed */
		name = p;
		while (tchar((unsigned char)*p))
			p++;
		nlen = (size_t)(p - name);
		if (!nlen || *p != '=')
			return ct_fail(why, why_size,
				       "Content-Type '%s': a parameter is not NAME=VALUE",
				       q);
		p++;
		what = param_value(&p, v, &vlen);
		if (what)
			return ct_fail(why, why_size, "Content-Type '%s': %s", q,
				       what);
		if (nlen != 8 || strncasecmp(name, "boundary", 8))
			continue;
		if (found)
			return ct_fail(why, why_size,
				       "Content-Type '%s': two boundary parameters",
				       q);
		found = 1;
		if (vlen > BYTERANGES_BOUNDARY_MAX)
			return ct_fail(why, why_size,
				       "Content-Type '%s': the boundary is longer than %u characters",
				       q, BYTERANGES_BOUNDARY_MAX);
		if (!vlen)
			return ct_fail(why, why_size,
				       "Content-Type '%s': the boundary is empty",
				       q);
		if (!boundary_ok(v, vlen))
			return ct_fail(why, why_size,
				       "Content-Type '%s': the boundary has a character RFC 2046 does not allow",
				       q);
		memcpy(out, v, vlen);
		out[vlen] = '\0';
	}
	if (!found)
		return ct_fail(why, why_size,
			       "Content-Type '%s' has no boundary parameter", q);
	return 0;
}

int byteranges_init(struct byteranges_parser *p, const char *boundary,
		    unsigned int max_parts, const struct byteranges_ops *ops,
		    void *ctx)
{
	size_t blen = strnlen(boundary, BYTERANGES_BOUNDARY_MAX + 1);

	memset(p, 0, sizeof(*p));
	if (!boundary_ok(boundary, blen) || !max_parts || !ops ||
	    !ops->part || !ops->data)
		return -EINVAL;
	p->ops = ops;
	p->ctx = ctx;
	p->max_parts = max_parts;
	memcpy(p->delim, "\r\n--", 4);
	memcpy(p->delim + 4, boundary, blen);
	p->delim_len = 4 + blen;
	p->state = ST_PREAMBLE;
	/* the body's start counts as a line start: "--B" may open it */
	p->matched = 2;
	return 0;
}

static int fail(struct byteranges_parser *p, int err, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static int fail(struct byteranges_parser *p, int err, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(p->why, sizeof(p->why), fmt, ap);
	va_end(ap);
	p->state = ST_ERROR;
	p->err = err;
	return err;
}

/* "bytes FIRST-LAST/SIZE" with FIRST <= LAST < SIZE. */
static int content_range(struct byteranges_parser *p, const char *v,
			 size_t len)
{
	uint64_t first, last, size;
	const char *why = content_range_read(v, len, 0, &first, &last, &size);
	char q[65];

	if (why) {
		quote(q, sizeof(q), v, len);
		return fail(p, -EPROTO, "part %u: Content-Range '%s' %s",
			    p->part.number, q, why);
	}
	p->part.first = first;
	p->part.last = last;
	p->part.size = size;
	p->have_range = 1;
	return 0;
}

/* One header line of a part, CRLF gone: NAME ":" OWS VALUE OWS. */
static int header_line(struct byteranges_parser *p)
{
	const char *l = p->line, *end = p->line + p->line_len, *c = l, *v;
	unsigned int n = p->part.number;

	if (*l == ' ' || *l == '\t')
		return fail(p, -EPROTO,
			    "part %u: a folded header line (obsolete, refused)",
			    n);
	while (c < end && tchar((unsigned char)*c))
		c++;
	if (c == l || c == end || *c != ':')
		return fail(p, -EPROTO,
			    "part %u: a header line that is not 'NAME: VALUE'",
			    n);
	v = c + 1;
	while (v < end && (*v == ' ' || *v == '\t'))
		v++;
	while (end > v && (end[-1] == ' ' || end[-1] == '\t'))
		end--;
	/* only Content-Range matters; Content-Type and the rest are ignored */
	if (c - l != 13 || strncasecmp(l, "content-range", 13))
		return 0;
	if (p->have_range)
		return fail(p, -EPROTO, "part %u: two Content-Range headers", n);
	return content_range(p, v, (size_t)(end - v));
}

static int headers_end(struct byteranges_parser *p)
{
	int ret;

	if (!p->have_range)
		return fail(p, -EPROTO, "part %u: no Content-Range",
			    p->part.number);
	ret = p->ops->part(p->ctx, &p->part);
	if (ret)
		return fail(p, ret, "part %u: the caller refused bytes %llu-%llu/%llu",
			    p->part.number,
			    (unsigned long long)p->part.first,
			    (unsigned long long)p->part.last,
			    (unsigned long long)p->part.size);
	p->left = p->part.last - p->part.first + 1;
	p->state = ST_DATA;
	return 0;
}

/* Where a delimiter line went wrong: before the first part or after one. */
static int delim_fail(struct byteranges_parser *p, const char *what)
{
	if (!p->part.number)
		return fail(p, -EPROTO, "the first delimiter: %s", what);
	return fail(p, -EPROTO, "the delimiter after part %u: %s",
		    p->part.number, what);
}

/* One byte outside a part's data. */
static int step(struct byteranges_parser *p, unsigned char c)
{
	unsigned int n = p->part.number;

	switch (p->state) {
	case ST_PREAMBLE:
		/*
		 * '\r' is only the delimiter's first byte, so on a mismatch
		 * the match starts again at 0, or at 1 on a '\r'.
		 */
		if (c == (unsigned char)p->delim[p->matched])
			p->matched++;
		else
			p->matched = c == '\r';
		/* servers send a CRLF or nothing: no use in more */
		if (++p->count > BYTERANGES_LINE_MAX + p->delim_len)
			return fail(p, -EPROTO,
				    "no delimiter in the first %u bytes of the body",
				    BYTERANGES_LINE_MAX);
		if (p->matched == p->delim_len)
			p->state = ST_BOUNDARY;
		return 0;
	case ST_BOUNDARY:
		if (c == '-') {
			p->state = ST_CLOSE_DASH;
		} else if (c == ' ' || c == '\t') {
			p->state = ST_PADDING;
			p->count = 1;
		} else if (c == '\r') {
			p->state = ST_DELIM_LF;
		} else {
			return delim_fail(p, "the boundary is followed by neither CRLF nor \"--\"");
		}
		return 0;
	case ST_CLOSE_DASH:
		if (c != '-')
			return delim_fail(p, "the boundary is followed by neither CRLF nor \"--\"");
		if (!n)
			return fail(p, -EPROTO,
				    "the body closes before its first part");
		p->state = ST_CLOSED;
		return 0;
	case ST_PADDING:
		if (c == '\r') {
			p->state = ST_DELIM_LF;
		} else if (c != ' ' && c != '\t') {
			return delim_fail(p, "the boundary is followed by neither CRLF nor \"--\"");
		} else if (++p->count > BYTERANGES_LINE_MAX) {
			return delim_fail(p, "more than 512 bytes of padding");
		}
		return 0;
	case ST_DELIM_LF:
		if (c != '\n')
			return delim_fail(p, "a CR without LF");
		if (n == p->max_parts)
			return fail(p, -EPROTO, "more than %u parts",
				    p->max_parts);
		p->part.number = n + 1;
		p->have_range = 0;
		p->line_len = 0;
		p->state = ST_HEADER;
		return 0;
	case ST_HEADER:
		if (c == '\r') {
			p->state = ST_HEADER_LF;
		} else if (c == '\n') {
			return fail(p, -EPROTO,
				    "part %u: a header line ends in LF, not CRLF",
				    n);
		} else if ((c < 0x20 && c != '\t') || c == 0x7f) {
			return fail(p, -EPROTO,
				    "part %u: a control byte in a header line",
				    n);
		} else if (p->line_len == sizeof(p->line)) {
			return fail(p, -EPROTO,
				    "part %u: a header line longer than %u bytes",
				    n, BYTERANGES_LINE_MAX);
		} else {
			p->line[p->line_len++] = (char)c;
		}
		return 0;
	case ST_HEADER_LF:
		if (c != '\n')
			return fail(p, -EPROTO,
				    "part %u: a CR without LF in its headers", n);
		if (!p->line_len)
			return headers_end(p);
		p->state = ST_HEADER;
		if (header_line(p))
			return p->err;
		p->line_len = 0;
		return 0;
	case ST_DELIM:
		if (c != (unsigned char)p->delim[p->matched])
			return fail(p, -EPROTO,
				    "part %u: no CRLF and delimiter after its %llu bytes (not as many as its Content-Range says?)",
				    n,
				    (unsigned long long)(p->part.last -
							 p->part.first + 1));
		if (++p->matched == p->delim_len)
			p->state = ST_BOUNDARY;
		return 0;
	}
	return 0;
}

int byteranges_feed(struct byteranges_parser *p, const void *buf, size_t len)
{
	const uint8_t *b = buf;
	size_t pos = 0;
	int ret;

	while (pos < len) {
		if (p->state == ST_ERROR)
			return p->err;
		if (p->state == ST_CLOSED)
			return 0;	/* the epilogue: ignored */
		if (p->state == ST_DATA) {
			/* counted, never scanned */
			size_t n = len - pos;

			if (n > p->left)
				n = (size_t)p->left;
			ret = p->ops->data(p->ctx, &p->part,
					   p->part.last + 1 - p->left, b + pos, n);
			if (ret)
				return fail(p, ret,
					    "part %u: the caller refused its data",
					    p->part.number);
			p->left -= n;
			pos += n;
			if (!p->left) {
				p->state = ST_DELIM;
				p->matched = 0;
			}
			continue;
		}
		ret = step(p, b[pos++]);
		if (ret)
			return ret;
	}
	return p->state == ST_ERROR ? p->err : 0;
}

int byteranges_finish(struct byteranges_parser *p)
{
	unsigned int n = p->part.number;

	switch (p->state) {
	case ST_CLOSED:
		return 0;
	case ST_ERROR:
		return p->err;
	case ST_PREAMBLE:
		return fail(p, -EPROTO,
			    "the body ended before its first delimiter");
	case ST_HEADER:
	case ST_HEADER_LF:
		return fail(p, -EPROTO, "part %u: the body ended in its headers",
			    n);
	case ST_DATA:
		return fail(p, -EPROTO,
			    "part %u: the body ended after %llu of its %llu bytes",
			    n,
			    (unsigned long long)(p->part.last - p->part.first +
						 1 - p->left),
			    (unsigned long long)(p->part.last - p->part.first +
						 1));
	}
	return fail(p, -EPROTO,
		    "the body ended before the closing delimiter (after %u parts)",
		    n);
}

int byteranges_closed(const struct byteranges_parser *p)
{
	return p->state == ST_CLOSED;
}

const char *byteranges_why(const struct byteranges_parser *p)
{
	return p->why;
}
