/* SPDX-License-Identifier: MIT */
/*
 * The core between a kernel front end (frontend.h) and the network: open
 * blobs, READ planning (whole pages, joining fetches under way, sequential
 * read-ahead), the stores (erofs.cache= on disk, the RAM cache for NBD),
 * and an image source that fetches and checks bytes (source.h: plain or
 * verified). Nothing here
 * knows which front end or which source is in use.
 */
#ifndef LAZYROOT_SERVE_H
#define LAZYROOT_SERVE_H

#include <stddef.h>
#include <stdint.h>

#include "config.h"
#include "fetch.h"
#include "frontend.h"

struct server;
struct blob;
struct manifest;
struct record;
struct prefetch_list;

struct serve_stats {
	unsigned long long opens, reads, closes;
	unsigned long long bytes_written;
	unsigned long long bytes_from_disk;	/* of those, from the disk store */
	unsigned long long bytes_from_ram;	/* of those, from the RAM cache */
	unsigned long long errors;
	unsigned long long chunks_verified, chunks_bad;	/* verified images */
	unsigned long long store_bad;	/* disk store reads that failed their check */
};

/*
 * A server for a plain image, or for the verified image @m (kept by the
 * caller) when @m is not NULL. Returns 0 or -ENOMEM.
 */
int server_new(struct server **out, const struct config *cfg,
	       struct fetch_engine *engine, const struct manifest *m);
void server_free(struct server *s);

/*
 * Opens blob @name (@len bytes: the fsid, or an extra device's tag, as the
 * kernel names it; hostile input) for @o; answered by o->ops->opened().
 */
void serve_open(struct server *s, const char *name, size_t len,
		struct fe_object *o);

/*
 * Reads [off, off + len) of @b (hostile input: checked here); answered
 * once by read_done(..., @tag, ...) of @b's object.
 */
void serve_read(struct server *s, struct blob *b, uint64_t off, uint64_t len,
		uint64_t tag);

/*
 * Keeps up to @bytes of the pages handed to the kernel in RAM, for a front
 * end whose kernel side keeps no copy of its own (NBD: the page cache drops
 * pages under memory pressure). Blobs opened from then on use it, unless
 * they have a disk store.
 */
void server_keep_in_ram(struct server *s, uint64_t bytes);

/*
 * At most @bytes of fetch buffers at once (64 MiB unless set): further
 * reads wait in order for room, read-ahead beyond it is not started.
 */
void server_limit_inflight(struct server *s, uint64_t bytes);

/*
 * What the kernel has read so far (record.h), or NULL when there was no
 * memory for it.
 */
const struct record *server_record(const struct server *s);

struct trace;
struct status;

/* The boot's fetches and reads (trace.h), or NULL when there was no memory. */
const struct trace *server_trace(const struct server *s);

/*
 * The front end now serving (frontend->name), and with NBD the index of
 * each blob's device (NULL: cachefiles), for the status.
 */
void server_set_frontend(struct server *s, const char *name,
			 const int *nbd_index, unsigned int ndevs);

/*
 * A snapshot of the counters into @st; st->blobs is the caller's to
 * free() (its names point into the server: use it at once). 0 or -ENOMEM.
 */
int server_status(const struct server *s, struct status *st);

/* Streams the image's prefetch list, if it has one (prefetch.h). */
void server_prefetch(struct server *s);

/* Prefetch has work left: its list to fetch, or jobs to start or finish. */
int server_prefetching(const struct server *s);

/* Streams list @l (now the server's), named @from in the log. */
void server_prefetch_from(struct server *s, struct prefetch_list *l,
			  const char *from);

/*
 * Fetches [off, end) of @b (page-aligned) for prefetch: as read-ahead,
 * checked and handed over as any fetch; its end is told to prefetch.c.
 * Returns 0, -ENOSPC when the bytes would have nowhere to go (the RAM
 * store full or absent), -EAGAIN while fetch buffers are at their limit
 * (not started: ask again once a fetch ends), or another -errno. Its end
 * is told to prefetch_job_done() with @batch.
 */
int serve_prefetch(struct server *s, struct blob *b, uint64_t off,
		   uint64_t end, void *batch);

/*
 * Fetches started between serve_plug() and serve_unplug() may go to the
 * network together (a plain image's source asks a blob's ranges in one
 * request). serve_plug() returns 0 when the source cannot do that: each
 * fetch is then its own request, as ever.
 */
int serve_plug(struct server *s);
void serve_unplug(struct server *s);

/*
 * Fetches [off, end) of @b (page-aligned) for fill.c, as serve_prefetch()
 * does for prefetch.c; its end is told to fill_job_done().
 */
int serve_fill(struct server *s, struct blob *b, uint64_t off, uint64_t end);

/*
 * Fills the open blobs in the background at most @rate bytes a second once
 * no READ has needed the network for @quiet_ms (fill.h).
 */
void server_fill(struct server *s, uint64_t rate, unsigned int quiet_ms);

/* The fill, for its progress (fill_progress()), or NULL when it is off. */
struct fill;
const struct fill *server_filler(const struct server *s);

/* Starts fill jobs that may start now; the loop calls it at least once a second. */
void server_fill_pump(struct server *s);

/* Milliseconds since a READ last needed the network (since start: none yet). */
uint64_t server_quiet_ms(const struct server *s);

/*
 * Bytes the local copy may hold without erofs.cache= (the RAM store, or
 * the cachefiles cache in RAM; *@where names it), 0 with a disk store:
 * its disk is the operator's to size.
 */
uint64_t server_fill_room(const struct server *s, const char **where);

/* The kernel closed @b; its object is released once no fetch uses it. */
void serve_close(struct server *s, struct blob *b);

const char *blob_name(const struct blob *b);
uint64_t blob_size(const struct blob *b);

/*
 * A failure the user must see: counted, and @line (one line, already
 * logged by the caller) written to the error file (--error-file).
 */
void server_error(struct server *s, const char *line);

/* Writes the stats line to the log. */
void server_log_stats(const struct server *s);
const struct serve_stats *server_stats(const struct server *s);

#endif
