// SPDX-License-Identifier: MIT
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cachefiles.h"
#include "log.h"
#include "serve.h"
#include "io.h"
#include "store.h"
#include "url.h"
#include "chunk.h"
#include "verified.h"

/* Direct I/O into the cache file wants page-aligned offsets and buffers. */
#define IO_ALIGN 4096ULL
/* erofs asks for readahead windows; anything this large is not sane. */
#define READ_MAX (64ULL << 20)
/*
 * A READ that starts where the previous fetch ended is a sequential reader:
 * fetch twice as much each time, up to this, so a large file costs a few
 * large requests instead of one per kernel readahead window.
 */
#define SEQ_WINDOW_MAX (2ULL << 20)
/* Adjacent frames are fetched together, up to this many stored bytes. */
#define PART_MAX (8ULL << 20)

struct pending;

struct object {
	uint32_t id;
	int fd;			/* the kernel's anon fd for this blob */
	uint64_t size;
	unsigned int inflight;	/* fetches that will still use fd */
	int closed;		/* CLOSE seen: close fd when idle */
	uint64_t seq_end;	/* end of the last fetch started */
	uint64_t seq_window;	/* current sequential window, 0: none */
	struct pending *fetches; /* READ fetches under way */
	char name[URL_NAME_MAX + 1];
	char url[CONFIG_URL_MAX + URL_NAME_MAX + 2];
	struct store *store;	/* pages kept across boots, or NULL */
	const struct manifest_blob *blob; /* verified image, else NULL */
	struct object *next;
};

/*
 * One HTTP request of a READ fetch: the blob's bytes themselves, or (for a
 * verified image) the stored frames of chunks refs[ref0, ref0 + nrefs).
 */
struct part {
	struct fetch_request req;
	struct pending *p;
	uint32_t ref0, nrefs;
	char url[VERIFIED_PACK_URL_MAX];
};

/* One fetch, and the kernel requests it answers. */
struct pending {
	struct fetch_request req;	/* OPEN: the size probe */
	struct server *server;
	struct object *obj;
	uint32_t msg_id;		/* the OPEN or first READ */
	int ahead;			/* read-ahead: no READ of its own */
	uint64_t want_off, want_len;	/* what that READ asked */
	uint32_t *more_ids;		/* READs inside this fetch's range */
	size_t n_more;
	/* READ: blob bytes [off, off + len), into buf (whole pages) */
	uint64_t off, len;
	unsigned char *buf;
	struct part *parts;
	unsigned int nparts, parts_left;
	/* verified: refs [ref0, ref0 + nrefs) cover [off, off + len) */
	uint32_t ref0, nrefs;
	unsigned char *ref_ok;		/* per ref: decoded and checked */
	int err;			/* of the first part that failed */
	char why[1536];
	/* OPEN with a store: the blob's NAME.sha256 names its content. */
	char id_url[CONFIG_URL_MAX + URL_NAME_MAX + 10];
	struct pending *next;		/* in obj->fetches */
};

struct server {
	const struct config *cfg;
	int devfd;
	struct fetch_engine *engine;
	struct object *objects;
	struct serve_stats stats;
	const struct manifest *manifest;	/* verified image, else NULL */
	ZSTD_DCtx *dctx;
	/* as object.url: config_validate() keeps the fsid short enough */
	char manifest_url[CONFIG_URL_MAX + URL_NAME_MAX + 2];
};

int server_new(struct server **out, const struct config *cfg, int devfd,
	       struct fetch_engine *engine)
{
	struct server *s = calloc(1, sizeof(*s));

	if (!s)
		return -ENOMEM;
	s->cfg = cfg;
	s->devfd = devfd;
	s->engine = engine;
	*out = s;
	return 0;
}

void server_free(struct server *s)
{
	struct object *o, *next;

	if (!s)
		return;
	for (o = s->objects; o; o = next) {
		next = o->next;
		close(o->fd);
		free(o);
	}
	ZSTD_freeDCtx(s->dctx);
	free(s);
}

int server_set_manifest(struct server *s, const struct manifest *m)
{
	s->dctx = chunk_dctx_new();
	if (!s->dctx)
		return -ENOMEM;
	s->manifest = m;
	snprintf(s->manifest_url, sizeof(s->manifest_url), "%s/%s.manifest",
		 fetch_engine_base(s->engine), s->cfg->fsid);
	return 0;
}

