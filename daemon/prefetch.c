// SPDX-License-Identifier: MIT
/*
 * The plan: a blob's ranges, once it is open, are sorted by offset and
 * merged into groups (ranges closer than bridge_gap() apart, at most
 * PREFETCH_JOB_MAX bytes each), and each group is fetched in the order of
 * the first touch of any range in it. A group the kernel has already read
 * whole is skipped. Where the source can (a plain image), the next groups
 * of a blob go out together as a batch, one request for up to
 * PREFETCH_BATCH_RANGES ranges and PREFETCH_JOB_MAX bytes. Gaps are
 * bridged all the same: what boot reads next to what it read last time
 * (read-ahead of another size, a file grown) is then in as well. The
 * first failure ends prefetch: what is left is fetched on demand, as
 * without a list.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "fetch.h"
#include "fetch_file.h"
#include "log.h"
#include "manifest.h"
#include "page.h"
#include "prefetch.h"
#include "prefetch_list.h"
#include "record.h"
#include "serve.h"
#include "source.h"

struct group {
	uint64_t off, end;
	uint32_t blob;		/* in the list's names */
	uint32_t first;		/* the list index of its first-touched range */
};

/* Jobs that went out together; p->inflight counts these. */
struct batch {
	struct prefetch *p;
	unsigned int refs;	/* its jobs under way, and 1 while it is made */
	struct batch *next, **pprev;	/* in p->batches_out, for prefetch_free() */
};

#define PREFETCH_BATCH_RANGES 32

struct prefetch {
	struct server *s;
	struct fetch_engine *e;
	struct fetch_file file;
	char url[CONFIG_URL_MAX + URL_NAME_MAX + 16];
	int have_list, stopped, pumping;
	int list_wanted;		/* fetch <fsid>.prefetch once a blob is open */
	struct prefetch_list list;
	struct blob *open[PREFETCH_BLOBS_MAX];	/* by list name, once opened */
	struct blob *early[PREFETCH_BLOBS_MAX];	/* opened before the list came */
	unsigned char planned[PREFETCH_BLOBS_MAX];
	struct group *groups;
	size_t ngroups, next;
	unsigned int inflight;
	unsigned long long jobs, bytes, skipped, batches;
	struct batch *batches_out;
	struct timespec start;
	int done_logged;
};

static void request_list(struct prefetch *p);

int prefetch_new(struct prefetch **out, struct server *s,
		 struct fetch_engine *e)
{
	struct prefetch *p = calloc(1, sizeof(*p));

	if (!p)
		return -ENOMEM;
	p->s = s;
	p->e = e;
	clock_gettime(CLOCK_MONOTONIC, &p->start);
	*out = p;
	return 0;
}

void prefetch_free(struct prefetch *p)
{
	if (!p)
		return;
	prefetch_list_free(&p->list);
	free(p->groups);
	/* a server that stops with jobs under way never tells their end */
	while (p->batches_out) {
		struct batch *bt = p->batches_out;

		p->batches_out = bt->next;
		free(bt);
	}
	free(p);
}

static void stop(struct prefetch *p, const char *why)
{
	if (p->stopped++)
		return;
	log_warn("prefetch stops after %llu jobs (%llu KiB): %s; the rest is fetched as it is read",
		 p->jobs, p->bytes >> 10, why);
}

static int by_off(const void *a, const void *b)
{
	const struct prefetch_range *x = a, *y = b;

	return x->off < y->off ? -1 : x->off > y->off;
}

static int by_first(const void *a, const void *b)
{
	const struct group *x = a, *y = b;

	return x->first < y->first ? -1 : x->first > y->first;
}

static int by_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

/*
 * The widest gap between ranges (@rs sorted by offset) that is fetched
 * rather than asked around: every gap up to PREFETCH_GAP, and wider ones,
 * smallest first, while all the bytes bridged stay within
 * 1/PREFETCH_EXTRA of the bytes the ranges name. Round trips, not bytes,
 * are what a boot waits for; the bound keeps the price known.
 */
