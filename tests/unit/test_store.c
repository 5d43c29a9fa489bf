// SPDX-License-Identifier: MIT
/* The on-disk blob store: what it keeps across reopenings, and what it drops. */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
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
	CHECK(store_open(&st, dir, "img", SIZE, sha_a) == 0);
	CHECK(store_has(st, 0, STORE_PAGE) == 0);
	CHECK(store_read(st, buf, 0, STORE_PAGE) == -ENODATA);
	CHECK(store_pages(st, &total) == 0 && total == 6);

	/* put, then read back; the last page is zero-padded */
	CHECK(store_put(st, blob, 0, 2 * STORE_PAGE) == 0);
	CHECK(store_put(st, blob + 4 * STORE_PAGE, 4 * STORE_PAGE, SIZE - 4 * STORE_PAGE) == 0);
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
	CHECK(store_open(&st, dir, "img", SIZE, sha_a) == 0);
	CHECK(store_pages(st, NULL) == 4);
	CHECK(store_read(st, buf, 0, 2 * STORE_PAGE) == 0);
	CHECK(memcmp(buf, blob, 2 * STORE_PAGE) == 0);
	store_close(st);

	/* other content under the same name: nothing is kept */
	CHECK(store_open(&st, dir, "img", SIZE, sha_b) == 0);
	CHECK(store_pages(st, NULL) == 0);
	store_close(st);
	/* nor for the old content coming back */
	CHECK(store_open(&st, dir, "img", SIZE, sha_a) == 0);
	CHECK(store_pages(st, NULL) == 0);
	CHECK(store_put(st, blob, 0, STORE_PAGE) == 0);
	store_close(st);
	/* another size */
	CHECK(store_open(&st, dir, "img", SIZE + STORE_PAGE, sha_a) == 0);
	CHECK(store_pages(st, NULL) == 0);
	CHECK(store_put(st, blob, 0, STORE_PAGE) == 0);
	store_close(st);

	/* a map of the wrong size (a torn reset, another tool) is not trusted */
	path_of(p, sizeof(p), dir, "img.map");
	fd = open(p, O_WRONLY | O_TRUNC);
	CHECK(fd >= 0 && write(fd, "\xff\xff\xff\xff", 4) == 4);
	close(fd);
	CHECK(store_open(&st, dir, "img", SIZE + STORE_PAGE, sha_a) == 0);
	CHECK(store_pages(st, NULL) == 0);
	store_close(st);
	/* nor a missing id */
	path_of(p, sizeof(p), dir, "img.id");
	CHECK(unlink(p) == 0);
	CHECK(store_open(&st, dir, "img", SIZE + STORE_PAGE, sha_a) == 0);
	CHECK(store_pages(st, NULL) == 0);
	store_close(st);

	/* bad arguments */
	CHECK(store_open(&st, dir, "img", SIZE, "abc") == -EINVAL);
	CHECK(store_open(&st, dir, "img", 0, sha_a) == -EINVAL);
	CHECK(store_open(&st, "/nonexistent/dir", "img", SIZE, sha_a) == -ENOENT);

	for (i = 0; i < 4; i++) {
		static const char *ext[] = { "img.id", "img.data", "img.map", "img.id.new" };

		path_of(p, sizeof(p), dir, ext[i]);
		unlink(p);
	}
	rmdir(dir);
	return check_report("test_store");
}
