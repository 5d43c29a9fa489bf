// SPDX-License-Identifier: MIT
#include <errno.h>
#include <fcntl.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "fetch.h"
#include "fill.h"
#include "log.h"
#include "manifest.h"
#include "page.h"
#include "prefetch.h"
#include "prefetch_list.h"
#include "record.h"
#include "serve.h"
#include "source.h"
#include "status.h"
#include "store.h"
#include "trace.h"
#include "url.h"

/* erofs asks for readahead windows; anything this large is not sane. */
#define READ_MAX (64ULL << 20)
/*
 * A READ that starts where the previous fetch ended is a sequential reader:
 * fetch twice as much each time, up to this, so a large file costs a few
 * large requests instead of one per kernel readahead window.
 */
#define SEQ_WINDOW_MAX (2ULL << 20)
/*
 * Bytes of fetch buffers at once, all blobs (the daemon is mlock'ed): more
 * fetches wait in order, read-ahead past it is not started.
 */
#define INFLIGHT_MAX (64ULL << 20)
/*
 * Bytes nobody asked for yet (a sequential window's growth, read-ahead) are
 * fetched only while fewer fetch buffers than this are in use: a few
 * sequential readers at full window would otherwise hold 2 MiB each in the
 * daemon's locked memory.
 */
#define SPECULATIVE_MAX (4ULL << 20)

#define container_of(p, type, member) \
	((type *)((char *)(p) - offsetof(type, member)))

struct fetch;

/* A blob and what the core keeps about it. */
struct sblob {
	struct blob b;			/* shared with the source */
	struct server *server;
	struct fe_object *fe;
	unsigned int users;		/* fetches that will still call fe */
	int closed;			/* serve_close() seen */
	uint64_t seq_end;		/* end of the last fetch started */
	uint64_t seq_window;		/* current sequential window, 0: none */
	unsigned int store_busy_logged;	/* the disk store's queue was full */
	struct fetch *fetches;		/* under way */
	struct sblob *next;		/* in server->blobs, once opened */
};

struct split;

/* A kernel read, or the part of one, waiting for a fetch. */
struct waiter {
	uint64_t tag, off, len;
	struct split *split;		/* the read this is a part of, or NULL */
};

/*
 * A read that straddles fetches: each part waits for the fetch that brings
 * it, and the read is answered, with its bytes gathered, once every part is in.
 */
struct split {
	uint64_t tag, off, len;
	unsigned int pending;		/* parts not yet in */
	int failed;
	unsigned char *buf;
};

/* Parts a read may be split into; more fetches under way than this are rare. */
#define SPLIT_MAX 8

struct span {
	uint64_t off, len;
};

/* Who started a fetch: a READ (or its read-ahead), prefetch.c, fill.c. */
enum origin { BY_READ, BY_PREFETCH, BY_FILL };

/* One job given to the source, and the reads it answers. */
struct fetch {
	struct job job;
	struct sblob *sb;
	struct waiter *waiters;
	size_t nwaiters;
	struct span *checked;		/* runs the source vouched for */
	size_t nchecked;
	uint64_t buflen;		/* of job.buf (allocated at launch) */
	struct fetch *next;		/* in sb->fetches */
	struct fetch *next_queued;	/* in server->queue, waiting for room */
	enum origin origin;		/* who started it */
	uint64_t fill_off, fill_end;	/* BY_FILL: the piece fill.c planned */
	void *batch;			/* BY_PREFETCH: prefetch.c's, for its end */
	enum trace_why why;		/* for the trace: a read, read-ahead, prefetch, fill */
	uint64_t start_us;		/* launched (trace_now_us()) */
};

struct server {
	const struct config *cfg;
	struct fetch_engine *engine;
	struct source *src;
	struct serve_stats stats;
	struct store_budget ram;	/* --ram-cache: the RAM stores' bytes */
	unsigned long long ram_reads;	/* reads answered from RAM */
	int ram_full_logged;
	struct sblob *blobs;
	/* fetch buffers allocated, their limit; fetches waiting for room, in order */
	uint64_t inflight, inflight_max;
	struct fetch *queue, **queue_tail;
	struct record *record;		/* what the kernel read, or NULL */
	struct prefetch *prefetch;	/* streaming a list, or NULL */
	struct fill *fill;		/* erofs.fill=on, or NULL */
	struct timespec last_read_fetch;	/* a READ last needed the network */
	const struct manifest *manifest;	/* a verified image's, or NULL */
	struct trace *trace;		/* the boot's fetches and reads, or NULL */
	/* the front end, for the status */
	const char *fe_name;
	unsigned int ndevs;
	char devs[STATUS_DEVS_MAX][STATUS_DEV_MAX];
};

int server_new_source(struct server **out, const struct config *cfg,
		      struct fetch_engine *engine, struct source *src)
{
	struct server *s = calloc(1, sizeof(*s));

	if (!s)
		return -ENOMEM;
	s->cfg = cfg;
	s->engine = engine;
	s->src = src;
	s->inflight_max = INFLIGHT_MAX;
	s->queue_tail = &s->queue;
	clock_gettime(CLOCK_MONOTONIC, &s->last_read_fetch);
	/* Without room for it the daemon serves as well, just keeps no record. */
	if (record_new(&s->record))
		s->record = NULL;
	/* Nor a trace. */
	if (trace_new(&s->trace))
		s->trace = NULL;
	*out = s;
	return 0;
}

