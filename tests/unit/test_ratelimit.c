// SPDX-License-Identifier: MIT
/* daemon/ratelimit.c: the average rate, the burst, the wait it names. */
#include "check.h"
#include "ratelimit.h"

#define M (1ULL << 20)

static void test_burst_then_rate(void)
{
	struct ratelimit rl;
	uint64_t t, sent = 0, wait;

	/* 1 MiB/s, a burst of 4 MiB: 4 MiB at once, then 1 MiB a second */
	ratelimit_init(&rl, M, 4 * M, 1000);
	CHECK(ratelimit_take(&rl, 4 * M, 1000) == 0);
	wait = ratelimit_take(&rl, M, 1000);
	CHECK(wait == 1000);
	CHECK(ratelimit_take(&rl, M, 1999) > 0);
	CHECK(ratelimit_take(&rl, M, 2000) == 0);
	/* over 100 s of asking every 10 ms for 64 KiB: 100 MiB, give or take one request */
	for (t = 2000; t <= 102000; t += 10)
		if (!ratelimit_take(&rl, 64 << 10, t))
			sent += 64 << 10;
	CHECK(sent >= 100 * M - (64 << 10) && sent <= 100 * M + (64 << 10));
}

static void test_odd_rates(void)
{
	struct ratelimit rl;
	uint64_t t, sent = 0;

	/* 1000 bytes a second in 1-ms steps: no credit lost to rounding */
	ratelimit_init(&rl, 1000, 1000, 0);
	CHECK(ratelimit_take(&rl, 1000, 0) == 0);
	for (t = 1; t <= 10000; t++)
		if (!ratelimit_take(&rl, 1, t))
			sent++;
	CHECK(sent == 10000);

	/* 3 bytes a second: the wait rounds up, never down */
	ratelimit_init(&rl, 3, 10, 0);
	CHECK(ratelimit_take(&rl, 10, 0) == 0);
	CHECK(ratelimit_take(&rl, 1, 0) == 334);
	CHECK(ratelimit_take(&rl, 1, 333) > 0);
	CHECK(ratelimit_take(&rl, 1, 334) == 0);
}

static void test_idle_caps(void)
{
	struct ratelimit rl;

	/* an hour idle gives one burst, not an hour's worth */
	ratelimit_init(&rl, M, 4 * M, 0);
	CHECK(ratelimit_take(&rl, 4 * M, 0) == 0);
	CHECK(ratelimit_take(&rl, 4 * M, 3600 * 1000) == 0);
	CHECK(ratelimit_take(&rl, M, 3600 * 1000) > 0);
	/* a request larger than the burst is one burst's worth */
	ratelimit_init(&rl, M, 4 * M, 0);
	CHECK(ratelimit_take(&rl, 8 * M, 0) == 0);
	CHECK(ratelimit_take(&rl, 1, 0) > 0);
	/* the clock going back takes nothing and gives nothing */
	ratelimit_init(&rl, M, M, 5000);
	CHECK(ratelimit_take(&rl, M, 5000) == 0);
	CHECK(ratelimit_take(&rl, M, 4000) == 1000);
	/* the largest rate, a long pause: no overflow */
	ratelimit_init(&rl, 10ULL << 30, 4 * M, 0);
	CHECK(ratelimit_take(&rl, 4 * M, 0) == 0);
	CHECK(ratelimit_take(&rl, 4 * M, 1) == 0);
	CHECK(ratelimit_take(&rl, 4 * M, 1ULL << 40) == 0);
}

int main(void)
{
	test_burst_then_rate();
	test_odd_rates();
	test_idle_caps();
	return check_report("test_ratelimit");
}
