// SPDX-License-Identifier: MIT
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "url.h"

static int name_char(unsigned char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
	       (c >= '0' && c <= '9') || c == '.' || c == '_' || c == '-' ||
	       c == ':' || c == '+' || c == '~';
}

int url_check_name(const char *name, size_t len)
{
	size_t i;

	if (len == 0 || len > URL_NAME_MAX || name[0] == '.')
		return -EINVAL;
	for (i = 0; i < len; i++)
		if (!name_char((unsigned char)name[i]))
			return -EINVAL;
	return 0;
}

int url_join(char *out, size_t size, const char *base, const char *name,
	     size_t len)
{
	size_t blen = strlen(base);
	int n;

	if (url_check_name(name, len))
		return -EINVAL;
	while (blen && base[blen - 1] == '/')
		blen--;
	n = snprintf(out, size, "%.*s/%.*s", (int)blen, base, (int)len, name);
	if (n < 0 || (size_t)n >= size)
		return -ENAMETOOLONG;
	return 0;
}

int url_list_next(const char **pos, const char **item, size_t *len)
{
	const char *p = *pos, *comma;

	if (!p)
		return 0;
	comma = strchr(p, ',');
	*item = p;
	*len = comma ? (size_t)(comma - p) : strlen(p);
	*pos = comma ? comma + 1 : NULL;
	return 1;
}
