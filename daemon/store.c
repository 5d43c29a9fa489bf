// SPDX-License-Identifier: MIT
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "crc32c.h"
#include "io.h"
#include "le.h"
#include "store.h"

#define ID_FORMAT "lazyroot-store 2\nsize %llu\nsha256 %s\nsums %s\n"
#define ID_MAX 200

/* Pages for the writer; drop: only the map bytes of [off, off + len) change. */
struct put {
	struct put *next;
	uint64_t off, len;
	int drop;
	unsigned char data[];
};

struct store {
	int data_fd, map_fd, sum_fd;	/* map_fd -1: a RAM store; sum_fd -1: no sums */
	uint64_t size, pages;
	struct store_budget *budget;	/* RAM stores */

	/* lock guards what follows; the writer thread and the caller share it */
	pthread_mutex_t lock;
	pthread_cond_t wake, idle;
	uint64_t held;		/* pages set in map */
	unsigned char *map;	/* in memory; written through on disk */
	uint32_t *sum;		/* per page, with sums */
	struct put *queue, **tail;
	size_t queued;		/* bytes in the queue */
	int busy, stop, err;	/* err: what stopped the writer */
	int writer;		/* the thread runs */
	pthread_t thread;
};

static int page_set(const struct store *st, uint64_t pg)
{
	return st->map[pg / 8] & (1u << (pg % 8));
}

static void set_pages(struct store *st, uint64_t first, uint64_t last, int on)
{
	uint64_t pg;

	for (pg = first; pg < last; pg++) {
		unsigned char bit = (unsigned char)(1u << (pg % 8));

		if (on && !page_set(st, pg)) {
			st->map[pg / 8] |= bit;
			st->held++;
		} else if (!on && page_set(st, pg)) {
			st->map[pg / 8] &= (unsigned char)~bit;
			st->held--;
		}
	}
}

/* The pages the map marks: once, when a copy is opened; then kept in held. */
static uint64_t count_pages(const struct store *st)
{
	uint64_t pg, n = 0;

	for (pg = 0; pg < st->pages; pg++)
		n += page_set(st, pg) ? 1 : 0;
	return n;
}

/* The CRC-32C of page @pg, whose bytes are at @p; past the blob's end: zeros. */
static uint32_t page_sum(const struct store *st, const unsigned char *p,
			 uint64_t pg)
{
	static const unsigned char zeros[STORE_PAGE];
	uint64_t n = st->size - pg * STORE_PAGE;
	uint32_t c;

	if (n > STORE_PAGE)
		n = STORE_PAGE;
	c = crc32c(~0u, p, (size_t)n);
	return crc32c(c, zeros, (size_t)(STORE_PAGE - n));
}

static int sync_dir(int dfd)
{
	return fsync(dfd) ? -errno : 0;
}

/* Writes @text to @name in @dfd through NAME.new and a rename. */
static int write_file(int dfd, const char *name, const char *text)
{
	char tmp[340];
	int fd, ret;

	snprintf(tmp, sizeof(tmp), "%s.new", name);
	fd = openat(dfd, tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd < 0)
		return -errno;
	ret = io_pwrite_all(fd, text, strlen(text), 0);
	if (!ret && fsync(fd))
		ret = -errno;
	close(fd);
	if (!ret && renameat(dfd, tmp, dfd, name))
		ret = -errno;
	return ret ? ret : sync_dir(dfd);
}

/* Empties the copy: no id first, so a crash part-way leaves no trusted page. */
static int store_reset(struct store *st, int dfd, const char *name,
		       const char *id)
{
	char path[320];
	size_t mapbytes = (size_t)((st->pages + 7) / 8);
	int ret;

	snprintf(path, sizeof(path), "%s.id", name);
	if (unlinkat(dfd, path, 0) && errno != ENOENT)
		return -errno;
	ret = sync_dir(dfd);
	if (ret)
		return ret;
	if (ftruncate(st->data_fd, 0) || ftruncate(st->data_fd, (off_t)st->size) ||
	    ftruncate(st->map_fd, 0) || ftruncate(st->map_fd, (off_t)mapbytes) ||
	    fsync(st->data_fd) || fsync(st->map_fd))
		return -errno;
	if (st->sum_fd >= 0 &&
	    (ftruncate(st->sum_fd, 0) || ftruncate(st->sum_fd, (off_t)(st->pages * 4)) ||
	     fsync(st->sum_fd)))
		return -errno;
	memset(st->map, 0, mapbytes);
	return write_file(dfd, path, id);
}