const struct serve_stats *server_stats(const struct server *s)
{
	return &s->stats;
}

void server_log_stats(const struct server *s)
{
	const struct fetch_stats *f = fetch_engine_stats(s->engine);

	log_info("stats: opens %llu, reads %llu, closes %llu, http requests %llu, retries %llu, bytes fetched %llu, bytes written %llu (from disk %llu), errors %llu",
		 s->stats.opens, s->stats.reads, s->stats.closes, f->attempts,
		 f->retries, f->bytes, s->stats.bytes_written,
		 s->stats.bytes_from_disk, s->stats.errors);
	if (s->manifest)
		log_info("stats: chunks verified %llu, failed verification %llu",
			 s->stats.chunks_verified, s->stats.chunks_bad);
}

static struct object *find_object(struct server *s, uint32_t id)
{
	struct object *o;

	for (o = s->objects; o; o = o->next)
		if (o->id == id)
			return o;
	return NULL;
}

static void drop_object(struct server *s, struct object *obj)
{
	struct object **p;

	for (p = &s->objects; *p; p = &(*p)->next) {
		if (*p == obj) {
			*p = obj->next;
			break;
		}
	}
	close(obj->fd);
	store_close(obj->store);
	free(obj);
}

/* The kernel's OPEN must be answered whatever happens, once. */
static void answer_open(struct server *s, uint32_t msg_id, int64_t v)
{
	int ret = cf_copen(s->devfd, msg_id, v);

	if (ret)
		log_err("copen %u,%lld: %s", msg_id, (long long)v,
			strerror(-ret));
}

static void record_error(struct server *s, const char *line)
{
	int fd;

	s->stats.errors++;
	if (!s->cfg->error_file[0])
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

/* The OPEN is answered with the blob's size; the store, if any, is ready. */
static void announce_open(struct server *s, struct object *obj,
			  uint32_t msg_id)
{
	if (obj->blob)
		log_info("blob %s: %llu bytes in %u chunks, each checked against %s",
			 obj->name, (unsigned long long)obj->size,
			 obj->blob->nrefs, obj->url);
	else
		log_info("blob %s: %llu bytes at %s", obj->name,
			 (unsigned long long)obj->size, obj->url);
	if (obj->store) {
		uint64_t total, have = store_pages(obj->store, &total);

		log_info("blob %s: %llu of %llu pages kept on disk from earlier boots",
			 obj->name, (unsigned long long)have,
			 (unsigned long long)total);
	}
	answer_open(s, msg_id, (int64_t)obj->size);
}

static void open_ready(struct pending *p)
{
	announce_open(p->server, p->obj, p->msg_id);
	free(p->req.buf);
	free(p);
}

/* Without NAME.sha256 the content cannot be told apart: keep nothing. */
static void open_without_store(struct pending *p, const char *why)
{
	log_warn("blob %s: %s: %s; its pages are not kept across boots",
		 p->obj->name, p->id_url, why);
	open_ready(p);
}

static void id_done(struct fetch_request *req, int err, const char *why)
{
	struct pending *p = req->ctx;
	struct object *obj = p->obj;
	char hex[65];
	int i, ret;

	if (err) {
		open_without_store(p, why);
		return;
	}
	if (req->kind == FETCH_PROBE) {
		/* sha256sum format: 64 hex digits, two spaces, the name */
		if (req->size < 64 || req->size > 4096) {
			open_without_store(p, "not a sha256sum line");
			return;
		}
		req->kind = FETCH_RANGE;
		req->off = 0;
		req->len = req->size;
		req->blob_size = req->size;
		req->buf = malloc(req->size);
		if (!req->buf || fetch_submit(p->server->engine, req)) {
			open_without_store(p, "cannot start a request");
			return;
		}
		return;
	}
	for (i = 0; i < 64; i++) {
		unsigned char c = req->buf[i];

		if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) {
			open_without_store(p, "not a sha256sum line");
			return;
		}
		hex[i] = (char)c;
	}
	hex[64] = '\0';
	ret = store_open(&obj->store, p->server->cfg->store_dir, obj->name,
			 obj->size, hex);
	if (ret) {
		log_warn("blob %s: cannot open its store in %s: %s; its pages are not kept across boots",
			 obj->name, p->server->cfg->store_dir, strerror(-ret));
		obj->store = NULL;
	}
	open_ready(p);
}

