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
	struct object *next;
};

/* One fetch, and the kernel requests it answers. */
struct pending {
	struct fetch_request req;
	struct server *server;
	struct object *obj;
	uint32_t msg_id;		/* the OPEN or first READ */
	int ahead;			/* read-ahead: no READ of its own */
	uint64_t want_off, want_len;	/* what that READ asked */
	uint32_t *more_ids;		/* READs inside this fetch's range */
	size_t n_more;
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
	free(s);
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
static void open_ready(struct pending *p)
{
	struct object *obj = p->obj;

	log_info("blob %s: %llu bytes at %s", obj->name,
		 (unsigned long long)obj->size, obj->url);
	if (obj->store) {
		uint64_t total, have = store_pages(obj->store, &total);

		log_info("blob %s: %llu of %llu pages kept on disk from earlier boots",
			 obj->name, (unsigned long long)have,
			 (unsigned long long)total);
	}
	answer_open(p->server, p->msg_id, (int64_t)obj->size);
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
	p = calloc(1, sizeof(*p));
	if (!obj || !p) {
		free(obj);
		free(p);
		log_err("OPEN %u: out of memory", m->id);
		answer_open(s, m->id, -ENOMEM);
		close(m->open.fd);
		return;
	}
	obj->id = m->object_id;
	obj->fd = m->open.fd;
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
static void keep_on_disk(struct object *obj, const struct fetch_request *req)
{
	int ret;

	if (!obj->store)
		return;
	ret = store_put(obj->store, req->buf, req->off, req->len);
	if (ret) {
		log_warn("blob %s: cannot keep bytes %llu-%llu on disk: %s; no longer keeping its pages",
			 obj->name, (unsigned long long)req->off,
			 (unsigned long long)(req->off + req->len - 1),
			 strerror(-ret));
		store_close(obj->store);
		obj->store = NULL;
	}
}

static void read_done(struct fetch_request *req, int err, const char *why)
{
	struct pending *p = req->ctx;
	struct server *s = p->server;
	struct object *obj = p->obj;
	/* What to write: the fetched bytes, zero-padded to a page. */
	uint64_t wlen = (req->len + IO_ALIGN - 1) & ~(IO_ALIGN - 1);
	size_t i;

	unlink_fetch(obj, p);
	if (err) {
		s->stats.errors++;
		log_err("blob %s: cannot read bytes %llu-%llu from %s: %s",
			obj->name, (unsigned long long)p->want_off,
			(unsigned long long)(p->want_off + p->want_len - 1),
			obj->url, why);
		/* A failed window must not make the next READ look sequential. */
		obj->seq_window = 0;
		obj->seq_end = 0;
	} else if (!obj->closed) {
		int ret = io_pwrite_all(obj->fd, req->buf, wlen, req->off);

		if (ret) {
			s->stats.errors++;
			log_err("blob %s: writing %llu bytes at %llu to the cache: %s",
				obj->name, (unsigned long long)wlen,
				(unsigned long long)req->off, strerror(-ret));
		} else {
			s->stats.bytes_written += wlen;
			keep_on_disk(obj, req);
		}
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
	free(p->more_ids);
	free(req->buf);
	object_release(s, obj);
	free(p);
}

/*
 * Starts fetching [off, end) (page-aligned; clipped to the blob) for READ
 * @m, or as read-ahead when @m is NULL. Returns 0 or -errno.
 */
static int start_fetch(struct server *s, struct object *obj, uint64_t off,
		       uint64_t end, const struct cf_msg *m)
{
	uint64_t limit = (obj->size + IO_ALIGN - 1) & ~(IO_ALIGN - 1);
	uint64_t buflen;
	struct pending *p;
	int ret;

	if (end > limit)
		end = limit;
	obj->seq_end = end;
	buflen = end - off;
	if (end > obj->size)
		end = obj->size;

	p = calloc(1, sizeof(*p));
	if (p)
		p->req.buf = aligned_alloc(IO_ALIGN, buflen);
	if (!p || !p->req.buf) {
		free(p);
		s->stats.errors++;
		log_err("blob %s: out of memory for %llu bytes", obj->name,
			(unsigned long long)buflen);
		return -ENOMEM;
	}
	memset(p->req.buf + (end - off), 0, buflen - (end - off));
	p->server = s;
	p->obj = obj;
	p->ahead = !m;
	p->msg_id = m ? m->id : 0;
	p->want_off = m ? m->read.off : off;
	p->want_len = m ? m->read.len : end - off;
	p->req.kind = FETCH_RANGE;
	p->req.url = obj->url;
	p->req.off = off;
	p->req.len = end - off;
	p->req.blob_size = obj->size;
	p->req.done = read_done;
	p->req.ctx = p;
	log_debug("blob %s: fetching %llu+%llu for %s", obj->name,
		  (unsigned long long)off, (unsigned long long)(end - off),
		  m ? "a READ" : "read-ahead");
	ret = fetch_submit(s->engine, &p->req);
	if (ret) {
		s->stats.errors++;
		log_err("blob %s: cannot start a request: %s", obj->name,
			strerror(-ret));
		free(p->req.buf);
		free(p);
		return ret;
	}
	obj->inflight++;
	p->next = obj->fetches;
	obj->fetches = p;
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
		if (m->read.off < p->req.off ||
		    end > ((p->req.off + p->req.len + IO_ALIGN - 1) & ~(IO_ALIGN - 1)))
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
