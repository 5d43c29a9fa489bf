// SPDX-License-Identifier: MIT
/* The blob stores: on disk, what it keeps across reopenings and drops; in RAM, its budget. */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "check.h"
#include "store.h"

#define SIZE (5 * STORE_PAGE + 100) /* a partial last page */

static const char *sha_a = "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa";
static const char *sha_b = "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb";

static void path_of(char *out, size_t n, const char *dir, const char *file)
{
	snprintf(out, n, "%s/%s", dir, file);
}

/*
 * The RAM store: the same pages as the disk store, in one budget shared by
 * two blobs; a full budget keeps what it holds and takes no more.
 */
static void test_ram(const unsigned char *blob)
{
	struct store_budget budget = { .limit = 3 * STORE_PAGE };
	static unsigned char buf[2 * STORE_PAGE];
	struct store *a, *b;

	CHECK(store_open_ram(&a, "img", SIZE, &budget) == 0);
	CHECK(store_open_ram(&b, "data", SIZE, &budget) == 0);
	CHECK(store_in_ram(a) && store_pages(a, NULL) == 0);
	CHECK(store_put(a, blob, 0, 2 * STORE_PAGE) == 0);
	CHECK(budget.used == 2 * STORE_PAGE);
	/* a page it holds already costs nothing */
	CHECK(store_put(a, blob, STORE_PAGE, STORE_PAGE) == 0);
	CHECK(budget.used == 2 * STORE_PAGE);
	/* the other blob's two pages do not fit in the one left: none kept */
	CHECK(store_put(b, blob, 0, 2 * STORE_PAGE) == -ENOSPC);
	CHECK(store_has(b, 0, STORE_PAGE) == 0 && budget.used == 2 * STORE_PAGE);
	/* the last page (part bytes, part zeros) does */
	CHECK(store_put(b, blob + 5 * STORE_PAGE, 5 * STORE_PAGE, 100) == 0);
	CHECK(budget.used == 3 * STORE_PAGE);
	CHECK(store_read(b, buf, 5 * STORE_PAGE, STORE_PAGE) == 0);
	CHECK(memcmp(buf, blob + 5 * STORE_PAGE, 100) == 0 && buf[100] == 0);
	/* full: what is there still reads */
	CHECK(store_put(a, blob + 2 * STORE_PAGE, 2 * STORE_PAGE, STORE_PAGE) == -ENOSPC);
	CHECK(store_read(a, buf, 0, 2 * STORE_PAGE) == 0);
	CHECK(memcmp(buf, blob, 2 * STORE_PAGE) == 0);
	CHECK(store_put(a, blob, 1, STORE_PAGE) == -EINVAL);
	/* closing a blob gives its pages back */
	store_close(b);
	CHECK(budget.used == 2 * STORE_PAGE);
	CHECK(store_put(a, blob + 2 * STORE_PAGE, 2 * STORE_PAGE, STORE_PAGE) == 0);
	store_close(a);
	CHECK(budget.used == 0);
	CHECK(store_open_ram(&a, "img", 0, &budget) == -EINVAL);
}

/* Flips one byte of @file in @dir at @off. */
static void flip(const char *dir, const char *file, off_t off)
{
	char p[256];
	unsigned char c;
	int fd;

	path_of(p, sizeof(p), dir, file);
	fd = open(p, O_RDWR);
	CHECK(fd >= 0 && pread(fd, &c, 1, off) == 1);
	c ^= 0x20;
	CHECK(pwrite(fd, &c, 1, off) == 1);
	close(fd);
}

/*
 * With sums, a page changed on the disk behind the store's back reads as
 * -EBADMSG; dropped, it is gone, also for the next opening. Without sums
 * the store cannot tell (the manifest checks those).
 */