static void open_done(struct fetch_request *req, int err, const char *why)
{
	struct pending *p = req->ctx;
	struct server *s = p->server;
	struct object *obj = p->obj;

	if (err) {
		char line[3072];

		snprintf(line, sizeof(line), "%s: %s", obj->url, why);
		log_err("cannot open blob %s: %s", obj->name, line);
		record_error(s, line);
		answer_open(s, p->msg_id, err);
		drop_object(s, obj);
		free(p);
		return;
	}
	obj->size = req->size;
	if (!s->cfg->store_dir[0]) {
		open_ready(p);
		return;
	}
	/* Learn what the blob is before trusting pages kept from earlier boots. */
	snprintf(p->id_url, sizeof(p->id_url), "%s.sha256", obj->url);
	memset(req, 0, sizeof(*req));
	req->kind = FETCH_PROBE;
	req->url = p->id_url;
	req->done = id_done;
	req->ctx = p;
	if (fetch_submit(s->engine, req))
		open_without_store(p, "cannot start a request");
}

/* Closes a stray anon fd only if it really is one the kernel gave us. */
static void close_if_cachefiles_fd(int fd)
{
	char path[64], target[64];
	ssize_t n;

	if (fd < 0)
		return;
	snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
	n = readlink(path, target, sizeof(target) - 1);
	if (n < 0)
		return;
	target[n] = '\0';
	if (!strcmp(target, "anon_inode:[cachefiles]"))
		close(fd);
}

/*
 * A verified image's blobs are known from the manifest: the primary device
 * by the fsid, extra devices by their tag (their sha256).
 */
static void open_verified(struct server *s, const struct cf_msg *m,
			  struct object *obj)
{
	const struct manifest *man = s->manifest;
	const char *key = m->open.cookie_key;
	size_t len = m->open.cookie_key_len;
	char line[CONFIG_URL_MAX + 512];
	int ret;

	if (len == strlen(s->cfg->fsid) && !memcmp(key, s->cfg->fsid, len))
		obj->blob = &man->blobs[0];
	else
		obj->blob = manifest_find_blob(man, key, len);
	if (!obj->blob || url_check_name(key, len)) {
		snprintf(line, sizeof(line),
			 "%s: the kernel asked for blob '%.*s', which is neither the fsid nor a device tag in the manifest",
			 s->manifest_url, (int)(len > 80 ? 80 : len), key);
		log_err("OPEN %u: %s; refused", m->id, line);
		record_error(s, line);
		answer_open(s, m->id, -ENOENT);
		close(m->open.fd);
		free(obj);
		return;
	}
	memcpy(obj->name, key, len);
	snprintf(obj->url, sizeof(obj->url), "%s", s->manifest_url);
	obj->size = obj->blob->size;
	obj->next = s->objects;
	s->objects = obj;
	if (s->cfg->store_dir[0]) {
		/* The blob's sha256 is its identity: no NAME.sha256 to fetch. */
		ret = store_open(&obj->store, s->cfg->store_dir, obj->name,
				 obj->size, obj->blob->tag);
		if (ret) {
			log_warn("blob %s: cannot open its store in %s: %s; its pages are not kept across boots",
				 obj->name, s->cfg->store_dir, strerror(-ret));
			obj->store = NULL;
		}
	}
	announce_open(s, obj, m->id);
}

