// SPDX-License-Identifier: MIT
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "io.h"
#include "store.h"

struct store {
	int data_fd, map_fd;	/* map_fd -1: a RAM store */
	uint64_t size, pages;
	uint64_t held;		/* pages set in map */
	unsigned char *map;	/* in memory; written through on disk */
	struct store_budget *budget;	/* RAM stores */
};

static int page_set(const struct store *st, uint64_t pg)
{
	return st->map[pg / 8] & (1u << (pg % 8));
}

/* The pages the map marks: once, when a copy is opened; then kept in held. */
static uint64_t count_pages(const struct store *st)
{
	uint64_t pg, n = 0;

	for (pg = 0; pg < st->pages; pg++)
		n += page_set(st, pg) ? 1 : 0;
	return n;
}

static int sync_dir(int dfd)
{
	return fsync(dfd) ? -errno : 0;
}

/* Empties the copy: no id first, so a crash part-way leaves no trusted page. */
static int store_reset(struct store *st, int dfd, const char *name,
		       const char *id)
{
	char path[320], tmp[330];
	size_t mapbytes = (size_t)((st->pages + 7) / 8);
	int fd, ret;

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
	memset(st->map, 0, mapbytes);

	snprintf(tmp, sizeof(tmp), "%s.id.new", name);
	fd = openat(dfd, tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd < 0)
		return -errno;
	ret = io_pwrite_all(fd, id, strlen(id), 0);
	if (!ret && fsync(fd))
		ret = -errno;
	close(fd);
	if (!ret && renameat(dfd, tmp, dfd, path))
		ret = -errno;
	return ret ? ret : sync_dir(dfd);
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
	       uint64_t size, const char *sha256_hex)
{
	char path[320], id[160], have[161];
	struct store *st;
	size_t mapbytes;
	struct stat sb;
	ssize_t n;
	int dfd, fd, ret = 0;

	if (strlen(name) > 255 || strlen(sha256_hex) != 64 || !size)
		return -EINVAL;
	st = calloc(1, sizeof(*st));
	if (!st)
		return -ENOMEM;
	st->size = size;
	st->pages = (size + STORE_PAGE - 1) / STORE_PAGE;
	mapbytes = (size_t)((st->pages + 7) / 8);
	st->map = calloc(1, mapbytes);
	st->data_fd = st->map_fd = -1;
	dfd = open_dir(dir);
	if (!st->map || dfd < 0) {
		ret = st->map ? -errno : -ENOMEM;
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

	snprintf(id, sizeof(id), "lazyroot-store 1\nsize %llu\nsha256 %s\n",
		 (unsigned long long)size, sha256_hex);
	snprintf(path, sizeof(path), "%s.id", name);
	fd = openat(dfd, path, O_RDONLY | O_CLOEXEC);
	n = fd < 0 ? -1 : read(fd, have, sizeof(have) - 1);
	if (fd >= 0)
		close(fd);
	have[n < 0 ? 0 : n] = '\0';
	/* Trust the map only for the same content and files of the right sizes. */
	if (strcmp(have, id) || fstat(st->map_fd, &sb) || (size_t)sb.st_size != mapbytes ||
	    io_pread_all(st->map_fd, st->map, mapbytes, 0) ||
	    fstat(st->data_fd, &sb) || (uint64_t)sb.st_size != size)
		ret = store_reset(st, dfd, name, id);
	if (ret)
		goto fail;
	close(dfd);
	st->held = count_pages(st);
	*out = st;
	return 0;
fail:
	if (dfd >= 0)
		close(dfd);
	store_close(st);
	return ret;
}

int store_open_ram(struct store **out, const char *name, uint64_t size,
		   struct store_budget *budget)
{
	char label[64];
	struct store *st;
	int ret;

	if (!size)
		return -EINVAL;
	st = calloc(1, sizeof(*st));
	if (!st)
		return -ENOMEM;
	st->size = size;
	st->pages = (size + STORE_PAGE - 1) / STORE_PAGE;
	st->map = calloc(1, (size_t)((st->pages + 7) / 8));
	st->map_fd = -1;
	st->budget = budget;
	/* the name shows in /proc/PID/fd, which is all it is for */
	snprintf(label, sizeof(label), "lazyroot-ram:%.48s", name);
	st->data_fd = memfd_create(label, MFD_CLOEXEC);
	if (!st->map || st->data_fd < 0 || ftruncate(st->data_fd, (off_t)size)) {
		ret = st->map ? -errno : -ENOMEM;
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

void store_close(struct store *st)
{
	if (!st)
		return;
	if (st->budget)
		st->budget->used -= st->held * STORE_PAGE;
	if (st->data_fd >= 0)
		close(st->data_fd);
	if (st->map_fd >= 0)
		close(st->map_fd);
	free(st->map);
	free(st);
}


int store_has(const struct store *st, uint64_t off, uint64_t len)
{
	uint64_t pg, end;

	if (off % STORE_PAGE || off >= st->size || !len)
		return 0;
	end = (off + len + STORE_PAGE - 1) / STORE_PAGE;
	if (end > st->pages)
		return 0;
	for (pg = off / STORE_PAGE; pg < end; pg++)
		if (!page_set(st, pg))
			return 0;
	return 1;
}

int store_read(struct store *st, unsigned char *buf, uint64_t off,
	       uint64_t len)
{
	uint64_t n = len;

	if (!store_has(st, off, len))
		return -ENODATA;
	if (off + n > st->size)
		n = st->size - off;
	memset(buf + n, 0, len - n);
	return io_pread_all(st->data_fd, buf, n, off);
}

int store_put(struct store *st, const unsigned char *buf, uint64_t off,
	      uint64_t len)
{
	uint64_t pg, first, last, fresh = 0, end = off + len;
	int ret;

	if (off % STORE_PAGE || !len || end < off || end > st->size ||
	    (end % STORE_PAGE && end != st->size))
		return -EINVAL;
	first = off / STORE_PAGE;
	last = (end + STORE_PAGE - 1) / STORE_PAGE;
	for (pg = first; pg < last; pg++)
		fresh += page_set(st, pg) ? 0 : 1;
	if (st->budget &&
	    fresh * STORE_PAGE > st->budget->limit - st->budget->used)
		return -ENOSPC;
	ret = io_pwrite_all(st->data_fd, buf, len, off);
	if (ret)
		return ret;
	/* The data is on disk before any bit says so. */
	if (!store_in_ram(st) && fdatasync(st->data_fd))
		return -errno;
	for (pg = first; pg < last; pg++)
		st->map[pg / 8] |= (unsigned char)(1u << (pg % 8));
	st->held += fresh;
	if (st->budget)
		st->budget->used += fresh * STORE_PAGE;
	if (store_in_ram(st))
		return 0;
	return io_pwrite_all(st->map_fd, st->map + first / 8,
			   (size_t)((last - 1) / 8 - first / 8 + 1),
			   first / 8);
}

uint64_t store_pages(const struct store *st, uint64_t *total)
{
	if (total)
		*total = st->pages;
	return st->held;
}
