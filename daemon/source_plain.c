// SPDX-License-Identifier: MIT
/*
 * Plain images: a blob is the file <base>/<name>; its bytes are trusted as
 * the server sends them once status, range and length check out (fetch.c).
 * With a disk store, <name>.sha256 (published by lazyroot-mkimage) says what
 * the blob is, so pages kept from another image are never used. Jobs given
 * between plug and unplug (prefetch) go out as one request per blob for
 * their ranges, each job done as soon as its part is in.
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fetch.h"
#include "fetch_file.h"
#include "log.h"
#include "sha256.h"
#include "source.h"
#include "store.h"

/* sha256sum format: 64 hex digits, two spaces, the name */
#define ID_MIN SHA256_HEX_SIZE
#define ID_MAX 4096

struct plain {
	struct source src;
	struct fetch_engine *engine;
	int plugged;
	unsigned int nheld;
	struct job *held[FETCH_PARTS_MAX];	/* jobs waiting for unplug */
};

/*
 * One request for the jobs of one blob: a range (one job) or several
 * (FETCH_RANGES). Each job holds a reference and the engine one while it
 * works, so whoever is last frees it.
 */
struct plain_req {
	struct fetch_request req;
	unsigned int refs, n;
	struct job **jobs;	/* n of them */
	struct fetch_part *parts;	/* n of them, for FETCH_RANGES */
};

/* An OPEN under way: the size probe, then NAME.sha256. */
struct plain_open {
	struct fetch_request probe;
	struct fetch_file id;
	struct blob *b;
	struct plain *p;
	const char *store_dir;
	char id_url[CONFIG_URL_MAX + URL_NAME_MAX + 10];
	/* a complete copy of this URL's image is on disk: its size and sha256 */
	int local;
	uint64_t local_size;
	unsigned int local_flags;
	char local_hex[SHA256_HEX_SIZE + 1];
	char local_why[200];	/* why there is no such copy */
};

static void open_finish(struct plain_open *po, int err, const char *why)
{
	struct blob *b = po->b;

	if (!err)
		log_info("blob %s: %llu bytes at %s", b->name,
			 (unsigned long long)b->size, b->url);
	free(po);
	blob_opened(b, err, why);
}

/* Without NAME.sha256 the content cannot be told apart: keep nothing. */
static void open_without_store(struct plain_open *po, const char *why)
{
	log_warn("blob %s: %s: %s; its pages are not kept across boots",
		 po->b->name, po->id_url, why);
	open_finish(po, 0, NULL);
}

static int is_hex_digest(const unsigned char *s)
{
	int i;

	for (i = 0; i < SHA256_HEX_SIZE; i++)
		if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f')))
			return 0;
	return 1;
}

static void id_done(struct fetch_file *f, int err, unsigned char *data,
		    uint64_t len, const char *why)
{
	struct plain_open *po = f->ctx;
	char hex[SHA256_HEX_SIZE + 1];

	(void)len;
	if (err == -EBADMSG || (!err && !is_hex_digest(data))) {
		free(data);
		open_without_store(po, "not a sha256sum line");
		return;
	}
	if (err) {
		open_without_store(po, why);
		return;
	}
	memcpy(hex, data, SHA256_HEX_SIZE);
	hex[SHA256_HEX_SIZE] = '\0';
	free(data);
	/* nothing but the store's own sums checks its pages on read back */
	blob_keep(po->b, po->store_dir, hex, STORE_SUMS);
	open_finish(po, 0, NULL);
}

/*
 * A complete copy of the image at b->url in @store_dir: it may serve the
 * boot when no mirror answers. What ties it to the image is only the
 * NAME.sha256 last seen, kept in its id (docs/how-it-works.md).
 */
static void find_local_copy(struct plain_open *po)
{
	struct blob *b = po->b;
	struct store *st;
	uint64_t total;
	int ret;

	ret = store_peek(po->store_dir, b->name, &po->local_size, po->local_hex,
			 &po->local_flags);
	if (ret) {
		snprintf(po->local_why, sizeof(po->local_why), "%s",
			 ret == -ENOENT ? "there is none" : strerror(-ret));
		return;
	}
	if (!store_origin_is(po->store_dir, b->name, b->url)) {
		snprintf(po->local_why, sizeof(po->local_why),
			 "it was fetched from another URL");
		return;
	}
	if (store_open(&st, po->store_dir, b->name, po->local_size,
		       po->local_hex, po->local_flags))
		return;
	po->local = store_pages(st, &total) == total;
	if (!po->local)
		snprintf(po->local_why, sizeof(po->local_why),
			 "it is not complete (%llu of %llu pages)",
			 (unsigned long long)store_pages(st, NULL),
			 (unsigned long long)total);
	store_close(st);
}

