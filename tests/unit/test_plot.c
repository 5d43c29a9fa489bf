// SPDX-License-Identifier: MIT
/*
 * ctl/plot.c: a trace drawn as SVG: the title counts what the trace holds,
 * each curve and each read is there, and an empty trace still draws.
 */
#include <stdlib.h>
#include <string.h>

#include "boot_trace.h"
#include "check.h"
#include "plot.h"

static char *draw(const char *text)
{
	struct trace_log t;
	char why[256], *svg = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&svg, &len);

	CHECK(trace_parse(&t, text, strlen(text), why, sizeof(why)) == 0);
	CHECK(plot_svg(&t, f) == 0);
	fclose(f);
	trace_log_free(&t);
	return svg;
}

static size_t count(const char *s, const char *what)
{
	size_t n = 0;

	while ((s = strstr(s, what))) {
		n++;
		s++;
	}
	return n;
}

int main(void)
{
	char *svg = draw("lazyroot-trace 1\n"
			 "blob 0 root\n"
			 "read 2000000 0 0 4096 waited\n"
			 "fetch 2000100 2500000 0 0 1048576 demand ok\n"
			 "fetch 2100000 2600000 0 1048576 1048576 ahead ok\n"
			 "fetch 2200000 2300000 0 2097152 4096 prefetch failed\n"
			 "read 2700000 0 1048576 4096 stored\n");

	CHECK(!strncmp(svg, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<svg ", 44));
	CHECK(strstr(svg, ">lazyrootd: 3 fetches, 2.0 MiB, at most 3 at once; 2 reads, 1 waited for the network</text>") != NULL);
	CHECK(strstr(svg, "failed fetches count in flight, not in bytes") != NULL);
	CHECK(count(svg, "<path ") == 2);
	CHECK(count(svg, "<circle ") == 2);
	CHECK(count(svg, "fill=\"#d62728\"") == 1);
	/* the time axis starts at the whole second before the first event */
	CHECK(strstr(svg, ">2 s</text>") != NULL);
	CHECK(!strcmp(svg + strlen(svg) - 7, "</svg>\n"));
	free(svg);

	svg = draw("lazyroot-trace 1\ndropped 5\n");
	CHECK(strstr(svg, ">lazyrootd: 0 fetches, 0.0 MiB, at most 0 at once; 0 reads, 0 waited for the network</text>") != NULL);
	CHECK(strstr(svg, "the trace was full") != NULL);
	CHECK(!strcmp(svg + strlen(svg) - 7, "</svg>\n"));
	free(svg);
	return check_report("test_plot");
}
