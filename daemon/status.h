/* SPDX-License-Identifier: MIT */
/*
 * What `lazyrootctl status` shows: a snapshot of the daemon's counters
 * (filled by serve.c's server_status()) and its two forms, text for
 * people and JSON for machines. The formatting is pure, so it is tested
 * alone.
 */
#ifndef LAZYROOT_STATUS_H
#define LAZYROOT_STATUS_H

#include <stddef.h>
#include <stdint.h>

#include "fetch.h"
#include "fill.h"
#include "source.h"

#define STATUS_DEVS_MAX 16
#define STATUS_DEV_MAX 32

struct status_blob {
	const char *name;
	uint64_t size;
	const char *store;	/* "disk", "ram", or NULL: none */
	uint64_t held;		/* bytes of it in that store */
	struct blob_stats st;
};

struct status {
	const char *frontend;	/* "cachefiles", "nbd", or NULL: not started */
	unsigned int ndevs;
	char devs[STATUS_DEVS_MAX][STATUS_DEV_MAX];	/* "/dev/nbd0" */
	const char *disk_dir;	/* erofs.cache=, or NULL */
	uint64_t disk_used;	/* bytes on disk, all blobs */
	uint64_t ram_used, ram_limit;	/* ram_limit 0: no RAM cache */
	struct fetch_stats net;	/* every request, the image's small files too */
	unsigned int nmirrors;
	struct fetch_mirror_status mirrors[FETCH_MIRRORS_MAX];
	struct fill_progress fill;	/* state FILL_OFF: erofs.fill=off */
	unsigned int nblobs;
	struct status_blob *blobs;	/* the open blobs */
};

/* The forms; *out is the caller's to free(). 0 or -ENOMEM. */
int status_text(const struct status *st, char **out, size_t *len);
int status_json(const struct status *st, char **out, size_t *len);

#endif
