// SPDX-License-Identifier: MIT
/*
 * The plan: each open blob is walked from its start in pieces of at most
 * FILL_JOB_MAX bytes that begin and end on a page not held locally (the
 * disk or RAM store's map; without a store, what the kernel has read,
 * which cachefiles keeps). A pass ends when every cursor is at its blob's
 * end and no job is under way; with a disk store the map is then checked
 * whole (pages its queue could not take are missing) and another pass
 * fetches what is missing, at most FILL_PASSES in all.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "fetch.h"
#include "fill.h"
#include "log.h"
#include "page.h"
#include "ratelimit.h"
#include "record.h"
#include "serve.h"
#include "source.h"
#include "store.h"

#define FILL_BLOBS_MAX 16

struct fblob {
	struct blob *b;
	uint64_t size;		/* page_up of the blob's */
	uint64_t cursor;	/* planned up to here */
	uint64_t held;		/* of what lies before the cursor, held or fetched */
	unsigned int inflight;
};

struct fill {
	struct server *s;
	struct fetch_engine *e;
	enum fill_state state;
	struct fblob blobs[FILL_BLOBS_MAX];
	unsigned int nblobs;
	unsigned int inflight, passes;
	int pumping, closed_net;
	struct ratelimit rl;
	uint64_t rate, fetched;
	unsigned long long requests;
	uint64_t start_ms;
	unsigned int quiet_ms;
};

const char *fill_state_name(enum fill_state st)
{
	static const char *const names[] = {
		[FILL_OFF] = "off", [FILL_WAITING] = "waiting",
		[FILL_FILLING] = "filling", [FILL_COMPLETE] = "complete",
		[FILL_STOPPED] = "stopped",
	};

	return (unsigned int)st < sizeof(names) / sizeof(names[0]) ?
		       names[st] : "?";
}

static uint64_t now_ms(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (uint64_t)t.tv_sec * 1000 + (uint64_t)t.tv_nsec / 1000000;
}

int fill_new(struct fill **out, struct server *s, struct fetch_engine *e,
	     uint64_t rate, unsigned int quiet_ms)
{
	struct fill *f = calloc(1, sizeof(*f));

	if (!f)
		return -ENOMEM;
	f->s = s;
	f->e = e;
	f->rate = rate;
	f->quiet_ms = quiet_ms;
	f->state = FILL_WAITING;
	*out = f;
	return 0;
}

void fill_free(struct fill *f)
{
	free(f);
}

int fill_plan(uint64_t *cursor, uint64_t size,
	      int (*held)(void *ctx, uint64_t off), void *ctx, uint64_t max,
	      uint64_t *off, uint64_t *end, uint64_t *skipped)
{
	uint64_t o = *cursor, e;

	*skipped = 0;
	while (o < size && held(ctx, o))
		o += PAGE_SIZE_4K;
	*skipped = o - *cursor;
	if (o >= size) {
		*cursor = size;
		return 0;
	}
	e = size - o < max ? size : o + max;
	while (e > o + PAGE_SIZE_4K && held(ctx, e - PAGE_SIZE_4K))
		e -= PAGE_SIZE_4K;
	*off = o;
	*end = e;
	*cursor = e;
	return 1;
}

struct held_ctx {
	const struct fill *f;
	const struct fblob *fb;
};

static int page_held(void *ctx, uint64_t off)
{
	const struct held_ctx *h = ctx;
	struct blob *b = h->fb->b;
	const struct record *r;

	if (b->store)
		return store_has(b->store, off, PAGE_SIZE_4K);
	r = server_record(h->f->s);
	return r && record_covers(r, blob_name(b), off, off + PAGE_SIZE_4K);
}

