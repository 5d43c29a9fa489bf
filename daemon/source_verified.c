// SPDX-License-Identifier: MIT
/*
 * Verified images (docs/format.md): a blob is a list of chunks in packs,
 * each one zstd frame (or stored) whose plain bytes have the sha256 the
 * manifest gives. A fetch is widened to whole chunks; frames that lie back
 * to back in one pack are fetched in one range request, and the requests of
 * jobs given between plug and unplug (prefetch) go out as one request per
 * pack for all their ranges; a chunk that fails its check is asked again
 * from a mirror that has not served it, and only chunks that passed are
 * ever handed on.
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "chunk.h"
#include "fetch.h"
#include "log.h"
#include "manifest.h"
#include "page.h"
#include "serve.h"
#include "sha256.h"
#include "source.h"
#include "verified.h"

/* Adjacent frames are fetched together, up to this many stored bytes. */
#define PART_MAX (8ULL << 20)

/* Parts held between plug and unplug: a few full FETCH_RANGES requests. */
#define HELD_MAX (4 * FETCH_PARTS_MAX)

struct part;

struct verified {
	struct source src;
	struct fetch_engine *engine;
	const struct manifest *m;
	const char *fsid;
	struct serve_stats *stats;
	ZSTD_DCtx *dctx;
	/* as blob.url: config_validate() keeps the fsid short enough */
	char manifest_url[CONFIG_URL_MAX + URL_NAME_MAX + 2];
	int plugged;
	unsigned int nheld;
	struct part *held[HELD_MAX];	/* parts waiting for unplug */
};

/*
 * One range: the stored frames of refs [ref0, ref0 + nrefs), all in pack
 * @pack. Its own request, or a part of a batch's (then req is what it is
 * asked again with, should a chunk fail its check).
 */
struct part {
	struct fetch_request req;
	struct vjob *vj;
	uint32_t ref0, nrefs, pack;
	char url[VERIFIED_PACK_URL_MAX];
};

/*
 * The parts of several jobs in one pack, in one FETCH_RANGES request. It
 * is freed when the engine is done with it; each part's job may end (and
 * be freed) before, once the part is told.
 */
struct vbatch {
	struct fetch_request req;
	unsigned int n;
	struct part **pts;		/* n of them */
	struct fetch_part *fparts;	/* n of them */
	char url[VERIFIED_PACK_URL_MAX];
};

/* A job's chunks: refs [ref0, ref0 + nrefs) cover its bytes. */
struct vjob {
	struct verified *v;
	struct job *j;
	struct part *parts;
	unsigned int nparts, parts_left;
	uint32_t ref0, nrefs;
	unsigned char *ref_ok;		/* per ref: decoded and checked */
	int err;			/* of the first part that failed */
	char why[CONFIG_URL_MAX + 1600];
};

static const struct manifest_blob *blob_of(const struct blob *b)
{
	return b->src_data;
}

static void verified_open(struct source *src, struct blob *b,
			  const char *store_dir)
{
	struct verified *v = (struct verified *)src;
	const struct manifest_blob *mb;
	size_t len = strlen(b->name);
	char line[CONFIG_URL_MAX + 512];

	/* The primary device is opened by the fsid, extra devices by their tag. */
	if (!strcmp(b->name, v->fsid))
		mb = &v->m->blobs[0];
	else
		mb = manifest_find_blob(v->m, b->name, len);
	if (!mb) {
		snprintf(line, sizeof(line),
			 "%s: the kernel asked for blob '%.80s', which is neither the fsid nor a device tag in the manifest",
			 v->manifest_url, b->name);
		blob_opened(b, -ENOENT, line);
		return;
	}
	b->src_data = mb;
	b->size = mb->size;
	snprintf(b->url, sizeof(b->url), "%s", v->manifest_url);
	log_info("blob %s: %llu bytes in %u chunks, each checked against %s",
		 b->name, (unsigned long long)b->size, mb->nrefs, b->url);
	/* The blob's sha256 is its identity: no NAME.sha256 to fetch. */
	if (store_dir)
		blob_keep(b, store_dir, mb->tag, 0);
	blob_opened(b, 0, NULL);
}

/* Chunks start on page boundaries: whole chunks are whole pages. */
static void verified_extent(const struct source *src, const struct blob *b,
			    uint64_t *off, uint64_t *end)
{
	const struct manifest *m = ((const struct verified *)src)->m;
	uint32_t r0 = manifest_ref_at(m, blob_of(b), *off);
	uint32_t r1 = manifest_ref_at(m, blob_of(b),
				      (*end > b->size ? b->size : *end) - 1);

	*off = m->ref_off[r0];
	*end = page_up(m->ref_off[r1] + m->chunks[m->refs[r1]].size);
}

