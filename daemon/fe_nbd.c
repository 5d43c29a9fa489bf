// SPDX-License-Identifier: MIT
/*
 * The NBD front end. Each blob is a read-only block device whose socket
 * end we keep, nonblocking, in one epoll set: requests are read as they
 * come (partial headers buffered, write payloads discarded), READs go to
 * serve_read() with many in flight, and replies (header, then the data)
 * are queued and written as the socket takes them, in whatever order the
 * reads finish. The kernel keeps no copy of its own but its page cache.
 */
#include <errno.h>
#include <fcntl.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/epoll.h>
#include <sys/socket.h>

#include "fe_nbd.h"
#include "log.h"
#include "page.h"
#include "serve.h"

/* Reply bytes queued or promised per device before we stop reading. */
#define NBD_QUEUE_MAX (64u << 20)
/* Requests handled per device per drain, so that devices take turns. */
#define NBD_BATCH 64
#define NBD_NAME_MAX 255

enum dev_state { DEV_OPENING, DEV_UP, DEV_STOPPING, DEV_DOWN };

/* A reply waiting for the socket: header and data in one buffer. */
struct nbd_out {
	struct nbd_out *next;
	size_t len, done;
	unsigned char buf[];
};

/* One READ in flight; its address is the serve_read() tag. */
struct nbd_read {
	struct nbd_read *next, *prev;
	uint64_t handle, off;
	uint32_t len, served;	/* served: the part inside the blob */
};

struct nbd_dev {
	struct fe_object obj;	/* first: serve.c calls our ops with it */
	struct fe_nbd *fe;	/* NULL once the front end is gone */
	char name[NBD_NAME_MAX + 1];
	struct blob *blob;
	uint64_t size, dev_size;	/* the blob's; rounded up to 4 KiB */
	enum dev_state state;
	int fd, index, closed, released;
	int reattach;		/* the device to reattach to, or -1 */
	uint32_t events;
	unsigned char in[4096];
	size_t in_have;
	uint64_t skip;		/* payload of a refused WRITE still to drop */
	struct nbd_out *out_head, *out_tail;
	uint64_t queued;	/* reply bytes queued or promised */
	struct nbd_read reads;	/* list head of reads in flight */
};

struct fe_nbd {
	struct frontend fe;
	struct server *s;
	struct fe_nbd_options opt;
	struct nbd_dev **devs;
	unsigned int ndevs, nup;
	int ready;
};

static struct nbd_dev *dev_of(struct fe_object *o)
{
	return (struct nbd_dev *)((char *)o - offsetof(struct nbd_dev, obj));
}

static void dev_update_events(struct nbd_dev *d)
{
	struct epoll_event ev = { .data.ptr = d };
	int op;

	if (d->fd < 0)
		return;
	if (d->state == DEV_UP && d->queued < NBD_QUEUE_MAX)
		ev.events |= EPOLLIN;
	if (d->out_head)
		ev.events |= EPOLLOUT;
	if (ev.events == d->events)
		return;
	/* Out of the set while idle: a hung-up socket must not spin us. */
	op = !ev.events ? EPOLL_CTL_DEL : d->events ? EPOLL_CTL_MOD :
	     EPOLL_CTL_ADD;
	if (epoll_ctl(d->fe->fe.fd, op, d->fd, &ev))
		log_err("nbd%d: epoll: %s", d->index, strerror(errno));
	d->events = ev.events;
}

static void free_out(struct nbd_dev *d)
{
	while (d->out_head) {
		struct nbd_out *o = d->out_head;

		d->out_head = o->next;
		free(o);
	}
	d->out_tail = NULL;
}

/* Once stopping and nothing is owed any more: let go of the socket. */
static void dev_finish(struct nbd_dev *d)
{
	if (d->state != DEV_STOPPING || d->reads.next != &d->reads ||
	    d->out_head)
		return;
	d->state = DEV_DOWN;
	if (d->fd >= 0) {
		if (d->events)
			epoll_ctl(d->fe->fe.fd, EPOLL_CTL_DEL, d->fd, NULL);
		close(d->fd);
		d->fd = -1;
	}
	if (d->blob && !d->closed) {
		d->closed = 1;
		serve_close(d->fe->s, d->blob);
	}
}

