/* SPDX-License-Identifier: MIT */
/*
 * A kernel front end: how the kernel asks for the bytes of an image blob.
 * A front end reads the kernel's requests, checks them as hostile input,
 * turns them into serve_open(), serve_read() and serve_close() (serve.h)
 * and carries the answers back through its frontend_ops. Two exist or are
 * planned: cachefiles on-demand (fe_cachefiles.c, EROFS fscache mode) and
 * NBD block devices (for kernels without it).
 *
 * A front end keeps one struct fe_object per open blob, with the ops as
 * its first member; serve.c calls those ops with that object:
 *
 *   serve_open()  ->  ops->opened()           once, maybe before serve_open returns
 *   serve_read()  ->  ops->write()*, ops->read_done()   once per serve_read
 *   serve_close() ->  ops->release()          once no fetch uses the object
 */
#ifndef LAZYROOT_FRONTEND_H
#define LAZYROOT_FRONTEND_H

#include <stdint.h>

struct blob;
struct fe_object;

struct frontend_ops {
	/*
	 * The answer to serve_open(): @b (for serve_read/serve_close) and the
	 * blob's size, or b == NULL and a negative errno (the reason has been
	 * logged).
	 */
	void (*opened)(struct fe_object *o, struct blob *b, int64_t size_or_err);
	/*
	 * Checked bytes of the blob: @off is page-aligned, @buf holds @len
	 * bytes zero-padded to whole pages (@len may end at the blob's end).
	 * Every byte of an answered read has been handed here first, plus
	 * what serve.c fetched ahead. Returns 0 or -errno (logged here).
	 */
	int (*write)(struct fe_object *o, const unsigned char *buf,
		     uint64_t off, uint64_t len);
	/*
	 * The answer to serve_read(..., @tag): err 0 and @data pointing at the
	 * bytes [off, off + len) that were asked for, or err < 0 and data NULL
	 * (the reason has been logged). @data is valid only during the call.
	 */
	void (*read_done)(struct fe_object *o, uint64_t tag,
			  const unsigned char *data, int err);
	/* After serve_close(): nothing uses @o any more, free it. */
	void (*release)(struct fe_object *o);
};

struct fe_object {
	const struct frontend_ops *ops;
};

/* A front end as main.c drives it. */
struct frontend {
	const char *name;	/* "cachefiles", "nbd": for the log */
	int fd;			/* readable when the kernel has requests */
	/* Handles what the kernel has queued; never blocks. */
	void (*drain)(struct frontend *fe);
	void (*destroy)(struct frontend *fe);
};

struct server;
struct config;

/*
 * Binds /dev/cachefiles in on-demand mode (fe_cachefiles.c). Returns 0, or
 * -errno after one line saying what the kernel lacks.
 */
int fe_cachefiles_new(struct frontend **out, struct server *s,
		      const struct config *cfg);
/* The same on a device fd already bound (tests: a fake device). */
int fe_cachefiles_attach(struct frontend **out, struct server *s, int devfd);

#endif