void fill_opened(struct fill *f, struct blob *b)
{
	struct fblob *fb;

	if (!f || f->state == FILL_STOPPED)
		return;
	if (f->nblobs == FILL_BLOBS_MAX) {
		log_warn("fill: more than %d blobs; blob %s is not filled",
			 FILL_BLOBS_MAX, blob_name(b));
		return;
	}
	fb = &f->blobs[f->nblobs++];
	memset(fb, 0, sizeof(*fb));
	fb->b = b;
	fb->size = page_up(blob_size(b));
	/* a blob opened after the copy was complete needs filling again */
	if (f->state == FILL_COMPLETE) {
		f->state = FILL_FILLING;
		f->closed_net = 0;
	}
}

void fill_closed(struct fill *f, struct blob *b)
{
	unsigned int i;

	if (!f)
		return;
	for (i = 0; i < f->nblobs; i++) {
		if (f->blobs[i].b != b)
			continue;
		/* its jobs end later; their blob is gone from here */
		f->inflight -= f->blobs[i].inflight;
		f->blobs[i] = f->blobs[--f->nblobs];
		return;
	}
}

static struct fblob *find(struct fill *f, const struct blob *b)
{
	unsigned int i;

	for (i = 0; i < f->nblobs; i++)
		if (f->blobs[i].b == b)
			return &f->blobs[i];
	return NULL;
}

static void totals(const struct fill *f, uint64_t *held, uint64_t *total)
{
	unsigned int i;

	*held = *total = 0;
	for (i = 0; i < f->nblobs; i++) {
		*held += f->blobs[i].held;
		*total += f->blobs[i].size;
	}
}

static void stop(struct fill *f, const char *why)
{
	uint64_t held, total;

	if (f->state == FILL_STOPPED)
		return;
	f->state = FILL_STOPPED;
	totals(f, &held, &total);
	log_warn("fill: stopped with %llu of %llu KiB held locally: %s; the rest is fetched as it is read",
		 (unsigned long long)(held >> 10),
		 (unsigned long long)(total >> 10), why);
}

void fill_job_done(struct fill *f, struct blob *b, uint64_t off, uint64_t end,
		   int err)
{
	struct fblob *fb;

	if (!f)
		return;
	fb = find(f, b);
	if (!fb)
		return;
	fb->inflight--;
	f->inflight--;
	if (err) {
		stop(f, "a fetch failed (see above)");
		return;
	}
	fb->held += end - off;
	f->fetched += end - off;
}

/* Fill can begin: boot is over, and the copy will fit where it goes. */
static int may_begin(struct fill *f)
{
	uint64_t held, total, room;
	const char *where;

	if (!f->nblobs || server_prefetching(f->s) ||
	    server_quiet_ms(f->s) < f->quiet_ms)
		return 0;
	totals(f, &held, &total);
	room = server_fill_room(f->s, &where);
	if (room && total > room) {
		char why[256];

		snprintf(why, sizeof(why),
			 "the image's %llu MiB do not fit in %s (%llu MiB); give erofs.cache= a disk that holds it",
			 (unsigned long long)(total >> 20), where,
			 (unsigned long long)(room >> 20));
		f->state = FILL_FILLING;
		stop(f, why);
		return 0;
	}
	f->state = FILL_FILLING;
	f->start_ms = now_ms();
	ratelimit_init(&f->rl, f->rate, FILL_JOB_MAX, f->start_ms);
	log_info("fill: boot is over: fetching the rest of %u blobs (%llu KiB) at most %llu KiB/s",
		 f->nblobs, (unsigned long long)(total >> 10),
		 (unsigned long long)(f->rate >> 10));
	return 1;
}

/*
 * End of a pass: with a disk store, every page must be on its disk (the
 * queue written out first); what is not there is fetched by another pass.
 */
static int pass_complete(struct fill *f)
{
	unsigned int i;
	int missing = 0;

	for (i = 0; i < f->nblobs; i++) {
		struct fblob *fb = &f->blobs[i];
		struct store *st = fb->b->store;

		if (!st)
			continue;
		if (store_waiting(st))
			return 0;
		if (!store_has(st, 0, fb->size)) {
			fb->cursor = 0;
			fb->held = 0;
			missing = 1;
		}
	}
	if (!missing)
		return 1;
	if (++f->passes == FILL_PASSES) {
		stop(f, "pages fetched did not all reach the store (see above)");
		return 0;
	}
	log_info("fill: pages did not all reach the store; pass %u fetches them",
		 f->passes + 1);
	return 0;
}