static void handle_open(struct server *s, const struct cf_msg *m)
{
	const char *vkey = m->open.volume_key;
	struct object *obj;
	struct pending *p;
	int ret;

	s->stats.opens++;
	if (strncmp(vkey, "erofs,", 6)) {
		log_err("OPEN %u: volume '%.64s' is not an erofs volume; refused",
			m->id, vkey);
		goto refuse;
	}
	if (find_object(s, m->object_id)) {
		log_err("OPEN %u: object %u is already open; refused", m->id,
			m->object_id);
		goto refuse;
	}
	obj = calloc(1, sizeof(*obj));
	/* A verified image's OPEN is answered from the manifest: no fetch. */
	p = s->manifest ? NULL : calloc(1, sizeof(*p));
	if (!obj || (!s->manifest && !p)) {
		free(obj);
		free(p);
		log_err("OPEN %u: out of memory", m->id);
		answer_open(s, m->id, -ENOMEM);
		close(m->open.fd);
		return;
	}
	obj->id = m->object_id;
	obj->fd = m->open.fd;
	if (s->manifest) {
		open_verified(s, m, obj);
		return;
	}
	ret = url_join(obj->url, sizeof(obj->url), fetch_engine_base(s->engine),
		       m->open.cookie_key, m->open.cookie_key_len);
	if (ret) {
		log_err("OPEN %u: blob name from the kernel is not a plain file name (fsid or device tag); refused",
			m->id);
		record_error(s, "blob name (fsid or device tag) is not a plain file name");
		free(obj);
		free(p);
		goto refuse;
	}
	memcpy(obj->name, m->open.cookie_key, m->open.cookie_key_len);
	obj->next = s->objects;
	s->objects = obj;

	p->server = s;
	p->obj = obj;
	p->msg_id = m->id;
	p->req.kind = FETCH_PROBE;
	p->req.url = obj->url;
	p->req.done = open_done;
	p->req.ctx = p;
	log_debug("OPEN %u: volume %s, blob %s", m->id, vkey, obj->name);
	ret = fetch_submit(s->engine, &p->req);
	if (ret) {
		log_err("OPEN %u: cannot start a request: %s", m->id,
			strerror(-ret));
		answer_open(s, m->id, ret);
		drop_object(s, obj);
		free(p);
	}
	return;
refuse:
	s->stats.errors++;
	answer_open(s, m->id, -EINVAL);
	close(m->open.fd);
}

static void object_release(struct server *s, struct object *obj)
{
	obj->inflight--;
	if (obj->closed && !obj->inflight)
		drop_object(s, obj);
}

static void complete_read(struct object *obj, uint32_t msg_id)
{
	int ret = cf_read_complete(obj->fd, msg_id);

	if (ret)
		log_err("READ %u on blob %s: completing: %s", msg_id, obj->name,
			strerror(-ret));
}

static void unlink_fetch(struct object *obj, struct pending *p)
{
	struct pending **pp;

	for (pp = &obj->fetches; *pp; pp = &(*pp)->next) {
		if (*pp == p) {
			*pp = p->next;
			return;
		}
	}
}

/* Fetched bytes, already handed to the kernel, go to the disk store too. */
static void keep_on_disk(struct object *obj, const unsigned char *buf,
			 uint64_t off, uint64_t len)
{
	int ret;

	if (!obj->store)
		return;
	ret = store_put(obj->store, buf, off, len);
	if (ret) {
		log_warn("blob %s: cannot keep bytes %llu-%llu on disk: %s; no longer keeping its pages",
			 obj->name, (unsigned long long)off,
			 (unsigned long long)(off + len - 1), strerror(-ret));
		store_close(obj->store);
		obj->store = NULL;
	}
}

static void free_pending(struct pending *p)
{
	unsigned int i;

	if (p->parts)
		for (i = 0; i < p->nparts; i++)
			if (p->parts[i].req.buf != p->buf)
				free(p->parts[i].req.buf);
	free(p->parts);
	free(p->ref_ok);
	free(p->more_ids);
	free(p->buf);
	free(p);
}

/* Writes checked bytes [off, off + len) of @p's buffer, zero-padded to a page. */
static void write_span(struct pending *p, uint64_t off, uint64_t len)
{
	struct server *s = p->server;
	struct object *obj = p->obj;
	uint64_t wlen = (len + IO_ALIGN - 1) & ~(IO_ALIGN - 1);
	int ret = io_pwrite_all(obj->fd, p->buf + (off - p->off), wlen, off);

	if (ret) {
		s->stats.errors++;
		log_err("blob %s: writing %llu bytes at %llu to the cache: %s",
			obj->name, (unsigned long long)wlen,
			(unsigned long long)off, strerror(-ret));
		return;
	}
	s->stats.bytes_written += wlen;
	keep_on_disk(obj, p->buf + (off - p->off), off, len);
}

/*
 * Writes the runs of chunks that passed; returns 1 if a chunk that failed
 * overlaps what the kernel asked for (else only read-ahead was lost).
 */