/* The sums on disk into memory (little endian there). */
static int load_sums(struct store *st)
{
	unsigned char *p = (unsigned char *)st->sum;
	uint64_t pg;
	int ret = io_pread_all(st->sum_fd, p, (size_t)(st->pages * 4), 0);

	/* in place, front to back: each sum is read before it is written */
	for (pg = 0; !ret && pg < st->pages; pg++)
		st->sum[pg] = get_le32(p + pg * 4);
	return ret;
}

/* Writes queued pages; one sync for all that were waiting. */
static int write_batch(struct store *st, struct put *list)
{
	struct put *p;
	int ret = 0, synced = 0;

	for (p = list; p && !ret; p = p->next) {
		uint64_t pg, first = p->off / STORE_PAGE;
		uint64_t last = (p->off + p->len + STORE_PAGE - 1) / STORE_PAGE;

		if (p->drop)
			continue;
		ret = io_pwrite_all(st->data_fd, p->data, p->len, p->off);
		for (pg = first; !ret && st->sum_fd >= 0 && pg < last; pg++) {
			uint32_t c = page_sum(st, p->data + (pg - first) * STORE_PAGE, pg);
			unsigned char le[4];

			put_le32(le, c);
			pthread_mutex_lock(&st->lock);
			st->sum[pg] = c;
			pthread_mutex_unlock(&st->lock);
			ret = io_pwrite_all(st->sum_fd, le, 4, pg * 4);
		}
		synced = 1;
	}
	/* The data is on disk before any bit says so. */
	if (!ret && synced && fdatasync(st->data_fd))
		ret = -errno;
	if (!ret && synced && st->sum_fd >= 0 && fdatasync(st->sum_fd))
		ret = -errno;
	for (p = list; p && !ret; p = p->next) {
		uint64_t first = p->off / STORE_PAGE;
		uint64_t last = (p->off + p->len + STORE_PAGE - 1) / STORE_PAGE;
		uint64_t a = first / 8, end = (last - 1) / 8 + 1;

		pthread_mutex_lock(&st->lock);
		if (!p->drop)
			set_pages(st, first, last, 1);
		pthread_mutex_unlock(&st->lock);
		/* not synced: a bit lost in a crash is a page fetched again */
		while (!ret && a < end) {
			unsigned char bytes[256];
			size_t n = end - a < sizeof(bytes) ? (size_t)(end - a) :
							     sizeof(bytes);

			pthread_mutex_lock(&st->lock);
			memcpy(bytes, st->map + a, n);
			pthread_mutex_unlock(&st->lock);
			ret = io_pwrite_all(st->map_fd, bytes, n, a);
			a += n;
		}
	}
	return ret;
}

static void *writer_main(void *arg)
{
	struct store *st = arg;

	pthread_mutex_lock(&st->lock);
	for (;;) {
		struct put *list, *p;
		int ret;

		while (!st->queue && !st->stop)
			pthread_cond_wait(&st->wake, &st->lock);
		if (!st->queue)
			break;
		list = st->queue;
		st->queue = NULL;
		st->tail = &st->queue;
		st->busy = 1;
		pthread_mutex_unlock(&st->lock);
		ret = st->err ? 0 : write_batch(st, list);
		pthread_mutex_lock(&st->lock);
		for (p = list; p; p = list) {
			list = p->next;
			st->queued -= p->drop ? 0 : p->len;
			free(p);
		}
		if (ret && !st->err)
			st->err = ret;
		st->busy = 0;
		pthread_cond_broadcast(&st->idle);
	}
	pthread_mutex_unlock(&st->lock);
	return NULL;
}

static struct store *store_new(uint64_t size)
{
	struct store *st = calloc(1, sizeof(*st));

	if (!st)
		return NULL;
	st->size = size;
	st->pages = (size + STORE_PAGE - 1) / STORE_PAGE;
	st->data_fd = st->map_fd = st->sum_fd = -1;
	st->tail = &st->queue;
	pthread_mutex_init(&st->lock, NULL);
	pthread_cond_init(&st->wake, NULL);
	pthread_cond_init(&st->idle, NULL);
	st->map = calloc(1, (size_t)((st->pages + 7) / 8));
	if (!st->map) {
		store_close(st);
		return NULL;
	}
	return st;
}

