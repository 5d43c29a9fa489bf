// SPDX-License-Identifier: MIT
/* lib/io.c and lib/page.h: whole-buffer I/O, small files, page rounding. */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "check.h"
#include "io.h"
#include "page.h"

static char dir[] = "/tmp/test_io.XXXXXX";

static const char *path(const char *name)
{
	static char p[64];

	snprintf(p, sizeof(p), "%s/%s", dir, name);
	return p;
}

static void put(const char *name, const char *data, size_t len)
{
	int fd = open(path(name), O_WRONLY | O_CREAT | O_TRUNC, 0644);

	CHECK(fd >= 0 && io_pwrite_all(fd, data, len, 0) == 0);
	close(fd);
}

static void test_read_file(void)
{
	unsigned char *buf = NULL;

	put("small", "hello", 5);
	CHECK(io_read_file(path("small"), &buf, 100) == 5);
	CHECK(buf && !memcmp(buf, "hello", 6)); /* NUL-terminated */
	free(buf);
}

static void test_read_file_empty(void)
{
	unsigned char *buf = NULL;

	put("empty", "", 0);
	CHECK(io_read_file(path("empty"), &buf, 100) == 0);
	CHECK(buf && buf[0] == '\0');
	free(buf);
}

/* exactly the limit is fine, one byte more is not */
static void test_read_file_limit(void)
{
	unsigned char *buf = NULL;

	put("five", "12345", 5);
	CHECK(io_read_file(path("five"), &buf, 5) == 5);
	free(buf);
	buf = NULL;
	CHECK(io_read_file(path("five"), &buf, 4) == -EFBIG);
	CHECK(buf == NULL);
}

/* a file larger than the first buffer comes whole; the limit still holds */
static void test_read_file_grows(void)
{
	static char data[100000];
	unsigned char *buf = NULL;
	size_t i;

	for (i = 0; i < sizeof(data); i++)
		data[i] = (char)('a' + i % 23);
	put("large", data, sizeof(data));
	CHECK(io_read_file(path("large"), &buf, 1 << 20) == (ssize_t)sizeof(data));
	CHECK(buf && !memcmp(buf, data, sizeof(data)) && buf[sizeof(data)] == 0);
	free(buf);
	buf = NULL;
	CHECK(io_read_file(path("large"), &buf, sizeof(data)) == (ssize_t)sizeof(data));
	free(buf);
	buf = NULL;
	CHECK(io_read_file(path("large"), &buf, sizeof(data) - 1) == -EFBIG);
	CHECK(buf == NULL);
}

static void test_read_file_missing(void)
{
	unsigned char *buf = NULL;

	CHECK(io_read_file(path("nosuch"), &buf, 5) == -ENOENT);
	CHECK(io_read_file(dir, &buf, 5) == -EISDIR);
}

/* reading past the end of a file is an error, not a short success */
static void test_pread_all_past_end(void)
{
	char b[8];
	int fd;

	put("three", "abc", 3);
	fd = open(path("three"), O_RDONLY);
	CHECK(io_pread_all(fd, b, 3, 0) == 0 && !memcmp(b, "abc", 3));
	CHECK(io_pread_all(fd, b, 4, 0) == -EIO);
	close(fd);
}

static void test_page(void)
{
	CHECK(page_down(4097) == 4096 && page_down(4096) == 4096);
	CHECK(page_up(1) == 4096 && page_up(4096) == 4096 &&
	      page_up(0) == 0 && page_up(8193) == 12288);
	CHECK(page_aligned(0) && page_aligned(8192) && !page_aligned(100));
	CHECK(page_up(1ULL << 40) == 1ULL << 40);
}

int main(void)
{
	if (!mkdtemp(dir))
		return 1;
	test_read_file();
	test_read_file_empty();
	test_read_file_limit();
	test_read_file_grows();
	test_read_file_missing();
	test_pread_all_past_end();
	test_page();
	{
		char cmd[64];

		snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
		CHECK(system(cmd) == 0);
	}
	return check_report("test_io");
}