static void test_sums(const char *dir, const unsigned char *blob)
{
	static unsigned char buf[6 * STORE_PAGE];
	struct store *st;

	CHECK(store_open(&st, dir, "img", SIZE, sha_b, STORE_SUMS) == 0);
	CHECK(store_put(st, blob, 0, SIZE) == 0);
	CHECK(store_sync(st) == 0 && store_pages(st, NULL) == 6);
	store_close(st);
	flip(dir, "img.data", 2 * STORE_PAGE + 17);
	flip(dir, "img.data", SIZE - 1);
	CHECK(store_open(&st, dir, "img", SIZE, sha_b, STORE_SUMS) == 0);
	CHECK(store_pages(st, NULL) == 6);
	CHECK(store_read(st, buf, 0, 2 * STORE_PAGE) == 0);
	CHECK(memcmp(buf, blob, 2 * STORE_PAGE) == 0);
	CHECK(store_read(st, buf, 0, 3 * STORE_PAGE) == -EBADMSG);
	CHECK(store_read(st, buf, 2 * STORE_PAGE, STORE_PAGE) == -EBADMSG);
	CHECK(store_read(st, buf, 5 * STORE_PAGE, STORE_PAGE) == -EBADMSG);
	store_drop(st, 2 * STORE_PAGE, STORE_PAGE);
	CHECK(store_has(st, 2 * STORE_PAGE, STORE_PAGE) == 0);
	CHECK(store_pages(st, NULL) == 5);
	/* put again, it reads right */
	CHECK(store_put(st, blob + 2 * STORE_PAGE, 2 * STORE_PAGE, STORE_PAGE) == 0);
	CHECK(store_sync(st) == 0);
	CHECK(store_read(st, buf, 0, 5 * STORE_PAGE) == 0);
	CHECK(memcmp(buf, blob, 5 * STORE_PAGE) == 0);
	store_drop(st, 5 * STORE_PAGE, STORE_PAGE);
	store_close(st);
	/* the drop reached the map on disk */
	CHECK(store_open(&st, dir, "img", SIZE, sha_b, STORE_SUMS) == 0);
	CHECK(store_pages(st, NULL) == 5 && !store_has(st, 5 * STORE_PAGE, STORE_PAGE));
	store_close(st);

	/* no sums: the bytes as the disk has them */
	CHECK(store_open(&st, dir, "img", SIZE, sha_b, 0) == 0);
	CHECK(store_put(st, blob, 0, SIZE) == 0);
	CHECK(store_sync(st) == 0);
	store_close(st);
	flip(dir, "img.data", 17);
	CHECK(store_open(&st, dir, "img", SIZE, sha_b, 0) == 0);
	CHECK(store_read(st, buf, 0, STORE_PAGE) == 0 && buf[17] != blob[17]);
	store_close(st);
}

/* What a copy is of, without opening it; and where it came from. */
static void test_peek(const char *dir, const unsigned char *blob)
{
	char hex[65], p[256];
	struct store *st;
	unsigned int flags;
	uint64_t size;
	int fd;

	CHECK(store_open(&st, dir, "img", SIZE, sha_a, STORE_SUMS) == 0);
	CHECK(store_put(st, blob, 0, STORE_PAGE) == 0);
	store_close(st);
	CHECK(store_peek(dir, "img", &size, hex, &flags) == 0);
	CHECK(size == SIZE && !strcmp(hex, sha_a) && flags == STORE_SUMS);
	CHECK(store_peek(dir, "none", &size, hex, &flags) == -ENOENT);
	CHECK(store_set_origin(dir, "img", "https://a/img") == 0);
	CHECK(store_origin_is(dir, "img", "https://a/img") == 1);
	CHECK(store_origin_is(dir, "img", "https://a/im") == 0);
	CHECK(store_origin_is(dir, "img", "https://b/img") == 0);
	CHECK(store_origin_is(dir, "none", "https://a/img") == 0);
	/* an id that is not one */
	path_of(p, sizeof(p), dir, "img.id");
	fd = open(p, O_WRONLY | O_TRUNC);
	CHECK(fd >= 0 && write(fd, "lazyroot-store 2\nsize 0\n", 24) == 24);
	close(fd);
	CHECK(store_peek(dir, "img", &size, hex, &flags) == -EBADMSG);
}