void server_limit_inflight(struct server *s, uint64_t bytes)
{
	s->inflight_max = bytes;
}

int server_new(struct server **out, const struct config *cfg,
	       struct fetch_engine *engine, const struct manifest *m)
{
	struct serve_stats *stats;
	struct source *src;
	int ret;

	/* The source counts into the server's stats: make the server first. */
	ret = server_new_source(out, cfg, engine, NULL);
	if (ret)
		return ret;
	stats = &(*out)->stats;
	ret = m ? source_verified_new(&src, engine, m, cfg->fsid, stats) :
		  source_plain_new(&src, engine, stats);
	if (ret) {
		record_free((*out)->record);
		trace_free((*out)->trace);
		free(*out);
		return ret;
	}
	(*out)->src = src;
	(*out)->manifest = m;
	return 0;
}

static void fetch_free(struct server *s, struct fetch *f);
static void start_queued(struct server *s);

/* A part of a split read will not come in: the read is freed unanswered. */
static void split_drop(struct split *sp)
{
	if (!sp || --sp->pending)
		return;
	free(sp->buf);
	free(sp);
}

/* At exit: what the kernel closed still has its object; the rest is the front end's. */
void server_free(struct server *s)
{
	struct sblob *sb, *next;
	struct fetch *f, *fnext;

	if (!s)
		return;
	for (sb = s->blobs; sb; sb = next) {
		next = sb->next;
		for (f = sb->fetches; f; f = fnext) {
			size_t i;

			fnext = f->next;
			/* Nobody is answered at exit. */
			for (i = 0; i < f->nwaiters; i++)
				split_drop(f->waiters[i].split);
			fetch_free(s, f);
		}
		if (sb->closed)
			sb->fe->ops->release(sb->fe);
		store_close(sb->b.store);
		free(sb);
	}
	s->src->ops->destroy(s->src);
	prefetch_free(s->prefetch);
	fill_free(s->fill);
	record_free(s->record);
	trace_free(s->trace);
	free(s);
}

const struct record *server_record(const struct server *s)
{
	return s->record;
}

const struct trace *server_trace(const struct server *s)
{
	return s->trace;
}

void server_set_frontend(struct server *s, const char *name,
			 const int *nbd_index, unsigned int ndevs)
{
	unsigned int i;

	s->fe_name = name;
	if (!nbd_index) {
		/* cachefiles: one device for every blob */
		s->ndevs = 1;
		snprintf(s->devs[0], sizeof(s->devs[0]), "/dev/cachefiles");
		return;
	}
	s->ndevs = ndevs < STATUS_DEVS_MAX ? ndevs : STATUS_DEVS_MAX;
	for (i = 0; i < s->ndevs; i++)
		snprintf(s->devs[i], sizeof(s->devs[i]), "/dev/nbd%d",
			 nbd_index[i]);
}

int server_status(const struct server *s, struct status *st)
{
	const struct sblob *sb;
	unsigned int i, n = 0;

	memset(st, 0, sizeof(*st));
	st->frontend = s->fe_name;
	st->ndevs = s->ndevs;
	memcpy(st->devs, s->devs, sizeof(st->devs));
	st->disk_dir = s->cfg->store_dir[0] ? s->cfg->store_dir : NULL;
	st->ram_used = s->ram.used;
	st->ram_limit = s->ram.limit;
	if (s->engine) { /* tests run servers without one */
		st->net = *fetch_engine_stats(s->engine);
		st->nmirrors = fetch_engine_mirrors(s->engine);
		for (i = 0; i < st->nmirrors; i++)
			fetch_engine_mirror_status(s->engine, i, &st->mirrors[i]);
	}
	fill_progress(s->fill, &st->fill);
	for (sb = s->blobs; sb; sb = sb->next)
		n += !sb->closed;
	st->blobs = n ? calloc(n, sizeof(*st->blobs)) : NULL;
	if (n && !st->blobs)
		return -ENOMEM;
	for (sb = s->blobs; sb; sb = sb->next) {
		struct status_blob *bl;
		uint64_t total, held = 0;

		if (sb->closed)
			continue;
		bl = &st->blobs[st->nblobs++];
		bl->name = sb->b.name;
		bl->size = sb->b.size;
		bl->st = sb->b.stats;
		if (sb->b.store) {
			held = store_pages(sb->b.store, &total) * STORE_PAGE;
			if (held > sb->b.size)
				held = sb->b.size;
			bl->store = store_in_ram(sb->b.store) ? "ram" : "disk";
			if (!store_in_ram(sb->b.store))
				st->disk_used += held;
		}
		bl->held = held;
	}
	return 0;
}

/* Prefetch for @s, told of the blobs the kernel opened before it began. */
static int prefetch_begin(struct server *s)
{
	struct sblob *sb;

	if (prefetch_new(&s->prefetch, s, s->engine)) {
		log_warn("prefetch: out of memory; booting without it");
		s->prefetch = NULL;
		return -ENOMEM;
	}
	for (sb = s->blobs; sb; sb = sb->next)
		if (!sb->closed)
			prefetch_opened(s->prefetch, &sb->b);
	return 0;
}

