/* SPDX-License-Identifier: MIT */
/*
 * The daemon's trace of a boot: each fetch (start, end, blob, bytes, why:
 * a read, read-ahead or prefetch) and each kernel read (time, blob, range,
 * whether it waited for the network), kept in memory for
 * `lazyrootctl trace`. Bounded: the first TRACE_EVENTS_MAX events are kept
 * (about 2.5 MiB, allocated as it grows), later ones only counted; the
 * start of the boot is what the picture is for.
 */
#ifndef LAZYROOT_DAEMON_TRACE_H
#define LAZYROOT_DAEMON_TRACE_H

#include <stddef.h>
#include <stdint.h>

#include "boot_trace.h"

struct trace;

/* Returns 0 or -ENOMEM. */
int trace_new(struct trace **out);
void trace_free(struct trace *t);

/* Microseconds since the machine booted (CLOCK_MONOTONIC). */
uint64_t trace_now_us(void);

/* A fetch of [off, off + len) of @blob that started at @start_us ended now. */
void trace_fetch(struct trace *t, const char *blob, uint64_t start_us,
		 uint64_t off, uint64_t len, enum trace_why why, int failed);

/* The kernel read [off, off + len) of @blob now; @waited: not from a store. */
void trace_read(struct trace *t, const char *blob, uint64_t off, uint64_t len,
		int waited);

/* The trace in its text form (trace_format()). 0 or -ENOMEM. */
int trace_text(const struct trace *t, char **out, size_t *len);

#endif