static void probe_done(struct fetch_request *req, int err, const char *why)
{
	struct plain_open *po = req->ctx;
	char line[CONFIG_URL_MAX + URL_NAME_MAX + 1600];

	if (err && po->local && (err == -ETIMEDOUT || err == -EIO)) {
		struct blob *b = po->b;

		log_warn("blob %s: booting from the local copy in %s: no mirror answers (%s: %s); it is complete, of the image whose %s.sha256 said %.16s… when last seen",
			 b->name, po->store_dir, b->url, why, b->name,
			 po->local_hex);
		b->size = po->local_size;
		blob_keep(b, po->store_dir, po->local_hex, po->local_flags);
		open_finish(po, 0, NULL);
		return;
	}
	if (err) {
		snprintf(line, sizeof(line), "%s: %s%s%s", po->b->url, why,
			 po->store_dir && (err == -ETIMEDOUT || err == -EIO) ?
			 "; not booting from the local copy: " : "",
			 po->store_dir && (err == -ETIMEDOUT || err == -EIO) ?
			 po->local_why : "");
		open_finish(po, err, line);
		return;
	}
	po->b->size = req->size;
	if (!po->store_dir) {
		open_finish(po, 0, NULL);
		return;
	}
	/* Learn what the blob is before trusting pages kept from earlier boots. */
	snprintf(po->id_url, sizeof(po->id_url), "%s.sha256", po->b->url);
	po->id.min = ID_MIN;
	po->id.max = ID_MAX;
	po->id.done = id_done;
	po->id.ctx = po;
	/* from the mirror that answered the probe: the same image's */
	if (fetch_file_start(po->p->engine, &po->id, po->id_url,
			     ~(1u << req->mirror)))
		open_without_store(po, "cannot start a request");
}

static void plain_open(struct source *src, struct blob *b,
		       const char *store_dir)
{
	struct plain *p = (struct plain *)src;
	struct plain_open *po;
	char line[128];
	int ret;

	ret = url_join(b->url, sizeof(b->url), fetch_engine_base(p->engine),
		       b->name, strlen(b->name));
	if (ret) {
		blob_opened(b, ret, "blob URL too long");
		return;
	}
	po = calloc(1, sizeof(*po));
	if (!po) {
		blob_opened(b, -ENOMEM, "out of memory");
		return;
	}
	po->b = b;
	po->p = p;
	po->store_dir = store_dir;
	po->probe.kind = FETCH_PROBE;
	po->probe.url = b->url;
	po->probe.validators = &b->validators;
	po->probe.counts = &b->stats.net;
	if (store_dir)
		find_local_copy(po);
	/* with a copy to boot from, an unanswered probe need not wait */
	po->probe.no_wait = po->local;
	po->probe.done = probe_done;
	po->probe.ctx = po;
	ret = fetch_submit(p->engine, &po->probe);
	if (ret) {
		snprintf(line, sizeof(line), "cannot start a request: %s",
			 strerror(-ret));
		open_finish(po, ret, line);
	}
}

static void plain_extent(const struct source *src, const struct blob *b,
			 uint64_t *off, uint64_t *end)
{
	/* Any whole pages will do. */
	(void)src;
	(void)b;
	(void)off;
	(void)end;
}

static void req_put(struct plain_req *pr)
{
	if (--pr->refs)
		return;
	free(pr);
}

static void part_done(struct fetch_request *req, unsigned int i)
{
	struct plain_req *pr = req->ctx;
	struct job *j = pr->jobs[i];

	job_checked(j, j->off, j->len);
	job_done(j, 0, NULL);
}

static void req_done(struct fetch_request *req, int err, const char *why)
{
	struct plain_req *pr = req->ctx;
	unsigned int i;

	if (req->kind == FETCH_RANGE) {
		if (!err)
			job_checked(pr->jobs[0], pr->jobs[0]->off, pr->jobs[0]->len);
		job_done(pr->jobs[0], err, why);
	} else {
		/* the parts not told whole: their jobs failed */
		for (i = 0; i < pr->n; i++)
			if (pr->parts[i].got < pr->parts[i].len)
				job_done(pr->jobs[i], err ? err : -EIO,
					 err ? why : "the answer did not hold its bytes");
	}
	req_put(pr);	/* the engine's */
}