void server_prefetch(struct server *s)
{
	/* A verified image's list is in its manifest, under its digest. */
	if (s->manifest) {
		struct prefetch_list l;
		char from[CONFIG_FSID_MAX + 32];

		if (!s->manifest->nprefetch)
			return;
		if (prefetch_list_from_manifest(&l, s->manifest, s->cfg->fsid)) {
			log_warn("prefetch: out of memory; booting without it");
			return;
		}
		snprintf(from, sizeof(from), "%s.manifest", s->cfg->fsid);
		server_prefetch_from(s, &l, from);
		return;
	}
	if (!prefetch_begin(s))
		prefetch_fetch_list(s->prefetch, s->cfg->fsid);
}

void server_prefetch_from(struct server *s, struct prefetch_list *l,
			  const char *from)
{
	if (prefetch_begin(s)) {
		prefetch_list_free(l);
		return;
	}
	prefetch_use_list(s->prefetch, l, from);
}

int server_prefetching(const struct server *s)
{
	return prefetch_busy(s->prefetch);
}

void server_keep_in_ram(struct server *s, uint64_t bytes)
{
	s->ram.limit = bytes;
}

const struct serve_stats *server_stats(const struct server *s)
{
	return &s->stats;
}

void server_log_stats(const struct server *s)
{
	const struct fetch_stats *f = fetch_engine_stats(s->engine);
	const struct sblob *sb;

	log_info("stats: opens %llu, reads %llu, closes %llu, http requests %llu, retries %llu, bytes fetched %llu, bytes written %llu (from disk %llu), errors %llu",
		 s->stats.opens, s->stats.reads, s->stats.closes, f->attempts,
		 f->retries, f->bytes, s->stats.bytes_written,
		 s->stats.bytes_from_disk, s->stats.errors);
	if (s->ram.limit)
		log_info("stats: RAM cache %llu of %llu KiB held, reads answered from it %llu (%llu bytes)",
			 (unsigned long long)(s->ram.used >> 10),
			 (unsigned long long)(s->ram.limit >> 10), s->ram_reads,
			 s->stats.bytes_from_ram);
	for (sb = s->blobs; sb; sb = sb->next) {
		uint64_t total, have;

		if (!sb->b.store || store_in_ram(sb->b.store))
			continue;
		have = store_pages(sb->b.store, &total);
		log_info("stats: blob %s: %llu of %llu pages on disk, %llu bytes waiting for the disk, %llu read back failed their check",
			 sb->b.name, (unsigned long long)have,
			 (unsigned long long)total,
			 (unsigned long long)store_waiting(sb->b.store),
			 sb->b.stats.store_bad);
	}
	if (s->src->ops->log_stats)
		s->src->ops->log_stats(s->src);
}

void server_error(struct server *s, const char *line)
{
	int fd;

	s->stats.errors++;
	if (!line || !s->cfg->error_file[0])
		return;
	fd = open(s->cfg->error_file, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC,
		  0644);
	if (fd < 0)
		return;
	if (write(fd, line, strlen(line)) < 0 || write(fd, "\n", 1) < 0)
		log_warn("%s: cannot write: %s", s->cfg->error_file,
			 strerror(errno));
	close(fd);
}

const char *blob_name(const struct blob *b)
{
	return b->name;
}

uint64_t blob_size(const struct blob *b)
{
	return b->size;
}

static void sblob_free(struct sblob *sb)
{
	struct sblob **p;

	for (p = &sb->server->blobs; *p; p = &(*p)->next) {
		if (*p == sb) {
			*p = sb->next;
			break;
		}
	}
	store_close(sb->b.store);
	free(sb);
}

/* The front end's object goes once the kernel closed it and no fetch uses it. */
static void sblob_put(struct sblob *sb)
{
	if (--sb->users || !sb->closed)
		return;
	sb->fe->ops->release(sb->fe);
	sblob_free(sb);
}

void serve_open(struct server *s, const char *name, size_t len,
		struct fe_object *o)
{
	struct sblob *sb;

	s->stats.opens++;
	if (url_check_name(name, len)) {
		log_err("blob name from the kernel is not a plain file name (fsid or device tag); refused");
		server_error(s, "blob name (fsid or device tag) is not a plain file name");
		o->ops->opened(o, NULL, -EINVAL);
		return;
	}
	sb = calloc(1, sizeof(*sb));
	if (!sb) {
		log_err("blob %.*s: out of memory", (int)len, name);
		server_error(s, NULL);
		o->ops->opened(o, NULL, -ENOMEM);
		return;
	}
	memcpy(sb->b.name, name, len);
	sb->server = s;
	sb->fe = o;
	log_debug("OPEN: blob %s", sb->b.name);
	s->src->ops->open(s->src, &sb->b, s->cfg->store_dir[0] ? s->cfg->store_dir : NULL);
}

