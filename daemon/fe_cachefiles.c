// SPDX-License-Identifier: MIT
/*
 * The cachefiles on-demand front end (EROFS fscache mode): OPEN, READ and
 * CLOSE messages from /dev/cachefiles become serve_open/read/close; checked
 * bytes are written into the object's anon fd, a READ is completed with
 * CACHEFILES_IOC_READ_COMPLETE and an OPEN answered with copen.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cachefiles.h"
#include "frontend.h"
#include "io.h"
#include "log.h"
#include "page.h"
#include "serve.h"

struct cf_frontend {
	struct frontend fe;
	struct server *server;
	struct cf_object *objects;	/* open, not yet closed by the kernel */
};

struct cf_object {
	struct fe_object fe;
	struct cf_frontend *cf;
	uint32_t id;			/* the kernel's object_id */
	uint32_t open_msg;		/* the OPEN to answer */
	int fd;				/* the kernel's anon fd for this blob */
	struct blob *blob;		/* once opened */
	struct cf_object *next;
};

static struct cf_object *find_object(struct cf_frontend *cf, uint32_t id)
{
	struct cf_object *o;

	for (o = cf->objects; o; o = o->next)
		if (o->id == id)
			return o;
	return NULL;
}

static void unlink_object(struct cf_object *o)
{
	struct cf_object **p;

	for (p = &o->cf->objects; *p; p = &(*p)->next) {
		if (*p == o) {
			*p = o->next;
			return;
		}
	}
}

/* The kernel's OPEN must be answered whatever happens, once. */
static void answer_open(struct cf_frontend *cf, uint32_t msg_id, int64_t v)
{
	int ret = cf_copen(cf->fe.fd, msg_id, v);

	if (ret)
		log_err("copen %u,%lld: %s", msg_id, (long long)v,
			strerror(-ret));
}

static void cf_opened(struct fe_object *fo, struct blob *b, int64_t size)
{
	struct cf_object *o = (struct cf_object *)fo;

	answer_open(o->cf, o->open_msg, size);
	if (!b) {
		unlink_object(o);
		close(o->fd);
		free(o);
		return;
	}
	o->blob = b;
}

static int cf_write(struct fe_object *fo, const unsigned char *buf,
		    uint64_t off, uint64_t len)
{
	struct cf_object *o = (struct cf_object *)fo;
	/* direct I/O into the cache file: whole pages */
	int ret = io_pwrite_all(o->fd, buf, page_up(len), off);

	if (ret)
		log_err("blob %s: writing %llu bytes at %llu to the cache: %s",
			blob_name(o->blob), (unsigned long long)page_up(len),
			(unsigned long long)off, strerror(-ret));
	return ret;
}

/* There is no error reply: the kernel finds no data and fails the reader. */
static void cf_read_done(struct fe_object *fo, uint64_t tag,
			 const unsigned char *data, int err)
{
	struct cf_object *o = (struct cf_object *)fo;
	int ret = cf_read_complete(o->fd, (uint32_t)tag);

	(void)data;
	(void)err;
	if (ret)
		log_err("READ %u on blob %s: completing: %s", (uint32_t)tag,
			blob_name(o->blob), strerror(-ret));
}

static void cf_release(struct fe_object *fo)
{
	struct cf_object *o = (struct cf_object *)fo;

	close(o->fd);
	free(o);
}

static const struct frontend_ops cf_ops = {
	.opened = cf_opened,
	.write = cf_write,
	.read_done = cf_read_done,
	.release = cf_release,
};

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

static void refuse_open(struct cf_frontend *cf, const struct cf_msg *m)
{
	server_error(cf->server, NULL);
	answer_open(cf, m->id, -EINVAL);
	close(m->open.fd);
}

