// SPDX-License-Identifier: MIT
/* HTTP response validation: nothing wrong may pass as blob bytes. */
#include <errno.h>
#include <stdint.h>

#include "check.h"
#include "http.h"

static void test_content_range(void)
{
	uint64_t f, l, t;

	CHECK(http_parse_content_range("bytes 0-0/12345", &f, &l, &t) == 0);
	CHECK(f == 0 && l == 0 && t == 12345);
	CHECK(http_parse_content_range("bytes 4096-8191/*", &f, &l, &t) == 0);
	CHECK(f == 4096 && l == 8191 && t == HTTP_TOTAL_UNKNOWN);
	CHECK(http_parse_content_range("BYTES 1-2/3\r\n", &f, &l, &t) == 0);
	CHECK(http_parse_content_range("bytes 5-4/10", &f, &l, &t) == -EINVAL);
	CHECK(http_parse_content_range("bytes 0-9/9", &f, &l, &t) == -EINVAL);
	CHECK(http_parse_content_range("bytes */10", &f, &l, &t) == -EINVAL);
	CHECK(http_parse_content_range("bytes 0-1/2 x", &f, &l, &t) == -EINVAL);
	CHECK(http_parse_content_range("bytes -1-2/3", &f, &l, &t) == -EINVAL);
	CHECK(http_parse_content_range("items 0-1/2", &f, &l, &t) == -EINVAL);
	CHECK(http_parse_content_range("bytes0-1/2", &f, &l, &t) == -EINVAL);
	CHECK(http_parse_content_range("bytes 0-99999999999999999999/1", &f,
				       &l, &t) == -EINVAL);
	CHECK(http_parse_content_range("", &f, &l, &t) == -EINVAL);
}

static void test_probe(void)
{
	char why[256];
	uint64_t size = 0;

	CHECK(http_check_probe(206, "bytes 0-0/65536", &size, why,
			       sizeof(why)) == 0);
	CHECK(size == 65536);
	CHECK(http_check_probe(404, NULL, &size, why, sizeof(why)) == -ENOENT);
	CHECK_STR(why, "HTTP 404");
	CHECK(http_check_probe(403, NULL, &size, why, sizeof(why)) == -EACCES);
	CHECK(http_check_probe(503, NULL, &size, why, sizeof(why)) == -EAGAIN);
	CHECK(http_check_probe(429, NULL, &size, why, sizeof(why)) == -EAGAIN);
	/* a cache's answer to a miss: asked again */
	CHECK(http_check_probe(200, NULL, &size, why, sizeof(why)) == -EAGAIN);
	CHECK(http_check_probe(416, "bytes */0", &size, why, sizeof(why)) ==
	      -EPROTO);
	CHECK(http_check_probe(206, NULL, &size, why, sizeof(why)) == -EPROTO);
	CHECK(http_check_probe(206, "bytes 0-0/*", &size, why, sizeof(why)) ==
	      -EPROTO);
	CHECK(http_check_probe(206, "bytes 0-1/9", &size, why, sizeof(why)) ==
	      -EAGAIN);
	CHECK(http_check_probe(206, "bytes 0-0/18446744073709551615", &size,
			       why, sizeof(why)) == -EPROTO);
	CHECK(http_check_probe(302, NULL, &size, why, sizeof(why)) == -EPROTO);
	CHECK(http_check_probe(999, NULL, &size, why, sizeof(why)) == -EPROTO);
}

static void test_range(void)
{
	char why[256];

	CHECK(http_check_range(206, "bytes 4096-8191/65536", 4096, 4096, 4096,
			       65536, why, sizeof(why)) == 0);
	CHECK(http_check_range(206, "bytes 4096-8191/*", -1, 4096, 4096, 65536,
			       why, sizeof(why)) == 0);
	/* a different range than asked: another request's answer, ask again */
	CHECK(http_check_range(206, "bytes 0-4095/65536", 4096, 4096, 4096,
			       65536, why, sizeof(why)) == -EAGAIN);
	CHECK(http_check_range(206, "bytes 4096-8192/65536", 4097, 4096, 4096,
			       65536, why, sizeof(why)) == -EAGAIN);
	/* the blob changed under us */
	CHECK(http_check_range(206, "bytes 4096-8191/70000", 4096, 4096, 4096,
			       65536, why, sizeof(why)) == -EPROTO);
	/* length header disagreeing */
	CHECK(http_check_range(206, "bytes 4096-8191/65536", 4000, 4096, 4096,
			       65536, why, sizeof(why)) == -EPROTO);
	CHECK(http_check_range(206, NULL, 4096, 4096, 4096, 65536, why,
			       sizeof(why)) == -EPROTO);
	/* 200 is only right for the whole blob */
	CHECK(http_check_range(200, NULL, 65536, 0, 65536, 65536, why,
			       sizeof(why)) == 0);
	CHECK(http_check_range(200, NULL, 65536, 0, 4096, 65536, why,
			       sizeof(why)) == -EAGAIN);
	CHECK(http_check_range(200, NULL, 100, 0, 65536, 65536, why,
			       sizeof(why)) == -EPROTO);
	/* asking outside the blob is refused before any request */
	CHECK(http_check_range(206, "bytes 65536-69631/65536", 4096, 65536,
			       4096, 65536, why, sizeof(why)) == -EPROTO);
	CHECK(http_check_range(206, "bytes 0-0/1", 1, 0, 0, 1, why,
			       sizeof(why)) == -EPROTO);
	CHECK(http_check_range(404, NULL, -1, 0, 4096, 65536, why,
			       sizeof(why)) == -ENOENT);
	CHECK(http_check_range(500, NULL, -1, 0, 4096, 65536, why,
			       sizeof(why)) == -EAGAIN);
}

/* ETag and Last-Modified go back in If-Range: only clean values are kept. */
static void test_header_value(void)
{
	char v[16];

	CHECK(http_header_value("ETag: \"ab-1\"\r\n", 14, "etag:", v, sizeof(v)) == 1);
	CHECK_STR(v, "\"ab-1\"");
	CHECK(http_header_value("etag:\t\"x\"  \r\n", 13, "etag:", v, sizeof(v)) == 1);
	CHECK_STR(v, "\"x\"");
	CHECK(http_header_value("Date: x\r\n", 9, "etag:", v, sizeof(v)) == 0);
	/* a control byte, or too long: nothing */
	CHECK(http_header_value("ETag: \"a\rb\"\r\n", 13, "etag:", v, sizeof(v)) == 1);
	CHECK_STR(v, "");
	CHECK(http_header_value("ETag: \"0123456789abcdef\"\r\n", 26, "etag:", v, sizeof(v)) == 1);
	CHECK_STR(v, "");
	CHECK(http_header_value("ETag:", 5, "etag:", v, sizeof(v)) == 1);
	CHECK_STR(v, "");
}

int main(void)
{
	test_header_value();
	test_content_range();
	test_probe();
	test_range();
	return check_report("test_http");
}
