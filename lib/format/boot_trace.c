// SPDX-License-Identifier: MIT
/*
 * The text form of a boot trace: a first line "lazyroot-trace 1", then
 * one line per blob name and per event, fields separated by one space:
 *   blob INDEX NAME
 *   fetch START_US END_US BLOB OFFSET LENGTH demand|ahead|prefetch ok|failed
 *   read TIME_US BLOB OFFSET LENGTH waited|stored
 *   dropped COUNT
 * Empty lines and lines starting with '#' are comments. Every line ends in
 * a newline, so a trace cut short is told from a whole one.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "boot_trace.h"
#include "text_field.h"

#define FIELDS_MAX 9

static const char *const why_names[] = { "demand", "ahead", "prefetch", "fill" };

int trace_name_ok(const char *s, size_t len)
{
	return text_field_name_ok(s, len, TRACE_NAME_MAX);
}

struct field {
	const char *s;
	size_t len;
};

static int is(const struct field *f, const char *word)
{
	return f->len == strlen(word) && !memcmp(f->s, word, f->len);
}

/* Splits @line (@len bytes, no newline) at single spaces; -1 if too many or empty fields. */
static int split(const char *line, size_t len, struct field *f)
{
	size_t i, start = 0;
	int n = 0;

	for (i = 0; i <= len; i++) {
		if (i < len && line[i] != ' ')
			continue;
		if (i == start || n == FIELDS_MAX)
			return -1;
		f[n].s = line + start;
		f[n++].len = i - start;
		start = i + 1;
	}
	return n;
}