static uint64_t bridge_gap(const struct prefetch_range *rs, size_t n)
{
	uint64_t *gaps, listed = 0, spent = 0, end = 0, wide = PREFETCH_GAP;
	size_t i, ng = 0;

	gaps = malloc(n * sizeof(*gaps));
	if (!gaps)
		return wide;
	for (i = 0; i < n; i++) {
		uint64_t e = rs[i].off + rs[i].len;

		listed += rs[i].len;
		if (i && rs[i].off > end)
			gaps[ng++] = rs[i].off - end;
		if (!i || e > end)
			end = e;
	}
	qsort(gaps, ng, sizeof(*gaps), by_u64);
	for (i = 0; i < ng; i++) {
		spent += gaps[i];
		if (spent > listed / PREFETCH_EXTRA)
			break;
		if (gaps[i] > wide)
			wide = gaps[i];
	}
	free(gaps);
	return wide;
}

/* Rides on prefetch_range's ms field: the range's index in the list. */
static void plan_blob(struct prefetch *p, unsigned int bi)
{
	const struct blob *b = p->open[bi];
	uint64_t size = page_up(blob_size(b));
	struct prefetch_range *rs;
	struct group *g;
	size_t i, n = 0, past = 0, ng = 0, cap = 0;
	uint64_t gap;

	p->planned[bi] = 1;
	/* a group per range at most, and a range larger than a job is cut */
	for (i = 0; i < p->list.nranges; i++) {
		if (p->list.ranges[i].blob != bi)
			continue;
		n++;
		cap += (p->list.ranges[i].len + PREFETCH_JOB_MAX - 1) /
		       PREFETCH_JOB_MAX;
	}
	if (!n)
		return;
	rs = malloc(n * sizeof(*rs));
	g = realloc(p->groups, (p->ngroups + cap) * sizeof(*g));
	if (!rs || !g) {
		free(rs);
		if (g)
			p->groups = g;
		stop(p, "out of memory");
		return;
	}
	p->groups = g;
	for (i = 0, n = 0; i < p->list.nranges; i++) {
		struct prefetch_range r = p->list.ranges[i];

		if (r.blob != bi)
			continue;
		if (r.off >= size) {
			past++;
			continue;
		}
		if (r.len > size - r.off) {
			past++;
			r.len = size - r.off;
		}
		r.ms = (uint32_t)i;
		rs[n++] = r;
	}
	if (past)
		log_warn("prefetch list %s: %zu ranges of blob %s lie past its %llu bytes; they are cut at its end or left out",
			 p->url, past, blob_name(b),
			 (unsigned long long)blob_size(b));
	qsort(rs, n, sizeof(*rs), by_off);
	gap = bridge_gap(rs, n);
	g = p->groups + p->ngroups;
	for (i = 0; i < n; i++) {
		struct group *cur = ng ? &g[ng - 1] : NULL;
		uint64_t end = rs[i].off + rs[i].len;

		if (cur && rs[i].off <= cur->end + gap &&
		    (end > cur->end ? end : cur->end) - cur->off <= PREFETCH_JOB_MAX) {
			if (end > cur->end)
				cur->end = end;
			if (rs[i].ms < cur->first)
				cur->first = rs[i].ms;
			continue;
		}
		/* a range larger than a job is cut into jobs */
		while (end - rs[i].off > PREFETCH_JOB_MAX) {
			g[ng++] = (struct group){ .off = rs[i].off,
				.end = rs[i].off + PREFETCH_JOB_MAX,
				.blob = bi, .first = rs[i].ms };
			rs[i].off += PREFETCH_JOB_MAX;
		}
		g[ng++] = (struct group){ .off = rs[i].off, .end = end,
					  .blob = bi, .first = rs[i].ms };
	}
	free(rs);
	p->ngroups += ng;
	qsort(p->groups + p->next, p->ngroups - p->next, sizeof(*p->groups),
	      by_first);
	log_info("prefetch: blob %s: %zu ranges in %zu jobs (gaps up to %llu KiB fetched)",
		 blob_name(b), n, ng, (unsigned long long)(gap >> 10));
	p->done_logged = 0;
}

static int list_index(const struct prefetch *p, const char *name)
{
	unsigned int i;

	for (i = 0; i < p->list.nblobs; i++)
		if (!strcmp(p->list.names[i], name))
			return (int)i;
	return -1;
}

static void plan_open_blobs(struct prefetch *p)
{
	unsigned int i;

	for (i = 0; i < p->list.nblobs; i++)
		if (p->open[i] && !p->planned[i])
			plan_blob(p, i);
}

