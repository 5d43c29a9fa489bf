// SPDX-License-Identifier: MIT
/* lib/format/prefetch_list.c: the text form, hostile input refused. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "prefetch_list.h"

static int parse(const char *text, struct prefetch_list *l, char *why)
{
	return prefetch_parse(l, text, strlen(text), why, 160);
}

static int refused(const char *text, const char *why_has)
{
	struct prefetch_list l;
	char why[160] = "";
	int ret = parse(text, &l, why);

	if (ret != -EINVAL || !strstr(why, why_has)) {
		fprintf(stderr, "for %.40s: ret %d, why '%s'\n", text, ret, why);
		return 0;
	}
	return l.ranges == NULL && l.nranges == 0;
}

static void test_good(void)
{
	struct prefetch_list l;
	char why[160];

	CHECK(parse("lazyroot-prefetch 1\n# a comment\n\nrootfs-1 0 8192 0\n"
		    "tag_b 4096 4096 17\nrootfs-1 40960 4096 4294967295\n",
		    &l, why) == 0);
	CHECK(l.nblobs == 2 && l.nranges == 3);
	CHECK_STR(l.names[0], "rootfs-1");
	CHECK_STR(l.names[1], "tag_b");
	CHECK(l.ranges[0].blob == 0 && l.ranges[0].off == 0 && l.ranges[0].len == 8192);
	CHECK(l.ranges[1].blob == 1 && l.ranges[1].off == 4096 && l.ranges[1].ms == 17);
	CHECK(l.ranges[2].blob == 0 && l.ranges[2].ms == 4294967295u);
	prefetch_list_free(&l);
	/* a header alone is an empty list */
	CHECK(parse("lazyroot-prefetch 1\n", &l, why) == 0 && l.nranges == 0);
	prefetch_list_free(&l);
}

static void test_bad(void)
{
	CHECK(refused("", "empty"));
	CHECK(refused("lazyroot-prefetch 2\n", "line 1: not a prefetch list"));
	CHECK(refused("\x7f" "ELF\x02\x01\x01\n", "line 1: not a prefetch list"));
	CHECK(refused("lazyroot-prefetch 1", "no newline"));
	CHECK(refused("lazyroot-prefetch 1\nroot 0 4096 0\nroot 4096 40", "line 3: the last line has no newline"));
	CHECK(refused("lazyroot-prefetch 1\nroot 0 4096\n", "line 2: not NAME"));
	CHECK(refused("lazyroot-prefetch 1\nroot  0 4096 0\n", "line 2"));
	CHECK(refused("lazyroot-prefetch 1\nroot 0 4096 0 \n", "line 2"));
	CHECK(refused("lazyroot-prefetch 1\nroot 1 4096 0\n", "pages"));
	CHECK(refused("lazyroot-prefetch 1\nroot 0 0 0\n", "LENGTH is 0"));
	CHECK(refused("lazyroot-prefetch 1\nroot 0 100 0\n", "pages"));
	CHECK(refused("lazyroot-prefetch 1\nroot -4096 4096 0\n", "decimal"));
	CHECK(refused("lazyroot-prefetch 1\nroot 04096 4096 0\n", "decimal"));
	CHECK(refused("lazyroot-prefetch 1\nroot 0 4096 4294967296\n", "decimal"));
	CHECK(refused("lazyroot-prefetch 1\nroot 18446744073709551615 4096 0\n", "decimal"));
	CHECK(refused("lazyroot-prefetch 1\nroot 140737488351232 8192 0\n", "2^47"));
	CHECK(refused("lazyroot-prefetch 1\n../etc 0 4096 0\n", "plain file name"));
	CHECK(refused("lazyroot-prefetch 1\n.hidden 0 4096 0\n", "plain file name"));
	CHECK(refused("lazyroot-prefetch 1\na/b 0 4096 0\n", "plain file name"));
	/* a NUL inside a name (found by the fuzzer) */
	{
		static const char nul[] = "lazyroot-prefetch 1\nro\0ot 0 4096 0\n";
		struct prefetch_list l;
		char why[160];

		CHECK(prefetch_parse(&l, nul, sizeof(nul) - 1, why, sizeof(why)) == -EINVAL);
		CHECK(strstr(why, "line 2: NAME is not a plain file name") != NULL);
	}
}

static void test_limits(void)
{
	size_t n = PREFETCH_RANGES_MAX + 1, i, len = 0;
	char *big = malloc(32 + n * 32), line[PREFETCH_LINE_MAX + 40];
	struct prefetch_list l;
	char why[160];

	len += (size_t)sprintf(big, "lazyroot-prefetch 1\n");
	for (i = 0; i < n; i++)
		len += (size_t)sprintf(big + len, "r %zu 4096 0\n", i * 4096);
	CHECK(prefetch_parse(&l, big, len, why, sizeof(why)) == -EINVAL);
	CHECK(strstr(why, "more than 65536 ranges") != NULL);
	/* one fewer is fine */
	len -= strlen(strrchr(big, 'r'));
	CHECK(prefetch_parse(&l, big, len, why, sizeof(why)) == 0);
	CHECK(l.nranges == PREFETCH_RANGES_MAX);
	prefetch_list_free(&l);
	CHECK(prefetch_parse(&l, big, PREFETCH_FILE_MAX + 1, why, sizeof(why)) == -EINVAL);
	CHECK(strstr(why, "larger than") != NULL);
	free(big);
	/* 17 names */
	big = malloc(4096);
	len = (size_t)sprintf(big, "lazyroot-prefetch 1\n");
	for (i = 0; i < 17; i++)
		len += (size_t)sprintf(big + len, "b%zu 0 4096 0\n", i);
	CHECK(prefetch_parse(&l, big, len, why, sizeof(why)) == -EINVAL);
	CHECK(strstr(why, "line 18: more than 16 blob names") != NULL);
	free(big);
	/* a line over 512 bytes */
	memset(line, '#', sizeof(line));
	memcpy(line, "lazyroot-prefetch 1\n", 20);
	line[sizeof(line) - 1] = '\n';
	CHECK(prefetch_parse(&l, line, sizeof(line), why, sizeof(why)) == -EINVAL);
	CHECK(strstr(why, "line 2: longer than 512") != NULL);
}

static void test_round_trip(void)
{
	struct prefetch_list l = { 0 }, back;
	struct prefetch_range r[2] = {
		{ .off = 8192, .len = 4096, .blob = 1, .ms = 5 },
		{ .off = 0, .len = 1ULL << 30, .blob = 0, .ms = 9 },
	};
	char *text, why[160];
	size_t len;

	CHECK(prefetch_blob_index(&l, "fsid") == 0);
	CHECK(prefetch_blob_index(&l, "tag") == 1);
	CHECK(prefetch_blob_index(&l, "fsid") == 0);
	CHECK(prefetch_blob_index(&l, "no/slash") == -EINVAL);
	l.ranges = r;
	l.nranges = 2;
	CHECK(prefetch_format(&l, "made by a test", &text, &len) == 0);
	CHECK(!strncmp(text, "lazyroot-prefetch 1\n# made by a test\ntag 8192 4096 5\n", 52));
	CHECK(prefetch_parse(&back, text, len, why, sizeof(why)) == 0);
	CHECK(back.nranges == 2 && back.ranges[1].len == 1ULL << 30);
	CHECK_STR(back.names[back.ranges[0].blob], "tag");
	prefetch_list_free(&back);
	free(text);
}

int main(void)
{
	test_good();
	test_bad();
	test_limits();
	test_round_trip();
	return check_report("test_prefetch_list");
}