int main(void)
{
	char dir[] = "/tmp/test_store.XXXXXX", p[256];
	static unsigned char blob[SIZE], buf[6 * STORE_PAGE];
	struct store *st;
	uint64_t total;
	size_t i;
	int fd;

	for (i = 0; i < sizeof(blob); i++)
		blob[i] = (unsigned char)(i * 7 + 3);
	if (!mkdtemp(dir))
		return 2;

	/* a fresh copy has nothing */
	CHECK(store_open(&st, dir, "img", SIZE, sha_a, STORE_SUMS) == 0);
	CHECK(store_has(st, 0, STORE_PAGE) == 0);
	CHECK(store_read(st, buf, 0, STORE_PAGE) == -ENODATA);
	CHECK(store_pages(st, &total) == 0 && total == 6);

	/* put, then read back; the last page is zero-padded */
	CHECK(store_put(st, blob, 0, 2 * STORE_PAGE) == 0);
	CHECK(store_put(st, blob + 4 * STORE_PAGE, 4 * STORE_PAGE, SIZE - 4 * STORE_PAGE) == 0);
	/* the writer thread has them once synced */
	CHECK(store_sync(st) == 0);
	CHECK(store_has(st, 0, 2 * STORE_PAGE) == 1);
	CHECK(store_has(st, 0, 3 * STORE_PAGE) == 0);
	CHECK(store_has(st, 4 * STORE_PAGE, 2 * STORE_PAGE) == 1);
	CHECK(store_read(st, buf, 4 * STORE_PAGE, 2 * STORE_PAGE) == 0);
	CHECK(memcmp(buf, blob + 4 * STORE_PAGE, SIZE - 4 * STORE_PAGE) == 0);
	CHECK(buf[SIZE - 4 * STORE_PAGE] == 0 && buf[2 * STORE_PAGE - 1] == 0);

	/* what it refuses: unaligned, past the end, short of a page end */
	CHECK(store_put(st, blob, 1, STORE_PAGE) == -EINVAL);
	CHECK(store_put(st, blob, 0, SIZE + 1) == -EINVAL);
	CHECK(store_put(st, blob, 0, 100) == -EINVAL);
	CHECK(store_has(st, 1, 10) == 0);
	CHECK(store_has(st, 6 * STORE_PAGE, STORE_PAGE) == 0);
	CHECK(store_has(st, 4 * STORE_PAGE, 3 * STORE_PAGE) == 0);
	store_close(st);

	/* reopened for the same content: the pages are still there */
	CHECK(store_open(&st, dir, "img", SIZE, sha_a, STORE_SUMS) == 0);
	CHECK(store_pages(st, NULL) == 4);
	CHECK(store_read(st, buf, 0, 2 * STORE_PAGE) == 0);
	CHECK(memcmp(buf, blob, 2 * STORE_PAGE) == 0);
	store_close(st);

	/* other content under the same name: nothing is kept */
	CHECK(store_open(&st, dir, "img", SIZE, sha_b, STORE_SUMS) == 0);
	CHECK(store_pages(st, NULL) == 0);
	store_close(st);
	/* nor for the old content coming back */
	CHECK(store_open(&st, dir, "img", SIZE, sha_a, STORE_SUMS) == 0);
	CHECK(store_pages(st, NULL) == 0);
	CHECK(store_put(st, blob, 0, STORE_PAGE) == 0);
	store_close(st);
	/* written before the close returned */
	CHECK(store_open(&st, dir, "img", SIZE, sha_a, STORE_SUMS) == 0);
	CHECK(store_pages(st, NULL) == 1);
	store_close(st);
	/* the same content without sums is another copy */
	CHECK(store_open(&st, dir, "img", SIZE, sha_a, 0) == 0);
	CHECK(store_pages(st, NULL) == 0);
	store_close(st);
	/* another size */
	CHECK(store_open(&st, dir, "img", SIZE + STORE_PAGE, sha_a, STORE_SUMS) == 0);
	CHECK(store_pages(st, NULL) == 0);
	CHECK(store_put(st, blob, 0, STORE_PAGE) == 0);
	store_close(st);

	/* a map of the wrong size (a torn reset, another tool) is not trusted */
	path_of(p, sizeof(p), dir, "img.map");
	fd = open(p, O_WRONLY | O_TRUNC);
	CHECK(fd >= 0 && write(fd, "\xff\xff\xff\xff", 4) == 4);
	close(fd);
	CHECK(store_open(&st, dir, "img", SIZE + STORE_PAGE, sha_a, STORE_SUMS) == 0);
	CHECK(store_pages(st, NULL) == 0);
	store_close(st);
	/* nor a missing id */
	path_of(p, sizeof(p), dir, "img.id");
	CHECK(unlink(p) == 0);
	CHECK(store_open(&st, dir, "img", SIZE + STORE_PAGE, sha_a, STORE_SUMS) == 0);
	CHECK(store_pages(st, NULL) == 0);
	store_close(st);

	test_sums(dir, blob);
	test_peek(dir, blob);

	/* bad arguments */
	CHECK(store_open(&st, dir, "img", SIZE, "abc", 0) == -EINVAL);
	CHECK(store_open(&st, dir, "img", 0, sha_a, 0) == -EINVAL);
	CHECK(store_open(&st, "/nonexistent/dir", "img", SIZE, sha_a, 0) == -ENOENT);

	for (i = 0; i < 4; i++) {
		static const char *ext[] = { "img.id", "img.data", "img.map", "img.sum" };

		path_of(p, sizeof(p), dir, ext[i]);
		unlink(p);
	}
	path_of(p, sizeof(p), dir, "img.from");
	unlink(p);
	rmdir(dir);
	test_ram(blob);
	return check_report("test_store");
}
