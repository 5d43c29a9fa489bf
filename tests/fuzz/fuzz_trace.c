// SPDX-License-Identifier: MIT
/*
 * libFuzzer target: boot traces (lib/format/boot_trace.c), as
 * `lazyrootctl plot` reads them. What parses keeps the rules, writes back
 * and parses again to the same trace, and draws (ctl/plot.c).
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "boot_trace.h"
#include "plot.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static FILE *null;
	struct trace_log t, back;
	char why[256], *text;
	size_t i, len;

	if (trace_parse(&t, (const char *)data, size, why, sizeof(why)))
		return 0;
	for (i = 0; i < t.nevents; i++) {
		const struct trace_event *e = &t.events[i];

		if (e->blob >= t.nblobs || !e->len ||
		    e->off + e->len > TRACE_VALUE_MAX ||
		    (e->type == TRACE_FETCH && e->end_us < e->t_us))
			abort();
	}
	if (trace_format(&t, &text, &len) ||
	    trace_parse(&back, text, len, why, sizeof(why)) ||
	    back.nevents != t.nevents || back.nblobs != t.nblobs ||
	    back.dropped != t.dropped ||
	    (t.nevents &&
	     memcmp(back.events, t.events, t.nevents * sizeof(*t.events))))
		abort();
	free(text);
	trace_log_free(&back);
	if (!null)
		null = fopen("/dev/null", "w");
	if (null && plot_svg(&t, null))
		abort();
	trace_log_free(&t);
	return 0;
}