/* Chunks read back from the disk store: each has the manifest's sha256. */
static int verified_check_stored(const struct source *src,
				 const struct blob *b,
				 const unsigned char *buf, uint64_t off,
				 uint64_t len, char *why, size_t why_size)
{
	const struct manifest *m = ((const struct verified *)src)->m;
	uint32_t r = manifest_ref_at(m, blob_of(b), off);
	uint32_t r1 = manifest_ref_at(m, blob_of(b),
				      (off + len > b->size ? b->size : off + len) - 1);
	unsigned char got[SHA256_SIZE];

	for (; r <= r1; r++) {
		uint32_t ci = m->refs[r];
		const struct manifest_chunk *c = &m->chunks[ci];

		sha256(buf + (m->ref_off[r] - off), c->size, got);
		if (memcmp(got, c->digest, SHA256_SIZE)) {
			snprintf(why, why_size,
				 "chunk %u: its sha256 is not the manifest's", ci);
			return -EBADMSG;
		}
	}
	return 0;
}

/* Hands on the runs of chunks that passed, then ends the job. */
static void vjob_finish(struct vjob *vj)
{
	const struct manifest *m = vj->v->m;
	uint32_t i = 0, k;

	while (i < vj->nrefs) {
		uint32_t r = vj->ref0 + i;
		uint64_t start = m->ref_off[r];

		if (!vj->ref_ok[i]) {
			i++;
			continue;
		}
		for (k = i; k < vj->nrefs && vj->ref_ok[k]; k++)
			;
		r = vj->ref0 + k - 1;
		job_checked(vj->j, start,
			    m->ref_off[r] + m->chunks[m->refs[r]].size - start);
		i = k;
	}
	job_done(vj->j, vj->err, vj->why);
}

/*
 * Decodes and checks each chunk of a part into the job's buffer. A chunk
 * that fails is asked again from a mirror that has not served it yet:
 * returns 1 when that request is under way, else 0 (with vj->err set if a
 * chunk found no good copy; the others are still used).
 */
static int decode_part(struct part *pt)
{
	struct vjob *vj = pt->vj;
	struct verified *v = vj->v;
	const struct manifest *m = v->m;
	struct fetch_request *req = &pt->req;
	char why[256];
	uint32_t r;
	int ret;

	for (r = pt->ref0; r < pt->ref0 + pt->nrefs; r++) {
		uint32_t ci = m->refs[r];
		const struct manifest_chunk *c = &m->chunks[ci];
		unsigned char *out = vj->j->buf + (m->ref_off[r] - vj->j->off);

		if (vj->ref_ok[r - vj->ref0])
			continue; /* passed in an earlier answer */
		if (!chunk_decode_checked(v->dctx, c,
					  req->buf + (c->offset - req->off),
					  out, why, sizeof(why))) {
			v->stats->chunks_verified++;
			vj->ref_ok[r - vj->ref0] = 1;
			continue;
		}
		v->stats->chunks_bad++;
		vj->j->blob->stats.verify_failures++;
		log_warn("blob %s: chunk %u (bytes %llu-%llu) from %s failed verification: %s",
			 vj->j->blob->name, ci,
			 (unsigned long long)m->ref_off[r],
			 (unsigned long long)(m->ref_off[r] + c->size - 1),
			 fetch_engine_mirror(v->engine, req->mirror), why);
		if (!(req->skip_mirrors & (1u << req->mirror))) {
			fetch_engine_distrust(v->engine, req->mirror);
			req->skip_mirrors |= 1u << req->mirror;
			ret = fetch_submit(v->engine, req);
			if (!ret)
				return 1;
		} else {
			ret = -ENOENT;
		}
		if (!vj->err) {
			vj->err = -EIO;
			snprintf(vj->why, sizeof(vj->why),
				 "chunk %u failed verification (%s)%s; nothing of it was written",
				 ci, why, ret == -ENOENT &&
				 fetch_engine_mirrors(v->engine) > 1 ?
				 " on every mirror" : "");
		}
	}
	return 0;
}

static void part_end(struct vjob *vj)
{
	if (!--vj->parts_left)
		vjob_finish(vj);
}

static void part_done(struct fetch_request *req, int err, const char *why)
{
	struct part *pt = req->ctx;
	struct vjob *vj = pt->vj;

	if (err) {
		if (!vj->err) {
			vj->err = err;
			snprintf(vj->why, sizeof(vj->why), "%s: %s", pt->url,
				 why);
		}
	} else if (decode_part(pt)) {
		return; /* asked again from another mirror */
	}
	free(req->buf);
	req->buf = NULL;
	part_end(vj);
}

/*
 * Splits refs [r0, r1] into requests: runs of chunks whose frames lie back
 * to back in one pack become one range request. Returns 0 or -errno.
 */