static int fail(char *why, size_t size, size_t lineno, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

static int fail(char *why, size_t size, size_t lineno, const char *fmt, ...)
{
	va_list ap;
	int n = snprintf(why, size, "line %zu: ", lineno);

	va_start(ap, fmt);
	if (n >= 0 && (size_t)n < size)
		vsnprintf(why + n, size - (size_t)n, fmt, ap);
	va_end(ap);
	return -EINVAL;
}

static int add_event(struct trace_log *t, size_t *cap,
		     const struct trace_event *e)
{
	if (t->nevents == *cap) {
		size_t ncap = *cap ? 2 * *cap : 256;
		struct trace_event *n;

		if (ncap > TRACE_EVENTS_MAX)
			ncap = TRACE_EVENTS_MAX;
		n = realloc(t->events, ncap * sizeof(*n));
		if (!n)
			return -ENOMEM;
		t->events = n;
		*cap = ncap;
	}
	t->events[t->nevents++] = *e;
	return 0;
}

/* One event line's fields (after its type) into @e; NULL or what is wrong. */
static const char *parse_event(const struct trace_log *t, const struct field *f,
			       int n, struct trace_event *e)
{
	uint64_t blob;
	int fetch = is(&f[0], "fetch");
	int k = fetch ? 3 : 2;	/* the blob index, after the time(s) */
	unsigned int i;

	memset(e, 0, sizeof(*e));
	if (n != (fetch ? 8 : 6))
		return fetch ? "a fetch line has 8 fields" : "a read line has 6 fields";
	if (text_field_number(f[1].s, f[1].len, TRACE_VALUE_MAX, &e->t_us) ||
	    (fetch && text_field_number(f[2].s, f[2].len, TRACE_VALUE_MAX, &e->end_us)))
		return "a time is not a number of microseconds";
	if (fetch && e->end_us < e->t_us)
		return "the fetch ends before it starts";
	if (text_field_number(f[k].s, f[k].len, TRACE_BLOBS_MAX, &blob) || blob >= t->nblobs)
		return "the blob index names no blob line before it";
	if (text_field_number(f[k + 1].s, f[k + 1].len, TRACE_VALUE_MAX, &e->off) ||
	    text_field_number(f[k + 2].s, f[k + 2].len, TRACE_VALUE_MAX, &e->len) ||
	    !e->len || e->off + e->len > TRACE_VALUE_MAX)
		return "the offset or length is not a number, the length is 0, or the range is too far";
	e->blob = (uint16_t)blob;
	if (!fetch) {
		e->type = TRACE_READ;
		if (is(&f[5], "waited"))
			e->flag = 1;
		else if (!is(&f[5], "stored"))
			return "a read is 'waited' or 'stored'";
		return NULL;
	}
	e->type = TRACE_FETCH;
	for (i = 0; i < sizeof(why_names) / sizeof(why_names[0]); i++)
		if (is(&f[6], why_names[i]))
			break;
	if (i == sizeof(why_names) / sizeof(why_names[0]))
		return "a fetch is 'demand', 'ahead' or 'prefetch'";
	e->why = (uint8_t)i;
	if (is(&f[7], "failed"))
		e->flag = 1;
	else if (!is(&f[7], "ok"))
		return "a fetch ends 'ok' or 'failed'";
	return NULL;
}

static int parse_line(struct trace_log *t, size_t *cap, int *seen_dropped,
		      const char *line, size_t len, size_t lineno, char *why,
		      size_t why_size)
{
	struct field f[FIELDS_MAX];
	struct trace_event e;
	const char *bad;
	uint64_t v;
	int n = split(line, len, f);

	if (n < 0)
		return fail(why, why_size, lineno, "not fields separated by single spaces (at most %d)", FIELDS_MAX);
	if (is(&f[0], "blob")) {
		if (n != 3)
			return fail(why, why_size, lineno, "a blob line is 'blob INDEX NAME'");
		if (text_field_number(f[1].s, f[1].len, TRACE_BLOBS_MAX, &v) || v != t->nblobs)
			return fail(why, why_size, lineno, "blob indexes go 0, 1, ... in order");
		if (t->nblobs == TRACE_BLOBS_MAX)
			return fail(why, why_size, lineno, "more than %u blobs", TRACE_BLOBS_MAX);
		if (!trace_name_ok(f[2].s, f[2].len))
			return fail(why, why_size, lineno, "the blob name is not a plain file name of at most %u bytes", TRACE_NAME_MAX);
		memcpy(t->names[t->nblobs], f[2].s, f[2].len);
		t->names[t->nblobs++][f[2].len] = '\0';
		return 0;
	}
	if (is(&f[0], "dropped")) {
		if (n != 2 || *seen_dropped ||
		    text_field_number(f[1].s, f[1].len, TRACE_VALUE_MAX, &t->dropped))
			return fail(why, why_size, lineno, "one 'dropped COUNT' line at most");
		*seen_dropped = 1;
		return 0;
	}
	if (!is(&f[0], "fetch") && !is(&f[0], "read"))
		return fail(why, why_size, lineno, "not a blob, fetch, read or dropped line");
	bad = parse_event(t, f, n, &e);
	if (bad)
		return fail(why, why_size, lineno, "%s", bad);
	if (t->nevents == TRACE_EVENTS_MAX)
		return fail(why, why_size, lineno, "more than %u events", TRACE_EVENTS_MAX);
	return add_event(t, cap, &e);
}

int trace_parse(struct trace_log *t, const char *text, size_t len, char *why,
		size_t why_size)
{
	size_t pos = 0, lineno = 0, cap = 0;
	int seen_dropped = 0, ret = 0;

	memset(t, 0, sizeof(*t));
	if (len > TRACE_FILE_MAX) {
		snprintf(why, why_size, "larger than %u MiB", TRACE_FILE_MAX >> 20);
		return -EINVAL;
	}
	while (pos < len && !ret) {
		const char *line = text + pos;
		const char *nl = memchr(line, '\n', len - pos);
		size_t n, i;

		lineno++;
		if (!nl) {
			ret = fail(why, why_size, lineno, "the last line has no newline (cut short?)");
			break;
		}
		n = (size_t)(nl - line);
		pos += n + 1;
		if (n > TRACE_LINE_MAX) {
			ret = fail(why, why_size, lineno, "longer than %u bytes", TRACE_LINE_MAX);
			break;
		}
		for (i = 0; i < n; i++)
			if ((unsigned char)line[i] < 0x20 || (unsigned char)line[i] > 0x7e)
				break;
		if (i < n) {
			ret = fail(why, why_size, lineno, "not printable ASCII");
			break;
		}
		if (lineno == 1) {
			if (n != strlen(TRACE_MAGIC) || memcmp(line, TRACE_MAGIC, n))
				ret = fail(why, why_size, lineno, "not a trace: the first line is not '%s'", TRACE_MAGIC);
			continue;
		}
		if (!n || line[0] == '#')
			continue;
		ret = parse_line(t, &cap, &seen_dropped, line, n, lineno, why,
				 why_size);
		if (ret == -ENOMEM)
			snprintf(why, why_size, "out of memory");
	}
	if (!ret && !lineno)
		ret = fail(why, why_size, 1, "empty: not a trace");
	if (ret)
		trace_log_free(t);
	return ret;
}

int trace_format(const struct trace_log *t, char **out, size_t *len)
{
	size_t cap = 64 + t->nblobs * (TRACE_NAME_MAX + 16) + t->nevents * 128;
	char *buf = malloc(cap);
	size_t n = 0, i;

	if (!buf)
		return -ENOMEM;
	n += (size_t)snprintf(buf + n, cap - n, TRACE_MAGIC "\n");
	for (i = 0; i < t->nblobs; i++)
		n += (size_t)snprintf(buf + n, cap - n, "blob %zu %s\n", i,
				      t->names[i]);
	for (i = 0; i < t->nevents; i++) {
		const struct trace_event *e = &t->events[i];

		if (e->type == TRACE_FETCH)
			n += (size_t)snprintf(buf + n, cap - n,
					      "fetch %llu %llu %u %llu %llu %s %s\n",
					      (unsigned long long)e->t_us,
					      (unsigned long long)e->end_us,
					      e->blob, (unsigned long long)e->off,
					      (unsigned long long)e->len,
					      why_names[e->why % (sizeof(why_names) / sizeof(why_names[0]))],
					      e->flag ? "failed" : "ok");
		else
			n += (size_t)snprintf(buf + n, cap - n,
					      "read %llu %u %llu %llu %s\n",
					      (unsigned long long)e->t_us,
					      e->blob, (unsigned long long)e->off,
					      (unsigned long long)e->len,
					      e->flag ? "waited" : "stored");
	}
	if (t->dropped)
		n += (size_t)snprintf(buf + n, cap - n, "dropped %llu\n",
				      (unsigned long long)t->dropped);
	*out = buf;
	*len = n;
	return 0;
}

void trace_log_free(struct trace_log *t)
{
	free(t->events);
	t->events = NULL;
	t->nevents = 0;
}
