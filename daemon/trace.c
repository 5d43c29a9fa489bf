// SPDX-License-Identifier: MIT
/* The daemon's bounded trace of a boot (trace.h). */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "trace.h"

struct trace {
	struct trace_log log;
	size_t cap;
};

int trace_new(struct trace **out)
{
	*out = calloc(1, sizeof(**out));
	return *out ? 0 : -ENOMEM;
}

void trace_free(struct trace *t)
{
	if (!t)
		return;
	trace_log_free(&t->log);
	free(t);
}

uint64_t trace_now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000 + (uint64_t)ts.tv_nsec / 1000;
}

/* The index of @name, added if new; -1 when it cannot be. */
static int blob_index(struct trace *t, const char *name)
{
	struct trace_log *l = &t->log;
	size_t len = strlen(name);
	unsigned int i;

	for (i = 0; i < l->nblobs; i++)
		if (!strcmp(l->names[i], name))
			return (int)i;
	if (l->nblobs == TRACE_BLOBS_MAX || !trace_name_ok(name, len))
		return -1;
	memcpy(l->names[l->nblobs], name, len + 1);
	return (int)l->nblobs++;
}

/* Room for one more event, or NULL (counted as dropped). */
static struct trace_event *next_event(struct trace *t, const char *blob)
{
	struct trace_log *l = &t->log;
	int b;

	if (l->nevents == t->cap) {
		size_t ncap = t->cap ? 2 * t->cap : 1024;
		struct trace_event *n = NULL;

		if (ncap > TRACE_EVENTS_MAX)
			ncap = TRACE_EVENTS_MAX;
		if (ncap > t->cap)
			n = realloc(l->events, ncap * sizeof(*n));
		if (!n) {
			l->dropped++;
			return NULL;
		}
		l->events = n;
		t->cap = ncap;
	}
	b = blob_index(t, blob);
	if (b < 0) {
		l->dropped++;
		return NULL;
	}
	memset(&l->events[l->nevents], 0, sizeof(l->events[0]));
	l->events[l->nevents].blob = (uint16_t)b;
	return &l->events[l->nevents++];
}

void trace_fetch(struct trace *t, const char *blob, uint64_t start_us,
		 uint64_t off, uint64_t len, enum trace_why why, int failed)
{
	struct trace_event *e;

	if (!t || !len || !(e = next_event(t, blob)))
		return;
	e->type = TRACE_FETCH;
	e->t_us = start_us;
	e->end_us = trace_now_us();
	if (e->end_us < start_us)
		e->end_us = start_us;
	e->off = off;
	e->len = len;
	e->why = (uint8_t)why;
	e->flag = !!failed;
}

void trace_read(struct trace *t, const char *blob, uint64_t off, uint64_t len,
		int waited)
{
	struct trace_event *e;

	if (!t || !len || !(e = next_event(t, blob)))
		return;
	e->type = TRACE_READ;
	e->t_us = trace_now_us();
	e->off = off;
	e->len = len;
	e->flag = !!waited;
}

int trace_text(const struct trace *t, char **out, size_t *len)
{
	return trace_format(&t->log, out, len);
}
