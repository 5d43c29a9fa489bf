// SPDX-License-Identifier: MIT
#include <errno.h>
#include <string.h>

#include "text_field.h"

int text_field_name_ok(const char *s, size_t len, size_t max)
{
	size_t i;

	if (!len || len > max || s[0] == '.')
		return 0;
	for (i = 0; i < len; i++) {
		char c = s[i];

		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		      (c >= '0' && c <= '9') || (c && strchr("._:+~-", c))))
			return 0;
	}
	return 1;
}

int text_field_number(const char *s, size_t len, uint64_t max, uint64_t *out)
{
	uint64_t v = 0;
	size_t i;

	if (!len || len > 20 || (len > 1 && s[0] == '0'))
		return -EINVAL;
	for (i = 0; i < len; i++) {
		if (s[i] < '0' || s[i] > '9')
			return -EINVAL;
		/* 20 digits can pass UINT64_MAX: stop before it wraps */
		if (v > (UINT64_MAX - (uint64_t)(s[i] - '0')) / 10)
			return -EINVAL;
		v = v * 10 + (uint64_t)(s[i] - '0');
		if (v > max)
			return -EINVAL;
	}
	*out = v;
	return 0;
}
