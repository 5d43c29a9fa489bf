// SPDX-License-Identifier: MIT
/* daemon/record.c: first touches in order, merged, bounded. */
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "prefetch_list.h"
#include "record.h"

#define P 4096

/* The record written and read back. */
static void as_list(const struct record *r, struct prefetch_list *l)
{
	char *text, why[160];
	size_t len;

	CHECK(record_text(r, &text, &len) == 0);
	CHECK(prefetch_parse(l, text, len, why, sizeof(why)) == 0);
	free(text);
}

static void test_order_and_merge(void)
{
	struct record *r;
	struct prefetch_list l;

	CHECK(record_new(&r) == 0);
	record_touch(r, "root", 10 * P, 12 * P);
	record_touch(r, "root", 12 * P, 13 * P);	/* continues: merged */
	record_touch(r, "data", 0, P);
	record_touch(r, "root", 11 * P, 12 * P);	/* read before: nothing */
	record_touch(r, "root", 8 * P, 15 * P);	/* only the new pages */
	record_touch(r, "root", 0, P);
	as_list(r, &l);
	CHECK(l.nranges == 5);
	CHECK_STR(l.names[l.ranges[0].blob], "root");
	CHECK(l.ranges[0].off == 10 * P && l.ranges[0].len == 3 * P);
	CHECK_STR(l.names[l.ranges[1].blob], "data");
	CHECK(l.ranges[2].off == 8 * P && l.ranges[2].len == 2 * P);
	CHECK(l.ranges[3].off == 13 * P && l.ranges[3].len == 2 * P);
	CHECK(l.ranges[4].off == 0 && l.ranges[4].len == P);
	CHECK(record_covers(r, "root", 8 * P, 15 * P));
	CHECK(record_covers(r, "root", 0, P));
	CHECK(!record_covers(r, "root", 0, 2 * P));
	CHECK(!record_covers(r, "root", 7 * P, 9 * P));
	CHECK(!record_covers(r, "other", 0, P));
	prefetch_list_free(&l);
	record_free(r);
}

static void test_bounded(void)
{
	struct record *r;
	struct prefetch_list l;
	size_t i;

	CHECK(record_new(&r) == 0);
	/* every other page: nothing merges */
	for (i = 0; i < PREFETCH_RANGES_MAX + 10; i++)
		record_touch(r, "root", 2 * i * P, (2 * i + 1) * P);
	as_list(r, &l);
	CHECK(l.nranges == PREFETCH_RANGES_MAX);
	CHECK(!record_covers(r, "root", 2 * PREFETCH_RANGES_MAX * P,
			     (2 * PREFETCH_RANGES_MAX + 1) * P));
	prefetch_list_free(&l);
	record_free(r);
	/* a 17th blob is not recorded */
	CHECK(record_new(&r) == 0);
	for (i = 0; i < 17; i++) {
		char name[8];

		snprintf(name, sizeof(name), "b%zu", i);
		record_touch(r, name, 0, P);
	}
	as_list(r, &l);
	CHECK(l.nranges == 16 && l.nblobs == 16);
	prefetch_list_free(&l);
	record_free(r);
}

int main(void)
{
	test_order_and_merge();
	test_bounded();
	return check_report("test_record");
}