void prefetch_use_list(struct prefetch *p, struct prefetch_list *l,
		       const char *from)
{
	unsigned int i;
	int bi;

	p->list = *l;
	memset(l, 0, sizeof(*l));
	p->have_list = 1;
	if (from != p->url)
		snprintf(p->url, sizeof(p->url), "%s", from);
	log_info("prefetch list %s: %zu ranges", from, p->list.nranges);
	for (i = 0; i < PREFETCH_BLOBS_MAX; i++) {
		if (!p->early[i])
			continue;
		bi = list_index(p, blob_name(p->early[i]));
		if (bi >= 0)
			p->open[bi] = p->early[i];
		p->early[i] = NULL;
	}
	plan_open_blobs(p);
	prefetch_pump(p);
}

void prefetch_opened(struct prefetch *p, struct blob *b)
{
	unsigned int i;
	int bi;

	if (!p || p->stopped)
		return;
	if (!p->have_list) {
		for (i = 0; i < PREFETCH_BLOBS_MAX; i++) {
			if (!p->early[i]) {
				p->early[i] = b;
				break;
			}
		}
		if (p->list_wanted)
			request_list(p);
		return;
	}
	bi = list_index(p, blob_name(b));
	if (bi < 0 || p->open[bi])
		return;
	p->open[bi] = b;
	plan_blob(p, (unsigned int)bi);
	prefetch_pump(p);
}

void prefetch_closed(struct prefetch *p, struct blob *b)
{
	unsigned int i;

	if (!p)
		return;
	for (i = 0; i < PREFETCH_BLOBS_MAX; i++) {
		if (p->early[i] == b)
			p->early[i] = NULL;
		if (p->open[i] == b)
			p->open[i] = NULL;
	}
}

int prefetch_busy(const struct prefetch *p)
{
	if (!p || p->stopped)
		return p && p->inflight;
	return !p->have_list || p->next < p->ngroups || p->inflight;
}

static void batch_put(struct batch *bt)
{
	if (--bt->refs)
		return;
	bt->p->inflight--;
	*bt->pprev = bt->next;
	if (bt->next)
		bt->next->pprev = bt->pprev;
	free(bt);
}

void prefetch_job_done(struct prefetch *p, void *batch, int err)
{
	if (err)
		stop(p, "a fetch failed (see above)");
	batch_put(batch);
}

static long long ms_since(const struct timespec *t0)
{
	struct timespec now;

	clock_gettime(CLOCK_MONOTONIC, &now);
	return (long long)(now.tv_sec - t0->tv_sec) * 1000 +
	       (now.tv_nsec - t0->tv_nsec) / 1000000;
}

/*
 * The next group's range, less what the kernel has read already: 0 and
 * the range, or 1 when nothing of it is left (or its blob is closed).
 */
static int next_range(struct prefetch *p, const struct group *g,
		      uint64_t *off, uint64_t *end)
{
	struct blob *b = p->open[g->blob];
	const struct record *r = server_record(p->s);

	*off = g->off;
	*end = g->end;
	while (b && r && *off < *end &&
	       record_covers(r, blob_name(b), *off, *off + PAGE_SIZE_4K))
		*off += PAGE_SIZE_4K;
	while (b && r && *off < *end &&
	       record_covers(r, blob_name(b), *end - PAGE_SIZE_4K, *end))
		*end -= PAGE_SIZE_4K;
	return !b || *off == *end;
}

/*
 * Starts the next batch: 0, or -EAGAIN when READs hold the fetch buffers
 * (the rest starts when one ends).
 */
static int start_batch(struct prefetch *p)
{
	struct batch *bt = calloc(1, sizeof(*bt));
	unsigned int k = 0;
	uint64_t bytes = 0;
	uint32_t blob = 0;
	int plugged, ret = 0;

	if (!bt) {
		stop(p, "out of memory");
		return 0;
	}
	bt->p = p;
	bt->refs = 1;
	bt->next = p->batches_out;
	bt->pprev = &p->batches_out;
	if (bt->next)
		bt->next->pprev = &bt->next;
	p->batches_out = bt;
	p->inflight++;
	plugged = serve_plug(p->s);
	while (p->next < p->ngroups && !p->stopped) {
		const struct group *g = &p->groups[p->next];
		uint64_t off, end;

		if (next_range(p, g, &off, &end)) {
			p->skipped++;
			p->next++;
			continue;
		}
		if (k && (!plugged || g->blob != blob ||
			  k == PREFETCH_BATCH_RANGES ||
			  bytes + (end - off) > PREFETCH_JOB_MAX))
			break;
		bt->refs++;
		ret = serve_prefetch(p->s, p->open[g->blob], off, end, bt);
		if (ret) {
			bt->refs--;
			if (ret != -EAGAIN)
				stop(p, ret == -ENOSPC ? "the RAM cache is full" :
							 strerror(-ret));
			break;
		}
		p->next++;
		blob = g->blob;
		k++;
		bytes += end - off;
		p->jobs++;
		p->bytes += end - off;
	}
	if (plugged)
		serve_unplug(p->s);
	p->batches += k != 0;
	batch_put(bt);
	return ret == -EAGAIN ? ret : 0;
}