void blob_opened(struct blob *b, int err, const char *why)
{
	struct sblob *sb = container_of(b, struct sblob, b);
	struct server *s = sb->server;

	if (err) {
		log_err("cannot open blob %s: %s", b->name, why);
		server_error(s, why);
		sb->fe->ops->opened(sb->fe, NULL, err);
		sblob_free(sb);
		return;
	}
	if (b->store) {
		uint64_t total, have = store_pages(b->store, &total);

		log_info("blob %s: %llu of %llu pages kept on disk from earlier boots",
			 b->name, (unsigned long long)have,
			 (unsigned long long)total);
	} else if (s->ram.limit) {
		int ret = store_open_ram(&b->store, b->name, b->size, &s->ram);

		if (ret) {
			log_warn("blob %s: cannot open its RAM cache: %s; pages the kernel drops are fetched again",
				 b->name, strerror(-ret));
			b->store = NULL;
		}
	}
	sb->next = s->blobs;
	s->blobs = sb;
	sb->fe->ops->opened(sb->fe, b, (int64_t)b->size);
	prefetch_opened(s->prefetch, b);
	fill_opened(s->fill, b);
}

void blob_keep(struct blob *b, const char *store_dir, const char *sha256_hex,
	       unsigned int flags)
{
	int ret = store_open(&b->store, store_dir, b->name, b->size,
			     sha256_hex, flags);

	if (!ret)
		ret = store_set_origin(store_dir, b->name, b->url);
	if (ret) {
		log_warn("blob %s: cannot open its store in %s: %s; its pages are not kept across boots",
			 b->name, store_dir, strerror(-ret));
		store_close(b->store);
		b->store = NULL;
	}
}

void serve_close(struct server *s, struct blob *b)
{
	struct sblob *sb = container_of(b, struct sblob, b);

	s->stats.closes++;
	log_debug("CLOSE: blob %s", b->name);
	sb->closed = 1;
	prefetch_closed(s->prefetch, b);
	fill_closed(s->fill, b);
	/* A fetch under way still writes through the object: release after it. */
	sb->users++;
	sblob_put(sb);
}

/* Bytes handed to the front end go to the store too. */
static void keep_copy(struct sblob *sb, const unsigned char *buf,
		      uint64_t off, uint64_t len)
{
	struct server *s = sb->server;
	struct blob *b = &sb->b;
	int ret;

	if (!b->store)
		return;
	ret = store_put(b->store, buf, off, len);
	if (ret == -EAGAIN) {
		/* the disk is slow or stuck: the reads go on, these pages are not kept */
		if (!sb->store_busy_logged++)
			log_warn("blob %s: its store has %u MiB waiting for the disk: pages beyond that are not kept",
				 b->name, STORE_QUEUE_MAX >> 20);
		return;
	}
	if (ret == -ENOSPC && store_in_ram(b->store)) {
		if (!s->ram_full_logged++)
			log_info("RAM cache full (%llu KiB): it keeps what it holds; pages the kernel drops beyond it are fetched again",
				 (unsigned long long)(s->ram.limit >> 10));
		return;
	}
	if (ret) {
		log_warn("blob %s: cannot keep bytes %llu-%llu in its store: %s; no longer keeping its pages",
			 b->name, (unsigned long long)off,
			 (unsigned long long)(off + len - 1), strerror(-ret));
		store_close(b->store);
		b->store = NULL;
	}
}

/* Checked bytes [off, off + len) at @buf (zero-padded to a page) to the kernel. */
static int hand_over(struct sblob *sb, const unsigned char *buf, uint64_t off,
		     uint64_t len)
{
	struct server *s = sb->server;
	int ret;

	if (sb->closed)
		return -EBADF;
	/* A failure is logged by the front end and counted by the read it fails. */
	ret = sb->fe->ops->write(sb->fe, buf, off, len);
	if (!ret) {
		s->stats.bytes_written += page_up(len);
		sb->b.stats.bytes_to_kernel += page_up(len);
	}
	return ret;
}

void job_checked(struct job *j, uint64_t off, uint64_t len)
{
	struct fetch *f = container_of(j, struct fetch, job);
	const unsigned char *buf = j->buf + (off - j->off);
	struct span *sp;

	if (hand_over(f->sb, buf, off, len))
		return;
	sp = realloc(f->checked, (f->nchecked + 1) * sizeof(*sp));
	if (!sp) {
		/* the reads it would answer fail: nothing unchecked is answered */
		log_err("blob %s: out of memory", j->blob->name);
		return;
	}
	/* The blob's last page is whole: its tail is zeros, as the kernel expects. */
	if (off + len >= j->blob->size)
		len = page_up(len);
	sp[f->nchecked].off = off;
	sp[f->nchecked++].len = len;
	f->checked = sp;
}

/* [off, off + len) lies within one run the source vouched for. */
static int fetch_covers(const struct fetch *f, uint64_t off, uint64_t len)
{
	size_t i;

	for (i = 0; i < f->nchecked; i++)
		if (off >= f->checked[i].off &&
		    off + len <= f->checked[i].off + f->checked[i].len)
			return 1;
	return 0;
}

static void unlink_fetch(struct sblob *sb, struct fetch *f)
{
	struct fetch **pp;

	for (pp = &sb->fetches; *pp; pp = &(*pp)->next) {
		if (*pp == f) {
			*pp = f->next;
			return;
		}
	}
}

