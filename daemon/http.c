// SPDX-License-Identifier: MIT
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "content_range.h"
#include "http.h"

/* The largest size copen can carry (a signed long on 64-bit). */
#define BLOB_SIZE_MAX ((uint64_t)INT64_MAX)

_Static_assert(HTTP_TOTAL_UNKNOWN == CONTENT_RANGE_SIZE_UNKNOWN, "one '*'");

int http_parse_content_range(const char *v, uint64_t *first, uint64_t *last,
			     uint64_t *total)
{
	size_t len;

	/* the header's value as it came: spaces and line end around it */
	while (*v == ' ' || *v == '\t')
		v++;
	len = strlen(v);
	while (len && (v[len - 1] == ' ' || v[len - 1] == '\t' ||
		       v[len - 1] == '\r' || v[len - 1] == '\n'))
		len--;
	return content_range_read(v, len, 1, first, last, total) ? -EINVAL : 0;
}

int http_status_error(long status, char *why, size_t size)
{
	snprintf(why, size, "HTTP %ld", status);
	switch (status) {
	case 404:
	case 410:
		return -ENOENT;
	case 401:
	case 403:
		return -EACCES;
	case 408:
	case 429:
		return -EAGAIN;
	}
	if (status >= 500 && status <= 599)
		return -EAGAIN;
	if (status < 100 || status > 599)
		snprintf(why, size, "invalid HTTP status %ld", status);
	return -EPROTO;
}

int http_check_probe(long status, const char *content_range, uint64_t *size,
		     char *why, size_t wsize)
{
	uint64_t first, last, total;

	if (status == 200) {
		/* A cache may answer a miss so and pass Range on next time. */
		snprintf(why, wsize,
			 "server ignored the Range header (HTTP 200); it must support range requests");
		return -EAGAIN;
	}
	if (status == 416) {
		snprintf(why, wsize, "blob is empty (HTTP 416)");
		return -EPROTO;
	}
	if (status != 206)
		return http_status_error(status, why, wsize);
	if (!content_range) {
		snprintf(why, wsize, "HTTP 206 without Content-Range");
		return -EPROTO;
	}
	if (http_parse_content_range(content_range, &first, &last, &total)) {
		snprintf(why, wsize, "malformed Content-Range '%.64s'",
			 content_range);
		return -EPROTO;
	}
	if (total == HTTP_TOTAL_UNKNOWN) {
		snprintf(why, wsize,
			 "Content-Range '%.64s' does not answer bytes=0-0 with a size",
			 content_range);
		return -EPROTO;
	}
	if (first != 0 || last != 0) {
		/* The answer to another request: a cache mixed them up. */
		snprintf(why, wsize,
			 "Content-Range '%.64s' does not answer bytes=0-0",
			 content_range);
		return -EAGAIN;
	}
	if (total > BLOB_SIZE_MAX) {
		snprintf(why, wsize, "blob size %llu is too large",
			 (unsigned long long)total);
		return -EPROTO;
	}
	*size = total;
	return 0;
}

int http_check_range(long status, const char *content_range,
		     int64_t content_length, uint64_t off, uint64_t len,
		     uint64_t blob_size, char *why, size_t wsize)
{
	uint64_t first, last, total;

	if (len == 0 || off + len < off || off + len > blob_size) {
		snprintf(why, wsize, "range %llu+%llu outside the blob",
			 (unsigned long long)off, (unsigned long long)len);
		return -EPROTO;
	}
	if (status == 200) {
		/* A whole body is only right when the whole blob was asked. */
		if (off != 0 || len != blob_size) {
			/* As a cache does on a miss: ask again. */
			snprintf(why, wsize,
				 "server ignored the Range header (HTTP 200, the whole blob)");
			return -EAGAIN;
		}
		goto check_length;
	}
	if (status != 206)
		return http_status_error(status, why, wsize);
	if (!content_range ||
	    http_parse_content_range(content_range, &first, &last, &total)) {
		snprintf(why, wsize, "HTTP 206 with %s Content-Range '%.64s'",
			 content_range ? "malformed" : "no",
			 content_range ? content_range : "");
		return -EPROTO;
	}
	if (first != off || last != off + len - 1) {
		snprintf(why, wsize,
			 "Content-Range '%.64s' does not match the requested bytes %llu-%llu",
			 content_range, (unsigned long long)off,
			 (unsigned long long)(off + len - 1));
		return -EAGAIN; /* another request's answer */
	}
	if (total != HTTP_TOTAL_UNKNOWN && total != blob_size) {
		snprintf(why, wsize,
			 "blob changed size on the server (was %llu, now %llu)",
			 (unsigned long long)blob_size,
			 (unsigned long long)total);
		return -EPROTO;
	}
check_length:
	if (content_length >= 0 && (uint64_t)content_length != len) {
		snprintf(why, wsize, "Content-Length %lld, expected %llu",
			 (long long)content_length, (unsigned long long)len);
		return -EPROTO;
	}
	return 0;
}

/*
 * Copies the value of header @name (lower case, with its colon) from @line
 * into @out: printable ASCII, trimmed, shorter than @size, else "" (it goes
 * back to the server in If-Range: nothing that could end a header line).
 * Returns 1 if @line is that header.
 */
int http_header_value(const char *line, size_t len, const char *name,
			char *out, size_t size)
{
	size_t nl = strlen(name), i;

	if (len < nl || strncasecmp(line, name, nl))
		return 0;
	line += nl;
	len -= nl;
	while (len && (*line == ' ' || *line == '\t')) {
		line++;
		len--;
	}
	while (len && (line[len - 1] == '\r' || line[len - 1] == '\n' ||
		       line[len - 1] == ' ' || line[len - 1] == '\t'))
		len--;
	out[0] = '\0';
	if (len >= size)
		return 1;
	for (i = 0; i < len; i++)
		if (line[i] < 0x20 || line[i] > 0x7e)
			return 1;
	memcpy(out, line, len);
	out[len] = '\0';
	return 1;
}