static void complete(struct fill *f)
{
	uint64_t held, total;

	/* nothing under way: then the connections can go */
	if (fetch_engine_busy(f->e) || fetch_engine_forget(f->e))
		return;
	f->closed_net = 1;
	totals(f, &held, &total);
	log_info("fill: complete: %llu of %llu KiB held locally, %llu KiB fetched in %llu requests in %llu ms; the image no longer needs the network: connections closed",
		 (unsigned long long)(held >> 10),
		 (unsigned long long)(total >> 10),
		 (unsigned long long)(f->fetched >> 10), f->requests,
		 (unsigned long long)(now_ms() - f->start_ms));
}

/* The next piece of any blob, or 0 when every cursor is at its end. */
static int next_piece(struct fill *f, struct fblob **fbp, uint64_t *off,
		      uint64_t *end)
{
	unsigned int i;

	for (i = 0; i < f->nblobs; i++) {
		struct fblob *fb = &f->blobs[i];
		struct held_ctx h = { f, fb };
		uint64_t skipped;
		int more = fill_plan(&fb->cursor, fb->size, page_held, &h,
				     FILL_JOB_MAX, off, end, &skipped);

		fb->held += skipped;
		if (more) {
			*fbp = fb;
			return 1;
		}
	}
	return 0;
}

/* The disk store's queue is half full: the disk, not the network, holds the fill back. */
static int store_busy(const struct fill *f)
{
	unsigned int i;

	for (i = 0; i < f->nblobs; i++) {
		struct store *st = f->blobs[i].b->store;

		if (st && !store_in_ram(st) &&
		    store_waiting(st) > STORE_QUEUE_MAX / 2)
			return 1;
	}
	return 0;
}

void fill_pump(struct fill *f)
{
	if (!f || f->pumping)
		return;
	if (f->state == FILL_WAITING && !may_begin(f))
		return;
	if (f->state == FILL_COMPLETE && !f->closed_net)
		complete(f);
	if (f->state != FILL_FILLING)
		return;
	f->pumping = 1;
	while (f->inflight < FILL_JOBS && fetch_engine_free_slots(f->e) >= 2 &&
	       !store_busy(f) && f->state == FILL_FILLING) {
		struct fblob *fb;
		uint64_t off, end, save;
		int ret;

		save = 0;
		if (!next_piece(f, &fb, &off, &end)) {
			if (f->inflight)
				break;
			if (pass_complete(f)) {
				f->state = FILL_COMPLETE;
				complete(f);
			}
			break;
		}
		if (ratelimit_take(&f->rl, end - off, now_ms())) {
			/* no credit yet: plan this piece again next time */
			save = 1;
		} else {
			fb->inflight++;
			f->inflight++;
			f->requests++;
			ret = serve_fill(f->s, fb->b, off, end);
			if (ret == -EAGAIN) {
				/* READs hold the fetch buffers: this piece when one ends */
				fb->inflight--;
				f->inflight--;
				f->requests--;
				f->rl.credit += end - off;
				if (f->rl.credit > f->rl.burst)
					f->rl.credit = f->rl.burst;
				save = 1;
			} else if (ret) {
				fb->inflight--;
				f->inflight--;
				stop(f, ret == -ENOSPC ? "the RAM cache is full" :
							 strerror(-ret));
			}
		}
		if (save) {
			fb->cursor = off;
			break;
		}
	}
	f->pumping = 0;
}

void fill_progress(const struct fill *f, struct fill_progress *out)
{
	memset(out, 0, sizeof(*out));
	if (!f)
		return;
	out->state = f->state;
	totals(f, &out->held, &out->total);
	out->fetched = f->fetched;
	out->requests = f->requests;
	out->rate = f->rate;
	out->blobs = f->nblobs;
}