static int write_checked(struct pending *p)
{
	const struct manifest *man = p->server->manifest;
	uint64_t want_end = p->want_off + p->want_len;
	uint32_t i = 0, j;
	int hit = 0;

	while (i < p->nrefs) {
		uint32_t r = p->ref0 + i;
		uint64_t start = man->ref_off[r];

		if (!p->ref_ok[i]) {
			uint64_t end = start + man->chunks[man->refs[r]].size;

			if (start < want_end && end > p->want_off)
				hit = 1;
			i++;
			continue;
		}
		for (j = i; j < p->nrefs && p->ref_ok[j]; j++)
			;
		r = p->ref0 + j - 1;
		if (!p->obj->closed)
			write_span(p, start, man->ref_off[r] +
				   man->chunks[man->refs[r]].size - start);
		i = j;
	}
	return hit;
}

/* All parts are in: write what was fetched and checked, answer the READs. */
static void read_finish(struct pending *p)
{
	struct server *s = p->server;
	struct object *obj = p->obj;
	int failed = p->err != 0;
	size_t i;

	unlink_fetch(obj, p);
	if (obj->blob && p->ref_ok) {
		/* Chunks that passed are good whatever happened to the others. */
		failed = write_checked(p);
	} else if (!p->err && !obj->closed) {
		write_span(p, p->off, p->len);
	}
	if (failed) {
		s->stats.errors++;
		log_err("blob %s: cannot read bytes %llu-%llu from %s: %s",
			obj->name, (unsigned long long)p->want_off,
			(unsigned long long)(p->want_off + p->want_len - 1),
			obj->url, p->why);
	} else if (p->err) {
		log_warn("blob %s: read-ahead of bytes %llu-%llu from %s failed: %s",
			 obj->name, (unsigned long long)p->off,
			 (unsigned long long)(p->off + p->len - 1), obj->url,
			 p->why);
	}
	if (p->err) {
		/* A failed window must not make the next READ look sequential. */
		obj->seq_window = 0;
		obj->seq_end = 0;
	}
	/*
	 * Complete even on failure: the kernel then finds no data and fails
	 * the reader with EIO instead of leaving it blocked.
	 */
	if (!obj->closed) {
		if (!p->ahead)
			complete_read(obj, p->msg_id);
		for (i = 0; i < p->n_more; i++)
			complete_read(obj, p->more_ids[i]);
	}
	object_release(s, obj);
	free_pending(p);
}

/*
 * Decodes and checks each chunk of a verified part into the READ's buffer.
 * A chunk that fails is asked again from a mirror that has not served it
 * yet: returns 1 when that request is under way, else 0 (with p->err set
 * if a chunk found no good copy; the others are still used).
 */
static int decode_part(struct part *pt)
{
	struct pending *p = pt->p;
	struct server *s = p->server;
	const struct manifest *man = s->manifest;
	struct fetch_request *req = &pt->req;
	char why[256];
	uint32_t r;
	int ret;

	for (r = pt->ref0; r < pt->ref0 + pt->nrefs; r++) {
		uint32_t ci = man->refs[r];
		const struct manifest_chunk *c = &man->chunks[ci];
		unsigned char *out = p->buf + (man->ref_off[r] - p->off);

		if (p->ref_ok[r - p->ref0])
			continue; /* passed in an earlier answer */
		if (!chunk_decode_checked(s->dctx, c, req->buf + (c->offset - req->off),
				     out, why, sizeof(why))) {
			s->stats.chunks_verified++;
			p->ref_ok[r - p->ref0] = 1;
			continue;
		}
		s->stats.chunks_bad++;
		log_warn("blob %s: chunk %u (bytes %llu-%llu) from %s failed verification: %s",
			 p->obj->name, ci,
			 (unsigned long long)man->ref_off[r],
			 (unsigned long long)(man->ref_off[r] + c->size - 1),
			 fetch_engine_mirror(s->engine, req->mirror), why);
		if (!(req->skip_mirrors & (1u << req->mirror))) {
			fetch_engine_distrust(s->engine, req->mirror);
			req->skip_mirrors |= 1u << req->mirror;
			ret = fetch_submit(s->engine, req);
			if (!ret)
				return 1;
		} else {
			ret = -ENOENT;
		}
		if (!p->err) {
			p->err = -EIO;
			snprintf(p->why, sizeof(p->why),
				 "chunk %u failed verification (%s)%s; nothing of it was written",
				 ci, why, ret == -ENOENT &&
				 fetch_engine_mirrors(s->engine) > 1 ?
				 " on every mirror" : "");
		}
	}
	return 0;
}

