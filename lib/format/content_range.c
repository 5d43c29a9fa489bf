// SPDX-License-Identifier: MIT
#include <strings.h>

#include "content_range.h"

/* 1*DIGIT (leading zeros allowed); sets *overflow past 2^64 - 1 */
static int read_u64(const char **s, const char *end, uint64_t *out,
		    int *overflow)
{
	const char *start = *s;
	uint64_t v = 0;

	for (; *s < end && **s >= '0' && **s <= '9'; (*s)++) {
		unsigned int d = (unsigned int)(**s - '0');

		if (v > (UINT64_MAX - d) / 10)
			*overflow = 1;
		else
			v = v * 10 + d;
	}
	*out = v;
	return *s > start;
}

const char *content_range_read(const char *v, size_t len, int unknown_ok,
			       uint64_t *first, uint64_t *last, uint64_t *size)
{
	const char *s = v, *end = v + len;
	int overflow = 0, unknown = 0;

	if (len < 6 || strncasecmp(s, "bytes", 5) || (s[5] != ' ' && s[5] != '\t'))
		return "is not 'bytes FIRST-LAST/SIZE'";
	s += 5;
	while (s < end && (*s == ' ' || *s == '\t'))
		s++;
	if (!read_u64(&s, end, first, &overflow) || s == end || *s++ != '-' ||
	    !read_u64(&s, end, last, &overflow) || s == end || *s++ != '/')
		return "is not 'bytes FIRST-LAST/SIZE'";
	if (unknown_ok && end - s == 1 && *s == '*') {
		*size = CONTENT_RANGE_SIZE_UNKNOWN;
		unknown = 1;
	} else if (!read_u64(&s, end, size, &overflow) || s != end) {
		return "is not 'bytes FIRST-LAST/SIZE'";
	}
	if (overflow)
		return "has a number past 2^64";
	if (*first > *last)
		return "is not a range";
	if (!unknown && *last >= *size)
		return "ends past the size";
	return NULL;
}