static void handle_open(struct cf_frontend *cf, const struct cf_msg *m)
{
	struct cf_object *o;

	if (strncmp(m->open.volume_key, "erofs,", 6)) {
		log_err("OPEN %u: volume '%.64s' is not an erofs volume; refused",
			m->id, m->open.volume_key);
		refuse_open(cf, m);
		return;
	}
	if (find_object(cf, m->object_id)) {
		log_err("OPEN %u: object %u is already open; refused", m->id,
			m->object_id);
		refuse_open(cf, m);
		return;
	}
	o = calloc(1, sizeof(*o));
	if (!o) {
		log_err("OPEN %u: out of memory", m->id);
		server_error(cf->server, NULL);
		answer_open(cf, m->id, -ENOMEM);
		close(m->open.fd);
		return;
	}
	o->fe.ops = &cf_ops;
	o->cf = cf;
	o->id = m->object_id;
	o->open_msg = m->id;
	o->fd = m->open.fd;
	o->next = cf->objects;
	cf->objects = o;
	log_debug("OPEN %u: volume %s", m->id, m->open.volume_key);
	serve_open(cf->server, m->open.cookie_key, m->open.cookie_key_len,
		   &o->fe);
}

static void handle_read(struct cf_frontend *cf, const struct cf_msg *m)
{
	struct cf_object *o = find_object(cf, m->object_id);

	if (!o || !o->blob) {
		server_error(cf->server, NULL);
		log_err("READ %u for unknown object %u; ignored", m->id,
			m->object_id);
		return;
	}
	serve_read(cf->server, o->blob, m->read.off, m->read.len, m->id);
}

static void handle_close(struct cf_frontend *cf, const struct cf_msg *m)
{
	struct cf_object *o = find_object(cf, m->object_id);

	if (!o || !o->blob) {
		log_warn("CLOSE for unknown object %u; ignored", m->object_id);
		return;
	}
	/* The kernel may reuse the id now; the object lives while fetches use it. */
	unlink_object(o);
	serve_close(cf->server, o->blob);
}

static void cf_drain(struct frontend *fe)
{
	struct cf_frontend *cf = (struct cf_frontend *)fe;
	unsigned char buf[CF_MSG_MAX_SIZE * 4];
	int budget = 64; /* let finished fetches through now and then */

	while (budget--) {
		ssize_t n = read(fe->fd, buf, sizeof(buf));
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
			server_error(cf->server, NULL);
			log_err("malformed message from the kernel (%zd bytes): %s",
				n, why);
			if (m.opcode == CF_OP_OPEN && n >= CF_HDR_SIZE) {
				answer_open(cf, m.id, -EINVAL);
				close_if_cachefiles_fd(m.open.fd);
			}
			continue;
		}
		switch (m.opcode) {
		case CF_OP_OPEN:
			handle_open(cf, &m);
			break;
		case CF_OP_READ:
			handle_read(cf, &m);
			break;
		case CF_OP_CLOSE:
			handle_close(cf, &m);
			break;
		}
	}
}

static void cf_destroy(struct frontend *fe)
{
	struct cf_frontend *cf = (struct cf_frontend *)fe;
	struct cf_object *o, *next;

	for (o = cf->objects; o; o = next) {
		next = o->next;
		close(o->fd);
		free(o);
	}
	close(fe->fd);
	free(cf);
}

int fe_cachefiles_attach(struct frontend **out, struct server *s, int devfd)
{
	struct cf_frontend *cf = calloc(1, sizeof(*cf));

	if (!cf)
		return -ENOMEM;
	cf->fe.name = "cachefiles";
	cf->fe.fd = devfd;
	cf->fe.drain = cf_drain;
	cf->fe.destroy = cf_destroy;
	cf->server = s;
	*out = &cf->fe;
	return 0;
}

int fe_cachefiles_new(struct frontend **out, struct server *s,
		      const struct config *cfg)
{
	int ret, devfd = cf_dev_bind(cfg->cache_dir, cfg->tag);

	if (devfd < 0)
		return devfd;
	ret = fe_cachefiles_attach(out, s, devfd);
	if (ret) {
		log_err("out of memory");
		close(devfd);
	}
	return ret;
}
