// SPDX-License-Identifier: MIT
/*
 * lib/format/boot_trace.c: a trace parses and writes back the same; each
 * rule of the format refuses, naming the line; daemon/trace.c keeps its
 * bound.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "boot_trace.h"
#include "check.h"
#include "trace.h"

static const char good[] =
	"lazyroot-trace 1\n"
	"blob 0 rootfs-test\n"
	"blob 1 dev.1\n"
	"read 1500000 0 0 4096 waited\n"
	"fetch 1500010 1600000 0 0 131072 demand ok\n"
	"fetch 1600000 1700000 0 131072 262144 ahead failed\n"
	"read 1800000 1 8192 4096 stored\n"
	"fetch 1600000 1600000 1 0 4096 prefetch ok\n"
	"dropped 3\n";

static void test_round_trip(void)
{
	struct trace_log t;
	char why[256], *out;
	size_t len;

	CHECK(trace_parse(&t, good, sizeof(good) - 1, why, sizeof(why)) == 0);
	CHECK(t.nblobs == 2 && t.nevents == 5 && t.dropped == 3);
	CHECK_STR(t.names[1], "dev.1");
	CHECK(t.events[0].type == TRACE_READ && t.events[0].flag == 1);
	CHECK(t.events[1].type == TRACE_FETCH && t.events[1].why == TRACE_DEMAND &&
	      t.events[1].end_us == 1600000 && !t.events[1].flag);
	CHECK(t.events[2].why == TRACE_AHEAD && t.events[2].flag == 1);
	CHECK(t.events[3].blob == 1 && !t.events[3].flag);
	CHECK(t.events[4].why == TRACE_PREFETCH);
	CHECK(trace_format(&t, &out, &len) == 0);
	CHECK(len == sizeof(good) - 1 && !memcmp(out, good, len));
	free(out);
	trace_log_free(&t);
	/* comments and empty lines are skipped */
	{
		static const char c[] = "lazyroot-trace 1\n# x\n\nblob 0 a\n";

		CHECK(trace_parse(&t, c, sizeof(c) - 1, why, sizeof(why)) == 0);
		CHECK(t.nblobs == 1 && !t.nevents);
		trace_log_free(&t);
	}
}

static void refuses(const char *text, const char *want)
{
	struct trace_log t;
	char why[256] = "";

	CHECK(trace_parse(&t, text, strlen(text), why, sizeof(why)) == -EINVAL);
	if (strcmp(why, want))
		fprintf(stderr, "%s: got '%s', want '%s'\n", text, why, want);
	CHECK_STR(why, want);
}

static void test_refusals(void)
{
	refuses("", "line 1: empty: not a trace");
	refuses("lazyroot-prefetch 1\n", "line 1: not a trace: the first line is not 'lazyroot-trace 1'");
	refuses("lazyroot-trace 1\nblob 0 a", "line 2: the last line has no newline (cut short?)");
	refuses("lazyroot-trace 1\nblob 1 a\n", "line 2: blob indexes go 0, 1, ... in order");
	refuses("lazyroot-trace 1\nblob 0 ../a\n", "line 2: the blob name is not a plain file name of at most 255 bytes");
	refuses("lazyroot-trace 1\nblob 0 a\nread 1 1 0 4096 waited\n", "line 3: the blob index names no blob line before it");
	refuses("lazyroot-trace 1\nblob 0 a\nread 1 0 0 0 waited\n", "line 3: the offset or length is not a number, the length is 0, or the range is too far");
	refuses("lazyroot-trace 1\nblob 0 a\nread 01 0 0 1 waited\n", "line 3: a time is not a number of microseconds");
	refuses("lazyroot-trace 1\nblob 0 a\nread 1 0 0 1 maybe\n", "line 3: a read is 'waited' or 'stored'");
	refuses("lazyroot-trace 1\nblob 0 a\nread 1 0 0 1\n", "line 3: a read line has 6 fields");
	refuses("lazyroot-trace 1\nblob 0 a\nfetch 5 4 0 0 1 demand ok\n", "line 3: the fetch ends before it starts");
	refuses("lazyroot-trace 1\nblob 0 a\nfetch 4 5 0 0 1 later ok\n", "line 3: a fetch is 'demand', 'ahead' or 'prefetch'");
	refuses("lazyroot-trace 1\nblob 0 a\nfetch 4 5 0 0 1 demand fine\n", "line 3: a fetch ends 'ok' or 'failed'");
	refuses("lazyroot-trace 1\nblob 0 a\nfetch 4 5 0 9007199254740992 1 demand ok\n", "line 3: the offset or length is not a number, the length is 0, or the range is too far");
	refuses("lazyroot-trace 1\nblob 0 a\nread  1 0 0 1 waited\n", "line 3: not fields separated by single spaces (at most 9)");
	refuses("lazyroot-trace 1\nwrite 1\n", "line 2: not a blob, fetch, read or dropped line");
	refuses("lazyroot-trace 1\ndropped 1\ndropped 2\n", "line 3: one 'dropped COUNT' line at most");
	refuses("lazyroot-trace 1\nblob 0 a\xff\n", "line 2: not printable ASCII");
	refuses("lazyroot-trace 1\nblob 99999999999999999999999 a\n", "line 2: blob indexes go 0, 1, ... in order");
}

/* The daemon's trace keeps TRACE_EVENTS_MAX events and counts the rest. */
static void test_bound(void)
{
	struct trace *t;
	struct trace_log back;
	char *out, why[256];
	size_t len, i;

	CHECK(trace_new(&t) == 0);
	for (i = 0; i < TRACE_EVENTS_MAX + 10; i++)
		trace_read(t, "root", i * 4096, 4096, i & 1);
	trace_fetch(t, "root", trace_now_us(), 0, 4096, TRACE_DEMAND, 0);
	/* a name the format refuses is not kept either */
	CHECK(trace_text(t, &out, &len) == 0);
	CHECK(trace_parse(&back, out, len, why, sizeof(why)) == 0);
	CHECK(back.nevents == TRACE_EVENTS_MAX);
	CHECK(back.dropped == 11);
	CHECK(back.events[1].off == 4096 && back.events[1].flag == 1);
	trace_log_free(&back);
	free(out);
	trace_free(t);

	CHECK(trace_new(&t) == 0);
	trace_read(t, "../x", 0, 4096, 1);
	trace_read(t, "ok", 0, 4096, 1);
	CHECK(trace_text(t, &out, &len) == 0);
	CHECK(!strncmp(out, "lazyroot-trace 1\nblob 0 ok\nread ", 32));
	CHECK(strstr(out, "\ndropped 1\n") != NULL);
	free(out);
	trace_free(t);
}

int main(void)
{
	test_round_trip();
	test_refusals();
	test_bound();
	return check_report("test_boot_trace");
}