static void dev_stop(struct nbd_dev *d)
{
	if (d->state == DEV_UP)
		d->state = DEV_STOPPING;
}

/* Writes what the socket takes; on a broken socket drops the rest. */
static void dev_flush(struct nbd_dev *d)
{
	while (d->out_head) {
		struct nbd_out *o = d->out_head;
		ssize_t n = send(d->fd, o->buf + o->done, o->len - o->done,
				 MSG_NOSIGNAL | MSG_DONTWAIT);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			if (errno == EAGAIN)
				break;
			if (d->state == DEV_UP)
				log_err("nbd%d (%s): sending a reply: %s",
					d->index, d->name, strerror(errno));
			while (d->out_head) {
				o = d->out_head;
				d->queued -= o->len - NBD_REPLY_SIZE;
				d->out_head = o->next;
				free(o);
			}
			d->out_tail = NULL;
			dev_stop(d);
			break;
		}
		o->done += (size_t)n;
		if (o->done < o->len)
			break;
		d->queued -= o->len - NBD_REPLY_SIZE;
		d->out_head = o->next;
		if (!d->out_head)
			d->out_tail = NULL;
		free(o);
	}
	dev_finish(d);
	if (d->state != DEV_DOWN)
		dev_update_events(d);
}

/*
 * Queues a reply; @data (@served bytes) is followed by zeros up to @len.
 * @len bytes were already counted in d->queued.
 */
static void dev_reply(struct nbd_dev *d, uint64_t handle, int err,
		      const unsigned char *data, uint32_t served, uint32_t len)
{
	struct nbd_out *o;

	if (err)
		len = served = 0;
	o = malloc(sizeof(*o) + NBD_REPLY_SIZE + len);
	if (!o) {
		/* The kernel would wait for this reply forever: give up. */
		log_err("nbd%d (%s): out of memory for a reply: stopping the device",
			d->index, d->name);
		dev_stop(d);
		return;
	}
	o->next = NULL;
	o->done = 0;
	o->len = NBD_REPLY_SIZE + len;
	nbd_reply_encode(o->buf, handle, err);
	if (served)
		memcpy(o->buf + NBD_REPLY_SIZE, data, served);
	memset(o->buf + NBD_REPLY_SIZE + served, 0, len - served);
	if (d->out_tail)
		d->out_tail->next = o;
	else
		d->out_head = o;
	d->out_tail = o;
}

static void dev_read_request(struct nbd_dev *d, const struct nbd_req *r)
{
	struct nbd_read *rd;

	rd = calloc(1, sizeof(*rd));
	if (!rd) {
		dev_reply(d, r->handle, -ENOMEM, NULL, 0, 0);
		return;
	}
	rd->handle = r->handle;
	rd->off = r->off;
	rd->len = r->len;
	/* The device is the blob rounded up to a block: zeros past its end. */
	if (r->off < d->size)
		rd->served = (uint32_t)(d->size - r->off < r->len ?
					d->size - r->off : r->len);
	d->queued += r->len;
	if (!rd->served) {
		dev_reply(d, r->handle, 0, NULL, 0, r->len);
		free(rd);
		return;
	}
	rd->next = d->reads.next;
	rd->prev = &d->reads;
	d->reads.next->prev = rd;
	d->reads.next = rd;
	serve_read(d->fe->s, d->blob, rd->off, rd->served,
		   (uint64_t)(uintptr_t)rd);
}