static void part_done(struct fetch_request *req, int err, const char *why)
{
	struct part *pt = req->ctx;
	struct pending *p = pt->p;

	if (err) {
		if (!p->err) {
			p->err = err;
			snprintf(p->why, sizeof(p->why), "%.700s%s%.800s",
				 pt->url[0] ? pt->url : "", pt->url[0] ? ": " : "",
				 why);
		}
	} else if (p->obj->blob && decode_part(pt)) {
		return; /* asked again from another mirror */
	}
	if (req->buf != p->buf) {
		free(req->buf);
		req->buf = NULL;
	}
	if (--p->parts_left)
		return;
	read_finish(p);
}

/*
 * Splits a verified READ into requests: runs of chunks whose frames lie
 * back to back in one pack become one range request. Returns 0 or -errno.
 */
static int plan_parts(struct server *s, struct pending *p, uint32_t r0,
		      uint32_t r1)
{
	const struct manifest *man = s->manifest;
	uint32_t r = r0;
	unsigned int n = 0;

	p->ref0 = r0;
	p->nrefs = r1 - r0 + 1;
	p->parts = calloc(p->nrefs, sizeof(*p->parts));
	p->ref_ok = calloc(p->nrefs, 1);
	if (!p->parts || !p->ref_ok)
		return -ENOMEM;
	while (r <= r1) {
		const struct manifest_chunk *c = &man->chunks[man->refs[r]];
		struct part *pt = &p->parts[n++];
		uint64_t end = c->offset + c->stored_size;

		pt->p = p;
		pt->ref0 = r;
		pt->nrefs = 1;
		for (r++; r <= r1; r++) {
			const struct manifest_chunk *d =
				&man->chunks[man->refs[r]];

			if (d->pack != c->pack || d->offset != end ||
			    end + d->stored_size - c->offset > PART_MAX)
				break;
			end += d->stored_size;
			pt->nrefs++;
		}
		if (verified_pack_url(pt->url, sizeof(pt->url),
				      fetch_engine_base(s->engine),
				      &man->packs[c->pack]))
			return -ENAMETOOLONG;
		pt->req.kind = FETCH_RANGE;
		pt->req.url = pt->url;
		pt->req.off = c->offset;
		pt->req.len = end - c->offset;
		pt->req.blob_size = man->packs[c->pack].size;
		pt->req.buf = malloc(pt->req.len);
		if (!pt->req.buf)
			return -ENOMEM;
	}
	p->nparts = n;
	return 0;
}

/*
 * Starts fetching [off, end) (page-aligned; clipped to the blob; for a
 * verified image widened to whole chunks) for READ @m, or as read-ahead
 * when @m is NULL. Returns 0 or -errno.
 */
