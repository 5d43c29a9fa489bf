/* SPDX-License-Identifier: MIT */
/*
 * Validation of HTTP responses, before any body byte is kept. Results:
 * 0 good; -ENOENT (404, 410); -EACCES (401, 403); -EAGAIN worth retrying
 * (5xx, 408, 429, and answers for other bytes than asked: a 200 to a Range
 * request or another range, as a cache may give on a miss); -EPROTO a
 * response that will not get better. @why gets a short reason for the log.
 */
#ifndef LAZYROOT_HTTP_H
#define LAZYROOT_HTTP_H

#include <stddef.h>
#include <stdint.h>

#define HTTP_TOTAL_UNKNOWN UINT64_MAX

/*
 * Parses a Content-Range value "bytes FIRST-LAST/TOTAL" (TOTAL may be
 * "*", giving HTTP_TOTAL_UNKNOWN). Returns 0 or -EINVAL.
 */
int http_parse_content_range(const char *value, uint64_t *first,
			     uint64_t *last, uint64_t *total);

/* Maps a status that is not the expected success to an error code. */
int http_status_error(long status, char *why, size_t size);

/*
 * Checks the answer to "Range: bytes=0-0", which learns the blob size and
 * that the server honours ranges. @content_range may be NULL.
 */
int http_check_probe(long status, const char *content_range, uint64_t *size,
		     char *why, size_t wsize);

/*
 * Checks the answer to "Range: bytes=OFF-(OFF+LEN-1)" of a blob of
 * @blob_size bytes; @content_length is -1 when the server sent none.
 */
int http_check_range(long status, const char *content_range,
		     int64_t content_length, uint64_t off, uint64_t len,
		     uint64_t blob_size, char *why, size_t wsize);

/*
 * Copies the value of header @name (lower case, with its colon) from the
 * header line @line (@len bytes, hostile) into @out: printable ASCII,
 * trimmed, shorter than @size, else "". Returns 1 if @line is that header.
 */
int http_header_value(const char *line, size_t len, const char *name,
		      char *out, size_t size);

#endif