static void dev_request(struct nbd_dev *d, const unsigned char *p)
{
	struct nbd_req r;
	const char *why = NULL;
	int ret;

	if (nbd_req_decode(p, &r)) {
		log_err("nbd%d (%s): request with a bad magic: the stream is out of step, stopping the device",
			d->index, d->name);
		dev_reply(d, r.handle, -EINVAL, NULL, 0, 0);
		dev_stop(d);
		return;
	}
	d->skip = nbd_req_payload(&r);
	ret = nbd_req_check(&r, d->dev_size, &why);
	if (ret) {
		log_err("nbd%d (%s): refused command %u at %llu+%u: %s",
			d->index, d->name, r.cmd, (unsigned long long)r.off,
			r.len, why);
		dev_reply(d, r.handle, ret, NULL, 0, 0);
		return;
	}
	switch (r.cmd) {
	case NBD_REQ_READ:
		dev_read_request(d, &r);
		break;
	case NBD_REQ_FLUSH:
		dev_reply(d, r.handle, 0, NULL, 0, 0);
		break;
	case NBD_REQ_DISC:
		log_info("nbd%d (%s): disconnected by the kernel", d->index,
			 d->name);
		dev_stop(d);
		break;
	}
}

/* Reads and handles what the kernel sent, up to a batch. */
static void dev_input(struct nbd_dev *d)
{
	unsigned int handled = 0;
	size_t pos = 0;

	while (d->state == DEV_UP && d->queued < NBD_QUEUE_MAX &&
	       handled < NBD_BATCH) {
		ssize_t n;

		if (d->skip && pos < d->in_have) {
			size_t k = d->in_have - pos < d->skip ?
				   d->in_have - pos : (size_t)d->skip;

			pos += k;
			d->skip -= k;
			continue;
		}
		if (!d->skip && d->in_have - pos >= NBD_REQUEST_SIZE) {
			dev_request(d, d->in + pos);
			pos += NBD_REQUEST_SIZE;
			handled++;
			continue;
		}
		memmove(d->in, d->in + pos, d->in_have - pos);
		d->in_have -= pos;
		pos = 0;
		n = recv(d->fd, d->in + d->in_have,
			 sizeof(d->in) - d->in_have, MSG_DONTWAIT);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && errno == EAGAIN)
			break;
		if (n <= 0) {
			if (n)
				log_err("nbd%d (%s): reading requests: %s",
					d->index, d->name, strerror(errno));
			else
				log_info("nbd%d (%s): the kernel closed the connection",
					 d->index, d->name);
			dev_stop(d);
			break;
		}
		d->in_have += (size_t)n;
	}
	memmove(d->in, d->in + pos, d->in_have - pos);
	d->in_have -= pos;
	dev_flush(d);
}

static int write_map(const struct fe_nbd *f)
{
	FILE *fp = fopen(f->opt.map_file, "we");
	unsigned int i;

	if (!fp) {
		log_err("nbd map %s: %s", f->opt.map_file, strerror(errno));
		return -errno;
	}
	for (i = 0; i < f->ndevs; i++)
		fprintf(fp, "%s /dev/nbd%d\n", f->devs[i]->name,
			f->devs[i]->index);
	if (fclose(fp)) {
		log_err("nbd map %s: %s", f->opt.map_file, strerror(errno));
		return -EIO;
	}
	return 0;
}