static int start_fetch(struct server *s, struct object *obj, uint64_t off,
		       uint64_t end, const struct cf_msg *m)
{
	uint64_t limit = (obj->size + IO_ALIGN - 1) & ~(IO_ALIGN - 1);
	uint32_t r0 = 0, r1 = 0;
	uint64_t buflen;
	struct pending *p;
	unsigned int i, n;
	int ret;

	if (end > limit)
		end = limit;
	if (obj->blob) {
		const struct manifest *man = s->manifest;

		/* Chunks start on page boundaries: whole pages either way. */
		r0 = manifest_ref_at(man, obj->blob, off);
		r1 = manifest_ref_at(man, obj->blob,
				     (end > obj->size ? obj->size : end) - 1);
		off = man->ref_off[r0];
		end = man->ref_off[r1] + man->chunks[man->refs[r1]].size;
		end = (end + IO_ALIGN - 1) & ~(IO_ALIGN - 1);
	}
	obj->seq_end = end;
	buflen = end - off;
	if (end > obj->size)
		end = obj->size;

	p = calloc(1, sizeof(*p));
	if (p)
		p->buf = aligned_alloc(IO_ALIGN, buflen);
	if (!p || !p->buf) {
		free(p);
		s->stats.errors++;
		log_err("blob %s: out of memory for %llu bytes", obj->name,
			(unsigned long long)buflen);
		return -ENOMEM;
	}
	memset(p->buf + (end - off), 0, buflen - (end - off));
	p->server = s;
	p->obj = obj;
	p->ahead = !m;
	p->msg_id = m ? m->id : 0;
	p->want_off = m ? m->read.off : off;
	p->want_len = m ? m->read.len : end - off;
	p->off = off;
	p->len = end - off;
	if (obj->blob) {
		ret = plan_parts(s, p, r0, r1);
	} else {
		p->parts = calloc(1, sizeof(*p->parts));
		ret = p->parts ? 0 : -ENOMEM;
		if (!ret) {
			p->nparts = 1;
			p->parts[0].p = p;
			p->parts[0].req.kind = FETCH_RANGE;
			p->parts[0].req.url = obj->url;
			p->parts[0].req.off = off;
			p->parts[0].req.len = end - off;
			p->parts[0].req.blob_size = obj->size;
			p->parts[0].req.buf = p->buf;
		}
	}
	if (ret) {
		s->stats.errors++;
		log_err("blob %s: cannot plan a fetch of bytes %llu-%llu: %s",
			obj->name, (unsigned long long)off,
			(unsigned long long)(end - 1), strerror(-ret));
		free_pending(p);
		return ret;
	}
	log_debug("blob %s: fetching %llu+%llu in %u request(s) for %s",
		  obj->name, (unsigned long long)off,
		  (unsigned long long)(end - off), p->nparts,
		  m ? "a READ" : "read-ahead");
	/* Counted first: a part may finish (and fail) inside fetch_submit(). */
	p->parts_left = p->nparts;
	obj->inflight++;
	p->next = obj->fetches;
	obj->fetches = p;
	/* The last part failing here finishes (frees) p: use n, not p. */
	n = p->nparts;
	for (i = 0; i < n; i++) {
		p->parts[i].req.done = part_done;
		p->parts[i].req.ctx = &p->parts[i];
		ret = fetch_submit(s->engine, &p->parts[i].req);
		if (ret) {
			char why[64];

			snprintf(why, sizeof(why), "cannot start a request: %s",
				 strerror(-ret));
			part_done(&p->parts[i].req, ret, why);
		}
	}
	return 0;
}

/*
 * A sequential reader at full window that has entered the last window
 * fetched gets the next window started now, so it finds it cached or on
 * its way instead of waiting for a fresh request.
 */
static void read_ahead(struct server *s, struct object *obj, uint64_t off)
{
	if (obj->seq_window < SEQ_WINDOW_MAX || obj->seq_end >= obj->size ||
	    off + obj->seq_window < obj->seq_end)
		return;
	start_fetch(s, obj, obj->seq_end, obj->seq_end + obj->seq_window,
		    NULL);
}

/* A READ wholly inside a fetch under way waits for that fetch. */
static int join_fetch(struct object *obj, const struct cf_msg *m)
{
	uint64_t end = m->read.off + m->read.len;
	struct pending *p;
	uint32_t *ids;

	for (p = obj->fetches; p; p = p->next) {
		if (m->read.off < p->off ||
		    end > ((p->off + p->len + IO_ALIGN - 1) & ~(IO_ALIGN - 1)))
			continue;
		ids = realloc(p->more_ids, (p->n_more + 1) * sizeof(*ids));
		if (!ids)
			return 0; /* fetch it separately */
		ids[p->n_more++] = m->id;
		p->more_ids = ids;
		return 1;
	}
	return 0;
}

/* Answers a READ from pages kept from earlier boots; 0 if they are not all there. */
static int read_from_store(struct server *s, struct object *obj,
			   const struct cf_msg *m)
{
	uint64_t off = m->read.off & ~(IO_ALIGN - 1);
	uint64_t end = (m->read.off + m->read.len + IO_ALIGN - 1) & ~(IO_ALIGN - 1);
	uint64_t limit = (obj->size + IO_ALIGN - 1) & ~(IO_ALIGN - 1);
	unsigned char *buf;
	int ret;

	if (end > limit) /* as start_fetch(): never past the blob's last page */
		end = limit;
	if (!store_has(obj->store, off, end - off))
		return 0;
	buf = aligned_alloc(IO_ALIGN, end - off);
	if (!buf)
		return 0;
	ret = store_read(obj->store, buf, off, end - off);
	if (!ret)
		ret = io_pwrite_all(obj->fd, buf, end - off, off);
	free(buf);
	if (ret) {
		log_warn("blob %s: bytes %llu-%llu from the disk store: %s; fetching them",
			 obj->name, (unsigned long long)off,
			 (unsigned long long)(end - 1), strerror(-ret));
		return 0;
	}
	s->stats.bytes_written += end - off;
	s->stats.bytes_from_disk += end - off;
	log_debug("READ %u: blob %s bytes %llu+%llu from the disk store", m->id,
		  obj->name, (unsigned long long)off,
		  (unsigned long long)(end - off));
	complete_read(obj, m->id);
	return 1;
}