/* A request for jobs @js (of one blob, in order, apart) of @n. */
static void fetch_jobs(struct plain *p, struct job **js, unsigned int n)
{
	struct plain_req *pr;
	struct fetch_request *req;
	unsigned int i;
	char why[64];
	int ret;

	pr = calloc(1, sizeof(*pr) + n * (sizeof(*pr->jobs) + sizeof(*pr->parts)));
	if (!pr) {
		for (i = 0; i < n; i++)
			job_done(js[i], -ENOMEM, "cannot start a request: out of memory");
		return;
	}
	pr->n = n;
	pr->parts = (struct fetch_part *)(pr + 1);
	pr->jobs = (struct job **)(pr->parts + n);
	req = &pr->req;
	for (i = 0; i < n; i++) {
		pr->jobs[i] = js[i];
		pr->parts[i] = (struct fetch_part){ .off = js[i]->off,
			.len = js[i]->len, .buf = js[i]->buf };
		js[i]->src_priv = pr;
	}
	req->url = js[0]->blob->url;
	/* the file the probe saw, on each mirror: If-Range */
	req->validators = &js[0]->blob->validators;
	req->counts = &js[0]->blob->stats.net;
	req->blob_size = js[0]->blob->size;
	if (n == 1) {
		req->kind = FETCH_RANGE;
		req->off = js[0]->off;
		req->len = js[0]->len;
		req->buf = js[0]->buf;
	} else {
		req->kind = FETCH_RANGES;
		req->parts = pr->parts;
		req->nparts = n;
		req->part_done = part_done;
	}
	req->done = req_done;
	req->ctx = pr;
	/* the jobs', and the engine's (ours, if it refuses the request) */
	pr->refs = n + 1;
	ret = fetch_submit(p->engine, req);
	if (ret)
		snprintf(why, sizeof(why), "cannot start a request: %s",
			 strerror(-ret));
	for (i = 0; ret && i < pr->n; i++)
		/* as a failed request: the reads they were for get their answer */
		job_done(pr->jobs[i], ret, ret == -ESTALE ?
			 "the file changed on every mirror since it was first seen (see above)" :
			 why);
	if (ret)
		req_put(pr);	/* ours; the engine never had it */
}

static void plain_unplug(struct source *src);

static int plain_fetch(struct source *src, struct job *j)
{
	struct plain *p = (struct plain *)src;

	if (!p->plugged) {
		fetch_jobs(p, &j, 1);
		return 0;
	}
	if (p->nheld == FETCH_PARTS_MAX) {
		/* as many as one request takes: those go now */
		plain_unplug(src);
		p->plugged = 1;
	}
	p->held[p->nheld++] = j;
	return 0;
}

static void plain_plug(struct source *src)
{
	((struct plain *)src)->plugged = 1;
}

static int by_blob_off(const void *a, const void *b)
{
	const struct job *x = *(struct job *const *)a, *y = *(struct job *const *)b;

	if (x->blob != y->blob)
		return (uintptr_t)x->blob < (uintptr_t)y->blob ? -1 : 1;
	return x->off < y->off ? -1 : x->off > y->off;
}

/* The held jobs go out: one request per blob, the ranges in order. */
static void plain_unplug(struct source *src)
{
	struct plain *p = (struct plain *)src;
	struct job *js[FETCH_PARTS_MAX];
	unsigned int n = p->nheld, i, start;

	p->plugged = 0;
	p->nheld = 0;
	memcpy(js, p->held, n * sizeof(*js));
	qsort(js, n, sizeof(*js), by_blob_off);
	for (start = 0, i = 1; i <= n; i++) {
		/* serve.c never gives two jobs that overlap; still, check */
		if (i < n && js[i]->blob == js[start]->blob &&
		    js[i]->off >= js[i - 1]->off + js[i - 1]->len)
			continue;
		if (start < n)
			fetch_jobs(p, js + start, i - start);
		start = i;
	}
}

static void plain_job_free(struct job *j)
{
	req_put(j->src_priv);
}

static void plain_destroy(struct source *src)
{
	free(src);
}

static const struct source_ops plain_ops = {
	.open = plain_open,
	.extent = plain_extent,
	.fetch = plain_fetch,
	.plug = plain_plug,
	.unplug = plain_unplug,
	.job_free = plain_job_free,
	.destroy = plain_destroy,
};

int source_plain_new(struct source **out, struct fetch_engine *e,
		     struct serve_stats *stats)
{
	struct plain *p = calloc(1, sizeof(*p));

	(void)stats;
	if (!p)
		return -ENOMEM;
	p->src.ops = &plain_ops;
	p->engine = e;
	*out = &p->src;
	return 0;
}