static int dev_connect(struct nbd_dev *d)
{
	struct nbd_setup su = {
		.block_size = PAGE_SIZE_4K,
		.size = d->dev_size,
		.flags = 1 | 2,	/* NBD_FLAG_HAS_FLAGS | NBD_FLAG_READ_ONLY */
		/*
		 * No per-request timeout: when it fires the driver drops the
		 * connection, and serve.c already answers every read within
		 * erofs.timeout (with EIO at worst).
		 */
		.timeout_s = 0,
		.dead_conn_timeout_s = d->fe->opt.dead_conn_timeout_s,
	};
	struct epoll_event ev = { .events = EPOLLIN, .data.ptr = d };
	int sv[2], index;

	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv)) {
		log_err("nbd (%s): socketpair: %s", d->name, strerror(errno));
		return -errno;
	}
	su.sock = sv[1];
	if (d->reattach >= 0) {
		index = d->fe->opt.reconnect(d->reattach, sv[1]);
		if (!index)
			index = d->reattach;
	} else {
		index = d->fe->opt.connect(&su);
	}
	close(sv[1]);	/* the kernel holds its own reference */
	if (index < 0) {
		close(sv[0]);
		return index;
	}
	if (fcntl(sv[0], F_SETFL, O_NONBLOCK) ||
	    epoll_ctl(d->fe->fe.fd, EPOLL_CTL_ADD, sv[0], &ev)) {
		log_err("nbd%d (%s): %s", index, d->name, strerror(errno));
		close(sv[0]);
		return -errno;
	}
	d->fd = sv[0];
	d->index = index;
	d->events = EPOLLIN;
	d->state = DEV_UP;
	if (d->reattach >= 0)
		log_info("nbd%d: %s reattached on a new connection; the kernel sends it the reads it holds",
			 index, d->name);
	else
		log_info("nbd%d: %s, %llu bytes, read-only", index, d->name,
			 (unsigned long long)d->size);
	return 0;
}

static void nbd_opened(struct fe_object *o, struct blob *b,
		       int64_t size_or_err)
{
	struct nbd_dev *d = dev_of(o);
	struct fe_nbd *f = d->fe;
	int ret;

	if (!b) {
		if (f->ready >= 0)
			f->ready = (int)size_or_err;
		return;
	}
	d->blob = b;
	if (size_or_err <= 0 || size_or_err > INT64_MAX - PAGE_SIZE_4K) {
		log_err("nbd (%s): cannot serve a blob of %lld bytes", d->name,
			(long long)size_or_err);
		ret = -EINVAL;
	} else {
		d->size = (uint64_t)size_or_err;
		d->dev_size = page_up(d->size);
		ret = dev_connect(d);
	}
	if (ret) {
		if (f->ready >= 0)
			f->ready = ret;
		return;
	}
	if (++f->nup == f->ndevs && f->ready == 0)
		f->ready = f->opt.map_file && write_map(f) ? -EIO : 1;
}

/* serve.c's checked bytes: the page cache is the kernel's only copy. */
static int nbd_write(struct fe_object *o, const unsigned char *buf,
		     uint64_t off, uint64_t len)
{
	(void)o, (void)buf, (void)off, (void)len;
	return 0;
}

static void nbd_read_done(struct fe_object *o, uint64_t tag,
			  const unsigned char *data, int err)
{
	struct nbd_dev *d = dev_of(o);
	struct nbd_read *rd = (struct nbd_read *)(uintptr_t)tag;

	rd->prev->next = rd->next;
	rd->next->prev = rd->prev;
	if (d->fd >= 0 && (d->state == DEV_UP || d->state == DEV_STOPPING)) {
		/* The reason is logged; the kernel learns only "EIO". */
		dev_reply(d, rd->handle, err ? -EIO : 0, data, rd->served,
			  rd->len);
		if (err)
			d->queued -= rd->len;
		dev_flush(d);
	} else {
		d->queued -= rd->len;
	}
	free(rd);
}

static void free_reads(struct nbd_dev *d)
{
	while (d->reads.next != &d->reads) {
		struct nbd_read *rd = d->reads.next;

		d->reads.next = rd->next;
		free(rd);
	}
	d->reads.prev = &d->reads;
}

static void nbd_release(struct fe_object *o)
{
	struct nbd_dev *d = dev_of(o);

	d->released = 1;
	if (!d->fe) {
		free_reads(d);
		free(d);
	}
}

static const struct frontend_ops nbd_ops = {
	.opened = nbd_opened,
	.write = nbd_write,
	.read_done = nbd_read_done,
	.release = nbd_release,
};

static void nbd_drain(struct frontend *fe)
{
	struct epoll_event ev[16];
	int n, i;

	n = epoll_wait(fe->fd, ev, 16, 0);
	for (i = 0; i < n; i++) {
		struct nbd_dev *d = ev[i].data.ptr;

		if (ev[i].events & (EPOLLIN | EPOLLHUP | EPOLLERR))
			dev_input(d);
		else if (ev[i].events & EPOLLOUT)
			dev_flush(d);
	}
}

