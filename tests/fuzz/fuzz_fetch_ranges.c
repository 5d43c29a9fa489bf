// SPDX-License-Identifier: MIT
/*
 * libFuzzer target: answers to a request for several ranges
 * (daemon/fetch_ranges.c). Input: a byte N (1..8 parts), N pairs of a
 * 16-bit offset step and an 8-bit length, a byte of "got" for part 0, a
 * status byte (206 or other), a Content-Type line and a Content-Range
 * line, each ending in '\n', then the body, fed in pieces of 1 + (N % 7)
 * bytes. The rules: a part never holds more than its length, is told
 * whole exactly once and only when it is, and the bytes before "got" are
 * never written.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "fetch_ranges.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define NP 8
#define SIZE (1u << 22)

static unsigned int told[NP];

static void on_complete(void *ctx, unsigned int i)
{
	struct fetch_part *p = ctx;

	if (i >= NP || told[i]++ || p[i].got != p[i].len)
		abort();
}

static const char *line(const uint8_t **d, size_t *n, char *out, size_t cap)
{
	size_t i;

	for (i = 0; i < *n && (*d)[i] != '\n' && i + 1 < cap; i++)
		out[i] = (char)(*d)[i];
	out[i] = '\0';
	if (i < *n)
		i++;
	*d += i;
	*n -= i;
	return out[0] ? out : NULL;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fetch_part p[NP];
	unsigned char bufs[NP][256], mark[NP];
	struct ranges_answer a;
	char ct[200], cr[200], hdr[NP * 42 + 8];
	const char *ctp, *crp;
	unsigned int n, i, step;
	uint64_t off = 0, got0;
	long status;
	int ret;

	if (size < 1)
		return 0;
	n = (data[0] % NP) + 1;
	step = 1 + data[0] % 7;
	data++;
	size--;
	if (size < n * 3 + 2)
		return 0;
	for (i = 0; i < n; i++) {
		off += ((uint64_t)data[0] << 8 | data[1]);
		p[i] = (struct fetch_part){ .off = off, .len = (uint64_t)data[2] + 1,
					    .buf = bufs[i] };
		off += p[i].len;
		data += 3;
		size -= 3;
	}
	got0 = data[0] % (p[0].len + 1);
	status = data[1] & 1 ? 206 : (long)data[1] * 3;
	data += 2;
	size -= 2;
	memset(bufs, 0xa5, sizeof(bufs));
	memset(told, 0, sizeof(told));
	p[0].got = got0;
	for (i = 0; i < n; i++)
		mark[i] = bufs[i][0];
	ctp = line(&data, &size, ct, sizeof(ct));
	crp = line(&data, &size, cr, sizeof(cr));
	if (ranges_header(p, n, FETCH_PARTS_MAX, hdr, sizeof(hdr)) < 0)
		abort();
	ret = ranges_begin(&a, p, n, n, SIZE, status, ctp, crp, -1,
			   on_complete, p);
	while (!ret && size) {
		size_t k = size < step ? size : step;

		ret = ranges_body(&a, data, k);
		data += k;
		size -= k;
	}
	if (!ret)
		ret = ranges_end(&a);
	if (ret && !a.why[0])
		abort();
	for (i = 0; i < n; i++) {
		if (p[i].got > p[i].len || (p[i].got == p[i].len) != (told[i] || (!i && got0 == p[0].len)))
			abort();
	}
	/* bytes part 0 had are never written again */
	if (got0 && bufs[0][0] != mark[0])
		abort();
	return 0;
}