static void fetch_free(struct server *s, struct fetch *f)
{
	if (f->job.src_priv)
		s->src->ops->job_free(&f->job);
	/* a fetch still queued at exit holds no buffer */
	if (f->job.buf)
		s->inflight -= f->buflen;
	free(f->job.buf);
	free(f->waiters);
	free(f->checked);
	free(f);
}

static int add_waiter(struct fetch *f, const struct waiter *w)
{
	struct waiter *ws = realloc(f->waiters,
				    (f->nwaiters + 1) * sizeof(*ws));

	if (!ws)
		return -ENOMEM;
	ws[f->nwaiters++] = *w;
	f->waiters = ws;
	return 0;
}

/* One part of a split read is in (@data: its bytes) or failed (NULL). */
static void part_done(struct sblob *sb, const struct waiter *w,
		      const unsigned char *data)
{
	struct split *sp = w->split;

	if (data)
		memcpy(sp->buf + (w->off - sp->off), data, w->len);
	else
		sp->failed = 1;
	if (sp->pending == 1 && !sb->closed)
		sb->fe->ops->read_done(sb->fe, sp->tag,
				       sp->failed ? NULL : sp->buf,
				       sp->failed ? -EIO : 0);
	split_drop(sp);
}

void job_done(struct job *j, int err, const char *why)
{
	struct fetch *f = container_of(j, struct fetch, job);
	struct sblob *sb = f->sb;
	struct server *s = sb->server;
	const struct waiter *bad = NULL;
	size_t i;

	unlink_fetch(sb, f);
	/* After a CLOSE nobody waits for the reads: nothing to fail. */
	for (i = 0; i < f->nwaiters && !bad && !sb->closed; i++)
		if (!fetch_covers(f, f->waiters[i].off, f->waiters[i].len))
			bad = &f->waiters[i];
	trace_fetch(s->trace, sb->b.name, f->start_us, j->off, j->len,
		    f->why, err != 0);
	if (bad) {
		s->stats.errors++;
		sb->b.stats.errors++;
		log_err("blob %s: cannot read bytes %llu-%llu from %s: %s",
			sb->b.name, (unsigned long long)bad->off,
			(unsigned long long)(bad->off + bad->len - 1), sb->b.url,
			err ? why : "its bytes did not reach the kernel (see above)");
	} else if (err) {
		log_warn("blob %s: %s of bytes %llu-%llu from %s failed: %s",
			 sb->b.name, f->origin == BY_PREFETCH ? "prefetch" :
				     f->origin == BY_FILL ? "fill" : "read-ahead",
			 (unsigned long long)j->off,
			 (unsigned long long)(j->off + j->len - 1), sb->b.url,
			 why);
	}
	if (err) {
		/* A failed window must not make the next READ look sequential. */
		sb->seq_window = 0;
		sb->seq_end = 0;
	}
	/*
	 * Answer every read, the failed ones too: the kernel then fails the
	 * reader with EIO instead of leaving it blocked.
	 */
	for (i = 0; i < f->nwaiters; i++) {
		const struct waiter *w = &f->waiters[i];
		const unsigned char *data = NULL;

		if (fetch_covers(f, w->off, w->len))
			data = j->buf + (w->off - j->off);
		if (w->split)
			part_done(sb, w, data);
		else if (!sb->closed)
			sb->fe->ops->read_done(sb->fe, w->tag, data,
					       data ? 0 : -EIO);
	}
	/* Stored once the reads are answered: they do not wait for the disk. */
	for (i = 0; i < f->nchecked; i++) {
		uint64_t off = f->checked[i].off, len = f->checked[i].len;

		if (off + len > sb->b.size)
			len = sb->b.size - off;
		keep_copy(sb, j->buf + (off - j->off), off, len);
	}
	if (f->origin == BY_PREFETCH)
		prefetch_job_done(s->prefetch, f->batch, err);
	else if (f->origin == BY_FILL)
		fill_job_done(s->fill, &sb->b, f->fill_off, f->fill_end, err);
	fetch_free(s, f);
	sblob_put(sb);
	start_queued(s);
	/* A transfer is free again: prefetch, then the fill, may use it. */
	prefetch_pump(s->prefetch);
	fill_pump(s->fill);
}

/*
 * Hands @f to the source: its buffer now. A failure answers its reads
 * (through job_done), as a failed request would.
 */
static void launch_fetch(struct server *s, struct fetch *f)
{
	struct sblob *sb = f->sb;
	struct job *j = &f->job;
	char why[128];
	int ret = -ENOMEM;

	j->buf = aligned_alloc(PAGE_SIZE_4K, f->buflen);
	if (j->buf) {
		memset(j->buf + j->len, 0, f->buflen - j->len);
		s->inflight += f->buflen;
		f->start_us = trace_now_us();
		log_debug("blob %s: fetching %llu+%llu", sb->b.name,
			  (unsigned long long)j->off, (unsigned long long)j->len);
		ret = s->src->ops->fetch(s->src, j);
		if (!ret)
			return;
	}
	s->stats.errors++;
	sb->b.stats.errors++;
	f->start_us = trace_now_us();
	snprintf(why, sizeof(why), "cannot plan a fetch of %llu bytes: %s",
		 (unsigned long long)j->len, strerror(-ret));
	job_done(j, ret, why);
}

