/* SPDX-License-Identifier: MIT */
/*
 * Background fill (erofs.fill=on): once boot is over, the rest of every
 * open blob is fetched as a few large jobs through serve.c (serve_fill),
 * so each byte is checked and handed to the kernel and the stores exactly
 * as on-demand bytes are, and the local copy (erofs.cache=, or for this
 * boot cachefiles' cache file or the NBD RAM store) ends up holding the
 * whole image. Then the daemon closes its connections: the image no longer
 * needs the network.
 *
 * "Boot is over" is: the prefetch list is done and no READ has needed the
 * network for FILL_QUIET_MS. On-demand READs go first: a fill job starts
 * only while the network has a connection to spare besides one kept free
 * for READs (as prefetch), at most FILL_JOBS at once, each at most
 * FILL_JOB_MAX bytes, and only once the rate limit (erofs.fillrate=) has
 * credit for it.
 */
#ifndef LAZYROOT_FILL_H
#define LAZYROOT_FILL_H

#include <stdint.h>

#define FILL_JOB_MAX (4ULL << 20)
#define FILL_JOBS 2
#define FILL_QUIET_MS 5000
/* Passes over a disk store that keeps losing pages (a full queue, a full disk). */
#define FILL_PASSES 3
/* erofs.fillrate=: bytes a second, default and bounds */
#define FILL_RATE_DEFAULT (4ULL << 20)
#define FILL_RATE_MIN (64ULL << 10)
#define FILL_RATE_MAX (10ULL << 30)

struct fill;
struct server;
struct blob;
struct fetch_engine;

enum fill_state {
	FILL_OFF,	/* erofs.fill= is off */
	FILL_WAITING,	/* for boot to be over */
	FILL_FILLING,
	FILL_COMPLETE,	/* every open blob is held locally */
	FILL_STOPPED,	/* would not fit, or a fetch failed: see the log */
};

struct fill_progress {
	enum fill_state state;
	uint64_t held;		/* bytes of the open blobs held locally */
	uint64_t total;		/* their size (whole pages) */
	uint64_t fetched;	/* bytes the fill's jobs brought */
	unsigned long long requests;	/* the fill's jobs */
	uint64_t rate;		/* erofs.fillrate=, bytes a second */
	unsigned int blobs;
};

/* "off", "waiting", "filling", "complete", "stopped". */
const char *fill_state_name(enum fill_state st);

/*
 * The fill for server @s at most @rate bytes a second, once no READ has
 * needed the network for @quiet_ms (FILL_QUIET_MS). Returns 0 or -ENOMEM.
 */
int fill_new(struct fill **out, struct server *s, struct fetch_engine *e,
	     uint64_t rate, unsigned int quiet_ms);
void fill_free(struct fill *f);

/* Blob @b was opened / closed (serve.c). */
void fill_opened(struct fill *f, struct blob *b);
void fill_closed(struct fill *f, struct blob *b);

/* A job of serve_fill() for [off, end) of @b ended (err: -errno). */
void fill_job_done(struct fill *f, struct blob *b, uint64_t off, uint64_t end,
		   int err);

/* Starts what may start now; the daemon's loop calls it at least once a second. */
void fill_pump(struct fill *f);

/* Where the fill is (@f NULL: off). */
void fill_progress(const struct fill *f, struct fill_progress *out);

/*
 * The planner: the next piece of a blob of @size bytes (page-aligned) to
 * fetch from *@cursor on, skipping pages @held(ctx, off) says are there:
 * [*off, *end), at most @max bytes, starting and ending on a page not
 * held. Moves *@cursor past it and returns 1, or returns 0 at the end
 * (*@cursor == @size). *@skipped gets the bytes passed over as held.
 */
int fill_plan(uint64_t *cursor, uint64_t size,
	      int (*held)(void *ctx, uint64_t off), void *ctx, uint64_t max,
	      uint64_t *off, uint64_t *end, uint64_t *skipped);

#endif