static void handle_read(struct server *s, const struct cf_msg *m)
{
	struct object *obj = find_object(s, m->object_id);
	uint64_t off, end;

	s->stats.reads++;
	if (!obj || obj->closed) {
		s->stats.errors++;
		log_err("READ %u for unknown object %u; ignored", m->id,
			m->object_id);
		return;
	}
	if (m->read.off >= obj->size || m->read.len > READ_MAX) {
		s->stats.errors++;
		log_err("READ %u on blob %s: range %llu+%llu is outside its %llu bytes or too large; failed",
			m->id, obj->name, (unsigned long long)m->read.off,
			(unsigned long long)m->read.len,
			(unsigned long long)obj->size);
		complete_read(obj, m->id);
		return;
	}
	if (obj->store && read_from_store(s, obj, m))
		return;
	if (join_fetch(obj, m)) {
		log_debug("READ %u: blob %s bytes %llu+%llu joins a fetch under way",
			  m->id, obj->name, (unsigned long long)m->read.off,
			  (unsigned long long)m->read.len);
		read_ahead(s, obj, m->read.off);
		return;
	}
	/* Fetch whole pages, but never past the end of the blob. */
	off = m->read.off & ~(IO_ALIGN - 1);
	end = (m->read.off + m->read.len + IO_ALIGN - 1) & ~(IO_ALIGN - 1);
	if (obj->seq_end && off == obj->seq_end) {
		obj->seq_window = obj->seq_window ? 2 * obj->seq_window :
						    2 * (end - off);
		if (obj->seq_window > SEQ_WINDOW_MAX)
			obj->seq_window = SEQ_WINDOW_MAX;
		if (end - off < obj->seq_window)
			end = off + obj->seq_window;
	} else {
		obj->seq_window = 0;
	}
	if (start_fetch(s, obj, off, end, m) < 0) {
		complete_read(obj, m->id);
		return;
	}
	read_ahead(s, obj, m->read.off);
}

static void handle_close(struct server *s, const struct cf_msg *m)
{
	struct object *obj = find_object(s, m->object_id);

	s->stats.closes++;
	if (!obj || obj->closed) {
		log_warn("CLOSE for unknown object %u; ignored", m->object_id);
		return;
	}
	log_debug("CLOSE: blob %s", obj->name);
	/* A READ being completed still needs the fd; close after it. */
	obj->closed = 1;
	if (!obj->inflight)
		drop_object(s, obj);
}

void server_drain_device(struct server *s)
{
	unsigned char buf[CF_MSG_MAX_SIZE * 4];
	int budget = 64; /* let finished fetches through now and then */

	while (budget--) {
		ssize_t n = read(s->devfd, buf, sizeof(buf));
		struct cf_msg m;
		const char *why = "";
		int ret;

		if (n < 0) {
			if (errno == EINTR || errno == EAGAIN)
				return;
			log_err("/dev/cachefiles: read: %s", strerror(errno));
			return;
		}
		if (n == 0)
			return; /* nothing pending */
		ret = cf_msg_parse(buf, (size_t)n, &m, &why);
		if (ret == -EOPNOTSUPP) {
			log_warn("message %u: unknown opcode %u; ignored", m.id,
				 m.opcode);
			continue;
		}
		if (ret) {
			s->stats.errors++;
			log_err("malformed message from the kernel (%zd bytes): %s",
				n, why);
			if (m.opcode == CF_OP_OPEN && n >= CF_HDR_SIZE) {
				answer_open(s, m.id, -EINVAL);
				close_if_cachefiles_fd(m.open.fd);
			}
			continue;
		}
		switch (m.opcode) {
		case CF_OP_OPEN:
			handle_open(s, &m);
			break;
		case CF_OP_READ:
			handle_read(s, &m);
			break;
		case CF_OP_CLOSE:
			handle_close(s, &m);
			break;
		}
	}
}
