// SPDX-License-Identifier: MIT
/*
 * The text form of a prefetch list: a first line "lazyroot-prefetch 1",
 * then one line per range, "NAME OFFSET LENGTH MS", in first-touch order;
 * empty lines and lines starting with '#' are comments. Every line ends in
 * a newline, so a list cut short is told from a whole one.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "prefetch_list.h"
#include "text_field.h"

static int find_name(const struct prefetch_list *l, const char *s, size_t len)
{
	unsigned int i;

	for (i = 0; i < l->nblobs; i++)
		if (strlen(l->names[i]) == len && !memcmp(l->names[i], s, len))
			return (int)i;
	return -1;
}

static int add_name(struct prefetch_list *l, const char *s, size_t len)
{
	int i = find_name(l, s, len);

	if (i >= 0)
		return i;
	if (!text_field_name_ok(s, len, PREFETCH_NAME_MAX))
		return -EINVAL;
	if (l->nblobs == PREFETCH_BLOBS_MAX)
		return -ENOSPC;
	memcpy(l->names[l->nblobs], s, len);
	l->names[l->nblobs][len] = '\0';
	return (int)l->nblobs++;
}

int prefetch_blob_index(struct prefetch_list *l, const char *name)
{
	return add_name(l, name, strlen(name));
}

/* Splits @line (@len bytes, no newline) at single spaces into 4 fields. */
static int fields(const char *line, size_t len, const char *f[4],
		  size_t flen[4])
{
	size_t i = 0, n = 0;

	for (;;) {
		size_t start = i;

		while (i < len && line[i] != ' ')
			i++;
		f[n] = line + start;
		flen[n++] = i - start;
		if (i == len || n == 4)
			break;
		i++; /* the space */
	}
	return n == 4 && i == len ? 0 : -EINVAL;
}

static int parse_range(struct prefetch_list *l, const char *line, size_t len,
		       size_t *cap, const char **what)
{
	const char *f[4];
	size_t flen[4];
	uint64_t off, n, ms;
	struct prefetch_range *r;
	int blob;

	*what = "not NAME OFFSET LENGTH MS, one space apart";
	if (fields(line, len, f, flen))
		return -EINVAL;
	*what = "OFFSET, LENGTH or MS is not a decimal number in range";
	if (text_field_number(f[1], flen[1], PREFETCH_OFF_MAX, &off) ||
	    text_field_number(f[2], flen[2], PREFETCH_OFF_MAX, &n) ||
	    text_field_number(f[3], flen[3], UINT32_MAX, &ms))
		return -EINVAL;
	*what = "OFFSET or LENGTH is not a whole number of 4096-byte pages, or LENGTH is 0";
	if (off % PREFETCH_PAGE || n % PREFETCH_PAGE || !n)
		return -EINVAL;
	*what = "the range ends past 2^47 bytes";
	if (off + n > PREFETCH_OFF_MAX)
		return -EINVAL;
	blob = add_name(l, f[0], flen[0]);
	*what = blob == -ENOSPC ? "more than 16 blob names" :
				  "NAME is not a plain file name";
	if (blob < 0)
		return -EINVAL;
	*what = "more than 65536 ranges";
	if (l->nranges == PREFETCH_RANGES_MAX)
		return -EINVAL;
	if (l->nranges == *cap) {
		size_t ncap = *cap ? 2 * *cap : 256;

		r = realloc(l->ranges, ncap * sizeof(*r));
		if (!r)
			return -ENOMEM;
		l->ranges = r;
		*cap = ncap;
	}
	r = &l->ranges[l->nranges++];
	r->off = off;
	r->len = n;
	r->blob = (uint32_t)blob;
	r->ms = (uint32_t)ms;
	return 0;
}

int prefetch_parse(struct prefetch_list *l, const char *text, size_t len,
		   char *why, size_t why_size)
{
	size_t pos = 0, cap = 0, lineno = 0, mlen = strlen(PREFETCH_MAGIC);
	const char *what = NULL;
	int ret = 0;

	memset(l, 0, sizeof(*l));
	if (len > PREFETCH_FILE_MAX) {
		snprintf(why, why_size, "larger than %u bytes", PREFETCH_FILE_MAX);
		return -EINVAL;
	}
	while (pos < len) {
		const char *line = text + pos;
		const char *nl = memchr(line, '\n', len - pos);
		size_t n = nl ? (size_t)(nl - line) : len - pos;

		lineno++;
		if (!nl) {
			what = "the last line has no newline (cut short?)";
			ret = -EINVAL;
		} else if (n > PREFETCH_LINE_MAX) {
			what = "longer than 512 bytes";
			ret = -EINVAL;
		} else if (lineno == 1) {
			what = "not a prefetch list: the first line is not '" PREFETCH_MAGIC "'";
			if (n != mlen || memcmp(line, PREFETCH_MAGIC, mlen))
				ret = -EINVAL;
		} else if (n && line[0] != '#') {
			ret = parse_range(l, line, n, &cap, &what);
		}
		if (ret)
			break;
		pos += n + 1;
	}
	if (!ret && !lineno) {
		what = "empty";
		ret = -EINVAL;
	}
	if (ret) {
		if (ret == -ENOMEM)
			snprintf(why, why_size, "out of memory");
		else if (lineno)
			snprintf(why, why_size, "line %zu: %s", lineno, what);
		else
			snprintf(why, why_size, "%s", what);
		prefetch_list_free(l);
	}
	return ret;
}

int prefetch_format(const struct prefetch_list *l, const char *comment,
		    char **out, size_t *len)
{
	/* a name, three numbers, spaces and the newline */
	size_t max = strlen(PREFETCH_MAGIC) + 2 +
		     (comment ? strlen(comment) + 3 : 0) +
		     l->nranges * (PREFETCH_NAME_MAX + 3 * 21 + 4);
	char *buf = malloc(max), *p;
	size_t i;

	if (!buf)
		return -ENOMEM;
	p = buf + sprintf(buf, "%s\n", PREFETCH_MAGIC);
	if (comment)
		p += sprintf(p, "# %s\n", comment);
	for (i = 0; i < l->nranges; i++) {
		const struct prefetch_range *r = &l->ranges[i];

		p += sprintf(p, "%s %llu %llu %u\n", l->names[r->blob],
			     (unsigned long long)r->off,
			     (unsigned long long)r->len, r->ms);
	}
	*out = buf;
	*len = (size_t)(p - buf);
	return 0;
}

void prefetch_list_free(struct prefetch_list *l)
{
	free(l->ranges);
	l->ranges = NULL;
	l->nranges = 0;
	l->nblobs = 0;
}
