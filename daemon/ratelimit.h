/* SPDX-License-Identifier: MIT */
/*
 * A token bucket: at most @rate bytes a second on average, at most @burst
 * at once. Background work (the fill) asks it before each request, so a
 * request of N bytes starts only once N bytes of credit have built up.
 * Times are milliseconds of a monotonic clock, passed in: the bucket reads
 * no clock itself (tests drive it).
 */
#ifndef LAZYROOT_RATELIMIT_H
#define LAZYROOT_RATELIMIT_H

#include <stdint.h>

struct ratelimit {
	uint64_t rate;		/* bytes per second, > 0 */
	uint64_t burst;		/* most credit held, >= the largest request */
	uint64_t credit;	/* bytes that may go now */
	uint64_t last_ms;	/* when credit was last brought up to date */
	uint64_t rem;		/* credit not yet whole: bytes * 1000 */
};

/* A bucket that starts full at @now_ms. */
void ratelimit_init(struct ratelimit *rl, uint64_t rate, uint64_t burst,
		    uint64_t now_ms);

/*
 * Takes @bytes (at most burst) of credit at @now_ms: returns 0 when taken,
 * else the milliseconds until there is enough (nothing taken).
 */
uint64_t ratelimit_take(struct ratelimit *rl, uint64_t bytes, uint64_t now_ms);

#endif
