/* SPDX-License-Identifier: MIT */
/*
 * The request loop: kernel OPEN/READ/CLOSE messages from /dev/cachefiles
 * become HTTPS fetches whose checked bytes are written to the cache.
 */
#ifndef LAZYROOT_SERVE_H
#define LAZYROOT_SERVE_H

#include "config.h"
#include "fetch.h"

struct server;

struct serve_stats {
	unsigned long long opens, reads, closes;
	unsigned long long bytes_written;
	unsigned long long bytes_from_disk;	/* of those, from the store */
	unsigned long long errors;
	unsigned long long chunks_verified, chunks_bad;	/* verified images */
};

int server_new(struct server **out, const struct config *cfg, int devfd,
	       struct fetch_engine *engine);
void server_free(struct server *s);

/* Serves the verified image @m (kept by the caller) instead of plain blobs. */
struct manifest;
int server_set_manifest(struct server *s, const struct manifest *m);

/* Reads and dispatches what the kernel has queued. */
void server_drain_device(struct server *s);

/* Writes the stats line to the log. */
void server_log_stats(const struct server *s);
const struct serve_stats *server_stats(const struct server *s);

#endif