/* Starts fetches that waited for room, in the order they came. */
static void start_queued(struct server *s)
{
	struct fetch *f;

	while ((f = s->queue) &&
	       (!s->inflight || s->inflight + f->buflen <= s->inflight_max)) {
		s->queue = f->next_queued;
		if (!s->queue)
			s->queue_tail = &s->queue;
		launch_fetch(s, f);
	}
}

/*
 * Starts fetching [off, end) (page-aligned; clipped to the blob; widened to
 * what the source checks as one) for the read @w, or as read-ahead when @w
 * is NULL. With INFLIGHT_MAX bytes under way it waits its turn (a read) or
 * is not started (read-ahead, prefetch: -EAGAIN). Returns 0, -EAGAIN or
 * -ENOMEM (@w not answered).
 */
static int start_fetch(struct sblob *sb, uint64_t off, uint64_t end,
		       const struct waiter *w, enum origin origin, void *batch)
{
	struct server *s = sb->server;
	uint64_t want_off = off, want_end = end;
	struct fetch *f;
	uint64_t buflen;
	int room;

	if (end > page_up(sb->b.size))
		end = page_up(sb->b.size);
	s->src->ops->extent(s->src, &sb->b, &off, &end);
	buflen = end - off;
	room = !s->queue && (!s->inflight || s->inflight + buflen <= s->inflight_max);
	if (!w && !room)
		return -EAGAIN;
	sb->seq_end = end;
	if (end > sb->b.size)
		end = sb->b.size;

	f = calloc(1, sizeof(*f));
	if (!f || (w && add_waiter(f, w))) {
		free(f);
		s->stats.errors++;
		sb->b.stats.errors++;
		log_err("blob %s: out of memory for a fetch of %llu bytes",
			sb->b.name, (unsigned long long)buflen);
		return -ENOMEM;
	}
	f->sb = sb;
	f->buflen = buflen;
	f->origin = origin;
	f->fill_off = want_off;
	f->fill_end = want_end;
	f->batch = batch;
	f->why = origin == BY_PREFETCH ? TRACE_PREFETCH :
		 origin == BY_FILL ? TRACE_FILL : w ? TRACE_DEMAND : TRACE_AHEAD;
	if (w)
		clock_gettime(CLOCK_MONOTONIC, &s->last_read_fetch);
	f->job.blob = &sb->b;
	f->job.off = off;
	f->job.len = end - off;
	/* Linked first: the source may finish the job before it returns. */
	sb->users++;
	f->next = sb->fetches;
	sb->fetches = f;
	if (room) {
		launch_fetch(s, f);
		return 0;
	}
	log_debug("blob %s: %llu+%llu waits: %llu bytes of fetches under way",
		  sb->b.name, (unsigned long long)off,
		  (unsigned long long)(end - off),
		  (unsigned long long)s->inflight);
	*s->queue_tail = f;
	s->queue_tail = &f->next_queued;
	return 0;
}

/*
 * A sequential reader at full window that has entered the last window
 * fetched gets the next window started now, so it finds it cached or on
 * its way instead of waiting for a fresh request.
 */
static void read_ahead(struct sblob *sb, uint64_t off)
{
	if (sb->seq_window < SEQ_WINDOW_MAX || sb->seq_end >= sb->b.size ||
	    off + sb->seq_window < sb->seq_end ||
	    sb->server->inflight + sb->seq_window > SPECULATIVE_MAX)
		return;
	start_fetch(sb, sb->seq_end, sb->seq_end + sb->seq_window, NULL,
		    BY_READ, NULL);
}

/* The fetch under way that brings byte @off, or NULL. */
static struct fetch *fetch_at(const struct sblob *sb, uint64_t off)
{
	struct fetch *f;

	for (f = sb->fetches; f; f = f->next)
		if (off >= f->job.off && off < page_up(f->job.off + f->job.len))
			return f;
	return NULL;
}

/* A read wholly inside a fetch under way waits for that fetch. */
static int join_fetch(struct sblob *sb, const struct waiter *w)
{
	struct fetch *f = fetch_at(sb, w->off);

	if (!f || w->off + w->len > page_up(f->job.off + f->job.len))
		return 0;
	return !add_waiter(f, w);
}

/*
 * A sequential reader (one that starts where the last fetch ended) gets
 * [start, *end) grown to twice its last window; anyone else gets what it asked.
 */
static void grow_window(struct sblob *sb, uint64_t start, uint64_t *end)
{
	uint64_t inflight = sb->server->inflight, grow;

	if (!sb->seq_end || start != sb->seq_end) {
		sb->seq_window = 0;
		return;
	}
	sb->seq_window = sb->seq_window ? 2 * sb->seq_window :
					  2 * (*end - start);
	if (sb->seq_window > SEQ_WINDOW_MAX)
		sb->seq_window = SEQ_WINDOW_MAX;
	grow = sb->seq_window;
	if (inflight + grow > SPECULATIVE_MAX)
		grow = inflight < SPECULATIVE_MAX ? SPECULATIVE_MAX - inflight : 0;
	if (*end - start < grow)
		*end = start + page_down(grow);
}

/*
 * A read that begins inside fetches under way and goes on past them waits
 * for them for what they bring and fetches only the rest, which for a
 * sequential reader is where its window goes on. Returns 1 when @w is
 * taken care of (answered or waiting), 0 when no fetch under way holds
 * its first byte.
 */