static void make_id(char *id, size_t n, uint64_t size, const char *sha256_hex,
		    unsigned int flags)
{
	snprintf(id, n, ID_FORMAT, (unsigned long long)size, sha256_hex,
		 flags & STORE_SUMS ? "crc32c" : "none");
}

/*
 * The store's directory, opened before switch_root: a worker restarted
 * after it finds no path to it any more (the initramfs is emptied).
 */
static int held_dfd = -1;
static char held_dir[4096];

int store_hold_dir(const char *dir)
{
	int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);

	if (fd < 0 || strlen(dir) >= sizeof(held_dir)) {
		if (fd >= 0)
			close(fd);
		return fd < 0 ? -errno : -ENAMETOOLONG;
	}
	if (held_dfd >= 0)
		close(held_dfd);
	held_dfd = fd;
	strcpy(held_dir, dir);
	return 0;
}

static int open_dir(const char *dir)
{
	if (held_dfd >= 0 && !strcmp(dir, held_dir))
		return fcntl(held_dfd, F_DUPFD_CLOEXEC, 0);
	return open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
}

int store_open(struct store **out, const char *dir, const char *name,
	       uint64_t size, const char *sha256_hex, unsigned int flags)
{
	char path[320], id[ID_MAX], have[ID_MAX + 1];
	struct store *st;
	size_t mapbytes;
	struct stat sb;
	ssize_t n;
	int dfd, fd, ret = 0;

	if (strlen(name) > 255 || strlen(sha256_hex) != 64 || !size)
		return -EINVAL;
	st = store_new(size);
	if (!st)
		return -ENOMEM;
	mapbytes = (size_t)((st->pages + 7) / 8);
	if (flags & STORE_SUMS) {
		st->sum = calloc(st->pages, sizeof(*st->sum));
		if (!st->sum) {
			store_close(st);
			return -ENOMEM;
		}
	}
	dfd = open_dir(dir);
	if (dfd < 0) {
		ret = -errno;
		goto fail;
	}
	snprintf(path, sizeof(path), "%s.data", name);
	st->data_fd = openat(dfd, path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
	snprintf(path, sizeof(path), "%s.map", name);
	st->map_fd = openat(dfd, path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
	if (st->data_fd < 0 || st->map_fd < 0) {
		ret = -errno;
		goto fail;
	}
	if (flags & STORE_SUMS) {
		snprintf(path, sizeof(path), "%s.sum", name);
		st->sum_fd = openat(dfd, path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
		if (st->sum_fd < 0) {
			ret = -errno;
			goto fail;
		}
	}

	make_id(id, sizeof(id), size, sha256_hex, flags);
	snprintf(path, sizeof(path), "%s.id", name);
	fd = openat(dfd, path, O_RDONLY | O_CLOEXEC);
	n = fd < 0 ? -1 : read(fd, have, sizeof(have) - 1);
	if (fd >= 0)
		close(fd);
	have[n < 0 ? 0 : n] = '\0';
	/* Trust the map only for the same content and files of the right sizes. */
	if (strcmp(have, id) || fstat(st->map_fd, &sb) || (size_t)sb.st_size != mapbytes ||
	    io_pread_all(st->map_fd, st->map, mapbytes, 0) ||
	    fstat(st->data_fd, &sb) || (uint64_t)sb.st_size != size ||
	    (st->sum_fd >= 0 && (fstat(st->sum_fd, &sb) ||
				 (uint64_t)sb.st_size != st->pages * 4 ||
				 load_sums(st))))
		ret = store_reset(st, dfd, name, id);
	if (ret)
		goto fail;
	close(dfd);
	st->held = count_pages(st);
	ret = pthread_create(&st->thread, NULL, writer_main, st);
	if (ret) {
		store_close(st);
		return -ret;
	}
	st->writer = 1;
	*out = st;
	return 0;
fail:
	if (dfd >= 0)
		close(dfd);
	store_close(st);
	return ret;
}

int store_peek(const char *dir, const char *name, uint64_t *size,
	       char *sha256_hex, unsigned int *flags)
{
	char path[4096 + 320], have[ID_MAX + 1], sums[8], id[ID_MAX];
	unsigned long long n;
	ssize_t len;
	int fd;

	snprintf(path, sizeof(path), "%s/%s.id", dir, name);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	len = read(fd, have, sizeof(have) - 1);
	close(fd);
	if (len < 0)
		return -EIO;
	have[len] = '\0';
	if (sscanf(have, "lazyroot-store 2\nsize %llu\nsha256 %64[0-9a-f]\nsums %7[a-z0-9]\n",
		   &n, sha256_hex, sums) != 3 || strlen(sha256_hex) != 64)
		return -EBADMSG;
	*flags = strcmp(sums, "crc32c") ? 0 : STORE_SUMS;
	/* only what store_open would write back is one */
	make_id(id, sizeof(id), n, sha256_hex, *flags);
	if (strcmp(id, have) || !n)
		return -EBADMSG;
	*size = n;
	return 0;
}

int store_set_origin(const char *dir, const char *name, const char *url)
{
	char path[320], text[4200];
	int dfd, ret;

	if (store_origin_is(dir, name, url))
		return 0;
	dfd = open_dir(dir);
	if (dfd < 0)
		return -errno;
	snprintf(path, sizeof(path), "%s.from", name);
	snprintf(text, sizeof(text), "%s\n", url);
	ret = write_file(dfd, path, text);
	close(dfd);
	return ret;
}

int store_origin_is(const char *dir, const char *name, const char *url)
{
	char path[320], have[4200];
	size_t n = strlen(url);
	ssize_t len;
	int dfd, fd;

	dfd = open_dir(dir);
	if (dfd < 0)
		return 0;
	snprintf(path, sizeof(path), "%s.from", name);
	fd = openat(dfd, path, O_RDONLY | O_CLOEXEC);
	close(dfd);
	if (fd < 0)
		return 0;
	len = read(fd, have, sizeof(have));
	close(fd);
	return len == (ssize_t)n + 1 && !memcmp(have, url, n) && have[n] == '\n';
}

int store_open_ram(struct store **out, const char *name, uint64_t size,
		   struct store_budget *budget)
{
	char label[64];
	struct store *st;
	int ret;

	if (!size)
		return -EINVAL;
	st = store_new(size);
	if (!st)
		return -ENOMEM;
	st->budget = budget;
	/* the name shows in /proc/PID/fd, which is all it is for */
	snprintf(label, sizeof(label), "lazyroot-ram:%.48s", name);
	st->data_fd = memfd_create(label, MFD_CLOEXEC);
	if (st->data_fd < 0 || ftruncate(st->data_fd, (off_t)size)) {
		ret = -errno;
		store_close(st);
		return ret;
	}
	*out = st;
	return 0;
}

int store_in_ram(const struct store *st)
{
	return st->map_fd < 0;
}

int store_sync(struct store *st)
{
	int ret;

	pthread_mutex_lock(&st->lock);
	while (st->writer && (st->queue || st->busy))
		pthread_cond_wait(&st->idle, &st->lock);
	ret = st->err;
	pthread_mutex_unlock(&st->lock);
	return ret;
}

void store_close(struct store *st)
{
	struct put *p;

	if (!st)
		return;
	if (st->writer) {
		pthread_mutex_lock(&st->lock);
		st->stop = 1;
		pthread_cond_signal(&st->wake);
		pthread_mutex_unlock(&st->lock);
		pthread_join(st->thread, NULL);
	}
	while ((p = st->queue)) {
		st->queue = p->next;
		free(p);
	}
	if (st->budget)
		st->budget->used -= st->held * STORE_PAGE;
	if (st->data_fd >= 0)
		close(st->data_fd);
	if (st->map_fd >= 0)
		close(st->map_fd);
	if (st->sum_fd >= 0)
		close(st->sum_fd);
	pthread_cond_destroy(&st->idle);
	pthread_cond_destroy(&st->wake);
	pthread_mutex_destroy(&st->lock);
	free(st->sum);
	free(st->map);
	free(st);
}

/* [*first, *last) are the pages of [off, off + len), if it lies in the blob. */
static int page_range(const struct store *st, uint64_t off, uint64_t len,
		      uint64_t *first, uint64_t *last)
{
	*first = *last = 0;
	if (off % STORE_PAGE || off >= st->size || !len || off + len < off)
		return 0;
	*first = off / STORE_PAGE;
	*last = (off + len + STORE_PAGE - 1) / STORE_PAGE;
	return *last <= st->pages;
}

static int has_locked(const struct store *st, uint64_t first, uint64_t last)
{
	uint64_t pg;

	for (pg = first; pg < last; pg++)
		if (!page_set(st, pg))
			return 0;
	return 1;
}

int store_has(struct store *st, uint64_t off, uint64_t len)
{
	uint64_t first, last;
	int ret;

	if (!page_range(st, off, len, &first, &last))
		return 0;
	pthread_mutex_lock(&st->lock);
	ret = has_locked(st, first, last);
	pthread_mutex_unlock(&st->lock);
	return ret;
}

int store_read(struct store *st, unsigned char *buf, uint64_t off,
	       uint64_t len)
{
	uint64_t pg, first, last, n = len;
	int ret;

	if (!store_has(st, off, len))
		return -ENODATA;
	page_range(st, off, len, &first, &last);
	if (off + n > st->size)
		n = st->size - off;
	memset(buf + n, 0, len - n);
	ret = io_pread_all(st->data_fd, buf, n, off);
	if (ret || st->sum_fd < 0)
		return ret;
	pthread_mutex_lock(&st->lock);
	for (pg = first; pg < last && !ret; pg++)
		if (page_sum(st, buf + (pg - first) * STORE_PAGE, pg) != st->sum[pg])
			ret = -EBADMSG;
	pthread_mutex_unlock(&st->lock);
	return ret;
}

/* A RAM store keeps the pages at once, within its budget. */
static int put_ram(struct store *st, const unsigned char *buf, uint64_t off,
		   uint64_t len, uint64_t first, uint64_t last)
{
	uint64_t pg, fresh = 0;
	int ret;

	for (pg = first; pg < last; pg++)
		fresh += page_set(st, pg) ? 0 : 1;
	if (fresh * STORE_PAGE > st->budget->limit - st->budget->used)
		return -ENOSPC;
	ret = io_pwrite_all(st->data_fd, buf, len, off);
	if (ret)
		return ret;
	set_pages(st, first, last, 1);
	st->budget->used += fresh * STORE_PAGE;
	return 0;
}

static void enqueue(struct store *st, struct put *p)
{
	p->next = NULL;
	*st->tail = p;
	st->tail = &p->next;
	pthread_cond_signal(&st->wake);
}

int store_put(struct store *st, const unsigned char *buf, uint64_t off,
	      uint64_t len)
{
	uint64_t first, last, end = off + len;
	struct put *p;
	int ret;

	if (off % STORE_PAGE || !len || end < off || end > st->size ||
	    (end % STORE_PAGE && end != st->size))
		return -EINVAL;
	page_range(st, off, len, &first, &last);
	if (st->budget)
		return put_ram(st, buf, off, len, first, last);

	pthread_mutex_lock(&st->lock);
	ret = st->err;
	if (!ret && has_locked(st, first, last))
		ret = 1; /* all there already */
	else if (!ret && len > STORE_QUEUE_MAX - st->queued)
		ret = -EAGAIN;
	pthread_mutex_unlock(&st->lock);
	if (ret)
		return ret < 0 ? ret : 0;
	p = malloc(sizeof(*p) + len);
	if (!p)
		return -EAGAIN;
	memcpy(p->data, buf, len);
	p->off = off;
	p->len = len;
	p->drop = 0;
	pthread_mutex_lock(&st->lock);
	st->queued += len;
	enqueue(st, p);
	pthread_mutex_unlock(&st->lock);
	return 0;
}

void store_drop(struct store *st, uint64_t off, uint64_t len)
{
	uint64_t first, last, held;
	struct put *p;

	if (!page_range(st, off, len, &first, &last))
		return;
	pthread_mutex_lock(&st->lock);
	held = st->held;
	set_pages(st, first, last, 0);
	if (st->budget)
		st->budget->used -= (held - st->held) * STORE_PAGE;
	/* the map on disk follows, off this thread */
	p = st->writer ? malloc(sizeof(*p)) : NULL;
	if (p) {
		p->off = off;
		p->len = (last - first) * STORE_PAGE;
		p->drop = 1;
		enqueue(st, p);
	}
	pthread_mutex_unlock(&st->lock);
}

uint64_t store_pages(struct store *st, uint64_t *total)
{
	uint64_t n;

	if (total)
		*total = st->pages;
	pthread_mutex_lock(&st->lock);
	n = st->held;
	pthread_mutex_unlock(&st->lock);
	return n;
}

uint64_t store_waiting(struct store *st)
{
	uint64_t n;

	pthread_mutex_lock(&st->lock);
	n = st->queued;
	pthread_mutex_unlock(&st->lock);
	return n;
}