static void nbd_destroy(struct frontend *fe)
{
	struct fe_nbd *f = (struct fe_nbd *)fe;
	unsigned int i;

	for (i = 0; i < f->ndevs; i++) {
		struct nbd_dev *d = f->devs[i];

		free_out(d);
		if (d->fd >= 0)
			close(d->fd);
		d->fd = -1;
		d->state = DEV_DOWN;
		if (d->blob && !d->closed) {
			d->closed = 1;
			serve_close(f->s, d->blob);
		}
		/*
		 * Freed now, or by release() once serve.c is done with it:
		 * a read still in flight may yet be answered.
		 */
		d->fe = NULL;
		if (d->released || !d->blob) {
			free_reads(d);
			free(d);
		}
	}
	free(f->devs);
	close(fe->fd);
	free(f);
}

/* A blob name goes into the map file: one word of printable ASCII. */
static int check_name(const char *name)
{
	size_t i, len = strlen(name);

	if (!len || len > NBD_NAME_MAX)
		return -EINVAL;
	for (i = 0; i < len; i++)
		if (name[i] <= ' ' || name[i] > '~')
			return -EINVAL;
	return 0;
}

int fe_nbd_new(struct frontend **out, struct server *s,
	       const struct fe_nbd_options *opt, const char *const *blobs,
	       unsigned int nblobs)
{
	struct fe_nbd *f;
	unsigned int i;

	f = calloc(1, sizeof(*f));
	if (!f || !(f->devs = calloc(nblobs ? nblobs : 1, sizeof(*f->devs)))) {
		free(f);
		log_err("out of memory");
		return -ENOMEM;
	}
	f->fe.name = "nbd";
	f->fe.drain = nbd_drain;
	f->fe.destroy = nbd_destroy;
	f->s = s;
	f->opt = *opt;
	if (!f->opt.connect)
		f->opt.connect = nbd_connect;
	if (!f->opt.reconnect)
		f->opt.reconnect = nbd_reconnect;
	if (f->opt.reattach)
		f->opt.map_file = NULL;
	f->fe.fd = epoll_create1(EPOLL_CLOEXEC);
	if (f->fe.fd < 0) {
		log_err("epoll: %s", strerror(errno));
		free(f->devs);
		free(f);
		return -errno;
	}
	for (i = 0; i < nblobs; i++) {
		struct nbd_dev *d;

		if (check_name(blobs[i])) {
			log_err("nbd: blob name '%s' is not one word of at most %d printable characters",
				blobs[i], NBD_NAME_MAX);
			nbd_destroy(&f->fe);
			return -EINVAL;
		}
		d = calloc(1, sizeof(*d));
		if (!d) {
			log_err("out of memory");
			nbd_destroy(&f->fe);
			return -ENOMEM;
		}
		d->obj.ops = &nbd_ops;
		d->fe = f;
		d->fd = -1;
		d->index = -1;
		d->reattach = opt->reattach ? opt->reattach[i] : -1;
		d->reads.next = d->reads.prev = &d->reads;
		strcpy(d->name, blobs[i]);
		f->devs[f->ndevs++] = d;
	}
	/* All allocated first: opened() may come before serve_open returns. */
	for (i = 0; i < f->ndevs && f->ready >= 0; i++)
		serve_open(s, f->devs[i]->name, strlen(f->devs[i]->name),
			   &f->devs[i]->obj);
	*out = &f->fe;
	return 0;
}

int fe_nbd_ready(const struct frontend *fe)
{
	return ((const struct fe_nbd *)fe)->ready;
}

int fe_nbd_index(const struct frontend *fe, unsigned int i)
{
	const struct fe_nbd *f = (const struct fe_nbd *)fe;

	return i < f->ndevs ? f->devs[i]->index : -1;
}
