// SPDX-License-Identifier: MIT
/*
 * libFuzzer target: prefetch lists (lib/format/prefetch_list.c). What
 * parses is checked against the rules, written back and parsed again to
 * the same list; the record (daemon/record.c) takes its ranges.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "prefetch_list.h"
#include "record.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct prefetch_list l, back;
	struct record *r;
	char why[160], *text;
	size_t i, len;

	if (prefetch_parse(&l, (const char *)data, size, why, sizeof(why)))
		return 0;
	for (i = 0; i < l.nranges; i++) {
		const struct prefetch_range *p = &l.ranges[i];

		if (p->blob >= l.nblobs || !p->len || p->off % PREFETCH_PAGE ||
		    p->len % PREFETCH_PAGE || p->off + p->len > PREFETCH_OFF_MAX)
			abort();
	}
	if (prefetch_format(&l, NULL, &text, &len) ||
	    prefetch_parse(&back, text, len, why, sizeof(why)) ||
	    back.nranges != l.nranges ||
	    (l.nranges &&
	     memcmp(back.ranges, l.ranges, l.nranges * sizeof(*l.ranges))))
		abort();
	free(text);
	prefetch_list_free(&back);
	if (!record_new(&r)) {
		for (i = 0; i < l.nranges; i++)
			record_touch(r, l.names[l.ranges[i].blob], l.ranges[i].off,
				     l.ranges[i].off + l.ranges[i].len);
		for (i = 0; i < l.nranges; i++)
			if (!record_covers(r, l.names[l.ranges[i].blob], l.ranges[i].off,
					   l.ranges[i].off + l.ranges[i].len))
				abort();
		record_free(r);
	}
	prefetch_list_free(&l);
	return 0;
}