static int split_read(struct sblob *sb, const struct waiter *w)
{
	struct fetch *parts[SPLIT_MAX];
	uint64_t cut[SPLIT_MAX + 1], end = w->off + w->len, rest_end;
	struct waiter part = { 0 };
	struct split *sp;
	unsigned int n = 0, i;
	struct fetch *f;

	cut[0] = w->off;
	while (n < SPLIT_MAX && cut[n] < end && (f = fetch_at(sb, cut[n]))) {
		parts[n] = f;
		cut[n + 1] = page_up(f->job.off + f->job.len);
		if (cut[n + 1] > end)
			cut[n + 1] = end;
		n++;
	}
	if (!n)
		return 0;
	sp = calloc(1, sizeof(*sp));
	if (sp)
		sp->buf = malloc(w->len);
	if (!sp || !sp->buf) {
		free(sp);
		sb->server->stats.errors++;
		sb->b.stats.errors++;
		log_err("blob %s: out of memory for a read of %llu bytes",
			sb->b.name, (unsigned long long)w->len);
		sb->fe->ops->read_done(sb->fe, w->tag, NULL, -ENOMEM);
		return 1;
	}
	sp->tag = w->tag;
	sp->off = w->off;
	sp->len = w->len;
	/* Counted first: the last fetch may finish before start_fetch returns. */
	sp->pending = n + (cut[n] < end);
	part.split = sp;
	for (i = 0; i < n; i++) {
		part.off = cut[i];
		part.len = cut[i + 1] - cut[i];
		if (add_waiter(parts[i], &part))
			part_done(sb, &part, NULL);
	}
	if (cut[n] < end) {
		part.off = cut[n];
		part.len = end - cut[n];
		rest_end = page_up(end);
		grow_window(sb, cut[n], &rest_end);
		if (start_fetch(sb, cut[n], rest_end, &part, BY_READ, NULL) < 0)
			part_done(sb, &part, NULL);
	}
	log_debug("READ: blob %s bytes %llu+%llu waits for %u fetches under way%s",
		  sb->b.name, (unsigned long long)w->off,
		  (unsigned long long)w->len, n,
		  cut[n] < end ? " and fetches the rest" : "");
	return 1;
}

/*
 * Pages read back from the disk store are checked as network bytes are:
 * against the manifest (the source's check_stored), or against their sums
 * (store_read). A failure drops them from the store: they are fetched
 * again. Returns 0 or -EBADMSG with the reason in @why.
 */
static int check_from_disk(struct sblob *sb, unsigned char *buf, uint64_t off,
			   uint64_t len, int ret, char *why, size_t why_size)
{
	struct server *s = sb->server;

	if (ret == -EBADMSG)
		snprintf(why, why_size, "a page's CRC-32C is not the one stored with it");
	else if (!ret && s->src->ops->check_stored)
		ret = s->src->ops->check_stored(s->src, &sb->b, buf, off, len,
						why, why_size);
	if (ret != -EBADMSG)
		return ret;
	s->stats.store_bad++;
	sb->b.stats.store_bad++;
	log_warn("blob %s: bytes %llu-%llu kept on disk failed their check (%s): dropped from the store, fetching them again",
		 sb->b.name, (unsigned long long)off,
		 (unsigned long long)(off + len - 1), why);
	store_drop(sb->b.store, off, len);
	return ret;
}

/* Answers a read from the store (disk or RAM); 0 if its pages are not all there. */
static int read_from_store(struct sblob *sb, const struct waiter *w)
{
	struct server *s = sb->server;
	struct blob *b = &sb->b;
	uint64_t off = page_down(w->off);
	uint64_t end = page_up(w->off + w->len);
	int ram = store_in_ram(b->store);
	unsigned char *buf;
	char why[256];
	int ret;

	/* From the disk, the pieces the source checks: whole chunks. */
	if (!ram)
		s->src->ops->extent(s->src, b, &off, &end);
	if (end > page_up(b->size)) /* never past the blob's last page */
		end = page_up(b->size);
	if (!store_has(b->store, off, end - off))
		return 0;
	buf = aligned_alloc(PAGE_SIZE_4K, end - off);
	if (!buf)
		return 0;
	ret = store_read(b->store, buf, off, end - off);
	if (!ram)
		ret = check_from_disk(sb, buf, off, end - off, ret, why,
				      sizeof(why));
	if (ret) {
		if (ret != -EBADMSG)
			log_warn("blob %s: bytes %llu-%llu from its store: %s; fetching them",
				 b->name, (unsigned long long)off,
				 (unsigned long long)(end - 1), strerror(-ret));
		free(buf);
		return 0;
	}
	ret = sb->fe->ops->write(sb->fe, buf, off, end - off);
	if (ret) {
		s->stats.errors++;
		b->stats.errors++;
	} else {
		s->stats.bytes_written += end - off;
		b->stats.bytes_to_kernel += end - off;
		if (ram) {
			s->stats.bytes_from_ram += end - off;
			s->ram_reads++;
		} else {
			s->stats.bytes_from_disk += end - off;
		}
		log_debug("READ: blob %s bytes %llu+%llu from the %s",
			  b->name, (unsigned long long)off,
			  (unsigned long long)(end - off),
			  ram ? "RAM cache" : "disk store");
	}
	sb->fe->ops->read_done(sb->fe, w->tag, ret ? NULL : buf + (w->off - off),
			       ret);
	free(buf);
	return 1;
}

