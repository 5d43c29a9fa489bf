/* SPDX-License-Identifier: MIT */
/*
 * Boot traces (docs/format.md, "Boot traces"): what lazyrootd fetched and
 * what the kernel read, with times, as `lazyrootctl trace` writes them and
 * `lazyrootctl plot` draws them. A trace read from a file is hostile
 * input: trace_parse() checks every rule below.
 */
#ifndef LAZYROOT_BOOT_TRACE_H
#define LAZYROOT_BOOT_TRACE_H

#include <stddef.h>
#include <stdint.h>

#define TRACE_MAGIC "lazyroot-trace 1"
#define TRACE_FILE_MAX (32u << 20)	/* bytes of a trace file */
#define TRACE_EVENTS_MAX 65536u		/* events a trace holds */
#define TRACE_BLOBS_MAX 16u
#define TRACE_NAME_MAX 255u
#define TRACE_LINE_MAX 512u
#define TRACE_VALUE_MAX (1ULL << 53)	/* times (µs) and offsets */

enum trace_type { TRACE_FETCH, TRACE_READ };

/* Why a fetch was made. */
enum trace_why { TRACE_DEMAND, TRACE_AHEAD, TRACE_PREFETCH, TRACE_FILL };

struct trace_event {
	uint64_t t_us;		/* a read: when it came; a fetch: when it started */
	uint64_t end_us;	/* a fetch: when it ended */
	uint64_t off, len;	/* bytes of the blob */
	uint16_t blob;		/* index into the names */
	uint8_t type;		/* enum trace_type */
	uint8_t why;		/* a fetch: enum trace_why */
	uint8_t flag;		/* a fetch: it failed; a read: it waited for the network */
};

struct trace_log {
	unsigned int nblobs;
	char names[TRACE_BLOBS_MAX][TRACE_NAME_MAX + 1];
	size_t nevents;
	struct trace_event *events;	/* in the order they were recorded */
	uint64_t dropped;		/* events past TRACE_EVENTS_MAX, not kept */
};

/*
 * Parses @len bytes at @text into @t (freed with trace_log_free()).
 * Returns 0, or -EINVAL with @why naming the line and what is wrong, or
 * -ENOMEM.
 */
int trace_parse(struct trace_log *t, const char *text, size_t len, char *why,
		size_t why_size);

/* Writes @t in the text form; *out is the caller's to free(). 0 or -ENOMEM. */
int trace_format(const struct trace_log *t, char **out, size_t *len);

/* A blob name the format takes: [A-Za-z0-9._:+~-], not starting with '.'. */
int trace_name_ok(const char *s, size_t len);

void trace_log_free(struct trace_log *t);

#endif