void prefetch_pump(struct prefetch *p)
{
	if (!p || !p->have_list || p->stopped || p->pumping)
		return;
	p->pumping = 1;
	while (p->next < p->ngroups && p->inflight < PREFETCH_JOBS &&
	       fetch_engine_free_slots(p->e) >= 2 && !p->stopped)
		if (start_batch(p))
			break;
	if (p->next == p->ngroups && !p->inflight && p->ngroups &&
	    !p->done_logged++)
		log_info("prefetch: %llu jobs (%llu KiB) in %llu batches and %lld ms, %llu skipped as already read",
			 p->jobs, p->bytes >> 10, p->batches, ms_since(&p->start),
			 p->skipped);
	p->pumping = 0;
}

static void list_done(struct fetch_file *f, int err, unsigned char *data,
		      uint64_t len, const char *why)
{
	struct prefetch *p = f->ctx;
	struct prefetch_list l;
	char reason[128];

	if (err == -ENOENT) {
		log_debug("no prefetch list at %s", p->url);
		p->stopped = 1;
		return;
	}
	if (err) {
		log_warn("prefetch list %s: %s; booting without it", p->url,
			 err == -EBADMSG ? "too large or too small" : why);
		p->stopped = 1;
		return;
	}
	if (prefetch_parse(&l, (const char *)data, len, reason, sizeof(reason))) {
		log_warn("prefetch list %s: %s; booting without it", p->url,
			 reason);
		free(data);
		p->stopped = 1;
		return;
	}
	free(data);
	prefetch_use_list(p, &l, p->url);
}

/*
 * Once the kernel opened a blob: the image's own requests came first, so
 * they, not an optional file, find out which mirror answers.
 */
static void request_list(struct prefetch *p)
{
	int ret;

	p->list_wanted = 0;
	p->file.min = strlen(PREFETCH_MAGIC) + 1;
	p->file.max = PREFETCH_FILE_MAX;
	p->file.optional = 1;
	p->file.done = list_done;
	p->file.ctx = p;
	ret = fetch_file_start(p->e, &p->file, p->url, 0);
	if (ret) {
		log_warn("prefetch list %s: cannot start a request: %s; booting without it",
			 p->url, strerror(-ret));
		p->stopped = 1;
	}
}

void prefetch_fetch_list(struct prefetch *p, const char *fsid)
{
	snprintf(p->url, sizeof(p->url), "%s/%s.prefetch",
		 fetch_engine_base(p->e), fsid);
	p->list_wanted = 1;
}

int prefetch_list_from_manifest(struct prefetch_list *l,
				const struct manifest *m, const char *fsid)
{
	size_t i;

	memset(l, 0, sizeof(*l));
	if (!m->nprefetch)
		return 0;
	l->ranges = calloc(m->nprefetch, sizeof(*l->ranges));
	if (!l->ranges)
		return -ENOMEM;
	/* names in blob order: index b is blob b */
	for (i = 0; i < m->nblobs; i++)
		prefetch_blob_index(l, i ? m->blobs[i].tag : fsid);
	for (i = 0; i < m->nprefetch; i++) {
		uint32_t r = m->prefetch[i], b = 0;
		struct prefetch_range *last = l->nranges ? &l->ranges[l->nranges - 1] : NULL;
		uint64_t off = m->ref_off[r];
		uint64_t len = page_up(m->chunks[m->refs[r]].size);

		while (b + 1 < m->nblobs && r >= m->blobs[b + 1].first_ref)
			b++;
		if (last && last->blob == b && last->off + last->len == off) {
			last->len += len;
			continue;
		}
		l->ranges[l->nranges++] = (struct prefetch_range){
			.off = off, .len = len, .blob = b, .ms = (uint32_t)i,
		};
	}
	return 0;
}