void serve_read(struct server *s, struct blob *b, uint64_t off, uint64_t len,
		uint64_t tag)
{
	struct sblob *sb = container_of(b, struct sblob, b);
	struct waiter w = { .tag = tag, .off = off, .len = len };
	uint64_t start, end;

	s->stats.reads++;
	b->stats.reads++;
	if (off >= b->size || len > READ_MAX || !len) {
		s->stats.errors++;
		b->stats.errors++;
		log_err("READ on blob %s: range %llu+%llu is outside its %llu bytes or too large; failed",
			b->name, (unsigned long long)off,
			(unsigned long long)len, (unsigned long long)b->size);
		sb->fe->ops->read_done(sb->fe, tag, NULL, -EINVAL);
		return;
	}
	/* Nothing lies past the blob's last page: the kernel gets what there is. */
	if (len > page_up(b->size) - off)
		w.len = page_up(b->size) - off;
	if (s->record)
		record_touch(s->record, b->name, page_down(off),
			     page_up(off + w.len));
	if (b->store && read_from_store(sb, &w)) {
		trace_read(s->trace, b->name, off, w.len, 0);
		return;
	}
	trace_read(s->trace, b->name, off, w.len, 1);
	if (join_fetch(sb, &w)) {
		log_debug("READ: blob %s bytes %llu+%llu joins a fetch under way",
			  b->name, (unsigned long long)off,
			  (unsigned long long)len);
		read_ahead(sb, off);
		return;
	}
	if (split_read(sb, &w)) {
		read_ahead(sb, off);
		return;
	}
	/* Fetch whole pages, but never past the end of the blob. */
	start = page_down(off);
	end = page_up(off + w.len);
	grow_window(sb, start, &end);
	if (start_fetch(sb, start, end, &w, BY_READ, NULL) < 0) {
		sb->fe->ops->read_done(sb->fe, tag, NULL, -ENOMEM);
		return;
	}
	read_ahead(sb, off);
}

/*
 * A fetch no READ asked for (prefetch, fill): it leaves the sequential
 * reader's window as it was. With NBD and no disk, the RAM store is where
 * such bytes wait for the READ, so a full one takes none.
 */
static int background_fetch(struct server *s, struct blob *b, uint64_t off,
			    uint64_t end, enum origin origin, void *batch)
{
	struct sblob *sb = container_of(b, struct sblob, b);
	uint64_t seq_end = sb->seq_end, seq_window = sb->seq_window;
	int ret;

	if (sb->closed)
		return -EBADF;
	if (s->ram.limit && (!b->store || s->ram_full_logged))
		return -ENOSPC;
	ret = start_fetch(sb, off, end, NULL, origin, batch);
	sb->seq_end = seq_end;
	sb->seq_window = seq_window;
	return ret;
}

int serve_prefetch(struct server *s, struct blob *b, uint64_t off,
		   uint64_t end, void *batch)
{
	return background_fetch(s, b, off, end, BY_PREFETCH, batch);
}

int serve_fill(struct server *s, struct blob *b, uint64_t off, uint64_t end)
{
	return background_fetch(s, b, off, end, BY_FILL, NULL);
}

int serve_plug(struct server *s)
{
	if (!s->src->ops->plug)
		return 0;
	s->src->ops->plug(s->src);
	return 1;
}

void serve_unplug(struct server *s)
{
	if (s->src->ops->unplug)
		s->src->ops->unplug(s->src);
}

void server_fill(struct server *s, uint64_t rate, unsigned int quiet_ms)
{
	if (fill_new(&s->fill, s, s->engine, rate, quiet_ms)) {
		log_warn("fill: out of memory; not filling");
		s->fill = NULL;
	}
}

const struct fill *server_filler(const struct server *s)
{
	return s->fill;
}

void server_fill_pump(struct server *s)
{
	fill_pump(s->fill);
}

uint64_t server_quiet_ms(const struct server *s)
{
	struct timespec now;

	clock_gettime(CLOCK_MONOTONIC, &now);
	return (uint64_t)(now.tv_sec - s->last_read_fetch.tv_sec) * 1000 +
	       (uint64_t)((now.tv_nsec - s->last_read_fetch.tv_nsec) / 1000000);
}

uint64_t server_fill_room(const struct server *s, const char **where)
{
	uint64_t size = s->cfg->ram_cache ? s->cfg->ram_cache :
					    config_default_ram_cache();

	*where = "";
	if (s->cfg->store_dir[0])
		return 0;
	if (s->ram.limit) {
		*where = "the RAM cache (erofs.cachesize=)";
		return s->ram.limit;
	}
	/*
	 * cachefiles' cache file is on the sparse ext2 image in RAM that the
	 * initramfs made erofs.cachesize= large; cachefiles stops writing
	 * with a few per cent of it left, and its own files take some.
	 */
	*where = "the cachefiles cache (erofs.cachesize=)";
	return size / 10 * 9;
}