static int plan_parts(struct verified *v, struct vjob *vj, uint32_t r0,
		      uint32_t r1)
{
	const struct manifest *m = v->m;
	uint32_t r = r0;
	unsigned int n = 0;

	vj->ref0 = r0;
	vj->nrefs = r1 - r0 + 1;
	vj->parts = calloc(vj->nrefs, sizeof(*vj->parts));
	vj->ref_ok = calloc(vj->nrefs, 1);
	if (!vj->parts || !vj->ref_ok)
		return -ENOMEM;
	while (r <= r1) {
		const struct manifest_chunk *c = &m->chunks[m->refs[r]];
		struct part *pt = &vj->parts[n++];
		uint64_t end = c->offset + c->stored_size;

		pt->vj = vj;
		pt->ref0 = r;
		pt->nrefs = 1;
		pt->pack = c->pack;
		for (r++; r <= r1; r++) {
			const struct manifest_chunk *d = &m->chunks[m->refs[r]];

			if (d->pack != c->pack || d->offset != end ||
			    end + d->stored_size - c->offset > PART_MAX)
				break;
			end += d->stored_size;
			pt->nrefs++;
		}
		if (verified_pack_url(pt->url, sizeof(pt->url),
				      fetch_engine_base(v->engine),
				      &m->packs[c->pack]))
			return -ENAMETOOLONG;
		pt->req.kind = FETCH_RANGE;
		pt->req.counts = &vj->j->blob->stats.net;
		pt->req.url = pt->url;
		pt->req.off = c->offset;
		pt->req.len = end - c->offset;
		pt->req.blob_size = m->packs[c->pack].size;
		pt->req.buf = malloc(pt->req.len);
		if (!pt->req.buf)
			return -ENOMEM;
		pt->req.done = part_done;
		pt->req.ctx = pt;
	}
	vj->nparts = n;
	return 0;
}

static void verified_unplug(struct source *src);

static void submit_part(struct verified *v, struct part *pt)
{
	int ret = fetch_submit(v->engine, &pt->req);

	if (ret) {
		char why[64];

		snprintf(why, sizeof(why), "cannot start a request: %s",
			 strerror(-ret));
		part_done(&pt->req, ret, why);
	}
}

/* A part of batch @req is in: checked as if it had come on its own. */
static void batch_part_done(struct fetch_request *req, unsigned int i)
{
	struct vbatch *b = req->ctx;
	struct part *pt = b->pts[i];

	/* decode_part() asks another mirror than the one these bytes are from */
	pt->req.mirror = req->mirror;
	pt->req.skip_mirrors = req->skip_mirrors;
	part_done(&pt->req, 0, NULL);
}

static void batch_done(struct fetch_request *req, int err, const char *why)
{
	struct vbatch *b = req->ctx;
	unsigned int i;

	/* the parts not told whole: their jobs failed */
	for (i = 0; i < b->n; i++)
		if (b->fparts[i].got < b->fparts[i].len)
			part_done(&b->pts[i]->req, err ? err : -EIO,
				  err ? why : "the answer did not hold its bytes");
	free(b);
}

/* Parts @ps (of one pack, in order, apart) of @n in one request. */
static void fetch_parts(struct verified *v, struct part **ps, unsigned int n)
{
	struct vbatch *b;
	unsigned int i;
	char why[64];
	int ret;

	if (n == 1) {
		submit_part(v, ps[0]);
		return;
	}
	b = calloc(1, sizeof(*b) + n * (sizeof(*b->pts) + sizeof(*b->fparts)));
	if (!b) {
		for (i = 0; i < n; i++)
			part_done(&ps[i]->req, -ENOMEM,
				  "cannot start a request: out of memory");
		return;
	}
	b->n = n;
	b->fparts = (struct fetch_part *)(b + 1);
	b->pts = (struct part **)(b->fparts + n);
	for (i = 0; i < n; i++) {
		b->pts[i] = ps[i];
		b->fparts[i] = (struct fetch_part){ .off = ps[i]->req.off,
			.len = ps[i]->req.len, .buf = ps[i]->req.buf };
	}
	/* the batch outlives the parts told early: a url of its own */
	memcpy(b->url, ps[0]->url, sizeof(b->url));
	b->req.kind = FETCH_RANGES;
	b->req.url = b->url;
	b->req.counts = ps[0]->req.counts;
	b->req.blob_size = ps[0]->req.blob_size;
	b->req.parts = b->fparts;
	b->req.nparts = n;
	b->req.part_done = batch_part_done;
	b->req.done = batch_done;
	b->req.ctx = b;
	ret = fetch_submit(v->engine, &b->req);
	if (!ret)
		return;
	snprintf(why, sizeof(why), "cannot start a request: %s", strerror(-ret));
	for (i = 0; i < n; i++)
		part_done(&ps[i]->req, ret, why);
	free(b);
}

