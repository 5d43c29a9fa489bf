// SPDX-License-Identifier: MIT
#include "ratelimit.h"

void ratelimit_init(struct ratelimit *rl, uint64_t rate, uint64_t burst,
		    uint64_t now_ms)
{
	rl->rate = rate ? rate : 1;
	rl->burst = burst;
	rl->credit = burst;
	rl->last_ms = now_ms;
	rl->rem = 0;
}

/* Credit earned since last_ms, kept to the millisecond so none is lost. */
static void refill(struct ratelimit *rl, uint64_t now_ms)
{
	uint64_t ms, milli;

	if (now_ms <= rl->last_ms)
		return;
	ms = now_ms - rl->last_ms;
	rl->last_ms = now_ms;
	/* a long pause fills the bucket: no need to count past it */
	if (ms >= 1000 * (rl->burst / rl->rate + 1)) {
		rl->credit = rl->burst;
		rl->rem = 0;
		return;
	}
	milli = ms * rl->rate + rl->rem;
	rl->credit += milli / 1000;
	rl->rem = milli % 1000;
	if (rl->credit >= rl->burst) {
		rl->credit = rl->burst;
		rl->rem = 0;
	}
}

uint64_t ratelimit_take(struct ratelimit *rl, uint64_t bytes, uint64_t now_ms)
{
	uint64_t need;

	if (bytes > rl->burst)
		bytes = rl->burst;
	refill(rl, now_ms);
	if (rl->credit >= bytes) {
		rl->credit -= bytes;
		return 0;
	}
	need = (bytes - rl->credit) * 1000 - rl->rem;
	return (need + rl->rate - 1) / rl->rate;
}