/* Between plug and unplug: @pt waits; when the room is full, all go. */
static void hold(struct verified *v, struct part *pt)
{
	if (v->nheld == HELD_MAX) {
		verified_unplug(&v->src);
		v->plugged = 1;
	}
	v->held[v->nheld++] = pt;
}

static void verified_job_free(struct job *j)
{
	struct vjob *vj = j->src_priv;
	unsigned int i;

	if (vj->parts)
		for (i = 0; i < vj->nrefs; i++)
			free(vj->parts[i].req.buf);
	free(vj->parts);
	free(vj->ref_ok);
	free(vj);
	j->src_priv = NULL;
}

static int verified_fetch(struct source *src, struct job *j)
{
	struct verified *v = (struct verified *)src;
	const struct manifest_blob *mb = blob_of(j->blob);
	struct vjob *vj = calloc(1, sizeof(*vj));
	unsigned int i;
	int ret;

	if (!vj)
		return -ENOMEM;
	vj->v = v;
	vj->j = j;
	j->src_priv = vj;
	ret = plan_parts(v, vj, manifest_ref_at(v->m, mb, j->off),
			 manifest_ref_at(v->m, mb, j->off + j->len - 1));
	if (ret) {
		verified_job_free(j);
		return ret;
	}
	/* One count for the loop itself: a part may finish inside fetch_submit(). */
	vj->parts_left = vj->nparts + 1;
	for (i = 0; i < vj->nparts; i++) {
		if (v->plugged) {
			hold(v, &vj->parts[i]);
			continue;
		}
		submit_part(v, &vj->parts[i]);
	}
	part_end(vj);
	return 0;
}

static void verified_plug(struct source *src)
{
	((struct verified *)src)->plugged = 1;
}

static int by_pack_off(const void *a, const void *b)
{
	const struct part *x = *(struct part *const *)a;
	const struct part *y = *(struct part *const *)b;

	if (x->pack != y->pack)
		return x->pack < y->pack ? -1 : 1;
	/* a request counts into one blob's figures */
	if (x->req.counts != y->req.counts)
		return (uintptr_t)x->req.counts < (uintptr_t)y->req.counts ? -1 : 1;
	return x->req.off < y->req.off ? -1 : x->req.off > y->req.off;
}

/*
 * The held parts go out: one request per pack and blob, its ranges in
 * order. Two parts of the same frames (a chunk the blob holds twice) go in
 * different requests: the ranges of one must lie apart.
 */
static void verified_unplug(struct source *src)
{
	struct verified *v = (struct verified *)src;
	struct part *ps[HELD_MAX];
	unsigned int n = v->nheld, i, start;

	v->plugged = 0;
	v->nheld = 0;
	memcpy(ps, v->held, n * sizeof(*ps));
	qsort(ps, n, sizeof(*ps), by_pack_off);
	for (start = 0, i = 1; i <= n; i++) {
		if (i < n && i - start < FETCH_PARTS_MAX &&
		    ps[i]->pack == ps[start]->pack &&
		    ps[i]->req.counts == ps[start]->req.counts &&
		    ps[i]->req.off >= ps[i - 1]->req.off + ps[i - 1]->req.len)
			continue;
		if (start < n)
			fetch_parts(v, ps + start, i - start);
		start = i;
	}
}

static void verified_log_stats(const struct source *src)
{
	const struct verified *v = (const struct verified *)src;

	log_info("stats: chunks verified %llu, failed verification %llu",
		 v->stats->chunks_verified, v->stats->chunks_bad);
}

static void verified_destroy(struct source *src)
{
	struct verified *v = (struct verified *)src;

	ZSTD_freeDCtx(v->dctx);
	free(v);
}

static const struct source_ops verified_ops = {
	.open = verified_open,
	.extent = verified_extent,
	.check_stored = verified_check_stored,
	.fetch = verified_fetch,
	.plug = verified_plug,
	.unplug = verified_unplug,
	.job_free = verified_job_free,
	.log_stats = verified_log_stats,
	.destroy = verified_destroy,
};

int source_verified_new(struct source **out, struct fetch_engine *e,
			const struct manifest *m, const char *fsid,
			struct serve_stats *stats)
{
	struct verified *v = calloc(1, sizeof(*v));

	if (!v)
		return -ENOMEM;
	v->dctx = chunk_dctx_new();
	if (!v->dctx) {
		free(v);
		return -ENOMEM;
	}
	v->src.ops = &verified_ops;
	v->engine = e;
	v->m = m;
	v->fsid = fsid;
	v->stats = stats;
	snprintf(v->manifest_url, sizeof(v->manifest_url), "%s/%s.manifest",
		 fetch_engine_base(e), fsid);
	*out = &v->src;
	return 0;
}
