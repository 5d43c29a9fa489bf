/* SPDX-License-Identifier: MIT */
/*
 * Streaming what boot will read before it asks: the ranges of a prefetch
 * list (docs/format.md), fetched in first-touch order as a few large jobs
 * through serve.c, so every byte is checked and handed to the kernel (or
 * the RAM store) exactly as on-demand bytes are. On-demand READs go first:
 * a batch of jobs starts only while the network has a connection to spare
 * besides one kept free for READs, at most PREFETCH_JOBS batches at once,
 * each at most PREFETCH_JOB_MAX bytes, so prefetch holds at most their
 * buffers. A READ inside a job under way waits for it (serve.c joins it).
 *
 * 2 x 1.5 MiB keeps a Debian boot with a record within 8 MiB of RSS
 * (make bench: 4.6 MiB plain, 5.7 MiB verified; 2 x 4 MiB took 9.7 and
 * 12.4 MiB) for 36 and 59 requests instead of 22 and 23.
 */
#ifndef LAZYROOT_PREFETCH_H
#define LAZYROOT_PREFETCH_H

#include <stdint.h>

#define PREFETCH_JOB_MAX (1536ULL << 10)
#define PREFETCH_JOBS 2
/*
 * Ranges closer than this are always fetched as one: a byte costs less than
 * a request. Wider gaps are bridged too, smallest first, while the bytes
 * bridged stay within 1/PREFETCH_EXTRA of the blob's listed bytes: few
 * requests for a bounded cost in bytes.
 */
#define PREFETCH_GAP (64ULL << 10)
#define PREFETCH_EXTRA 5

struct prefetch;
struct prefetch_list;
struct server;
struct blob;
struct fetch_engine;
struct manifest;

int prefetch_new(struct prefetch **out, struct server *s,
		 struct fetch_engine *e);
void prefetch_free(struct prefetch *p);

/*
 * Fetches <base>/<fsid>.prefetch (a plain image's list) once the kernel has
 * opened a blob: none there is no prefetch, quietly (a 404 is no mirror's
 * failure); a bad one costs one warning.
 */
void prefetch_fetch_list(struct prefetch *p, const char *fsid);

/* Uses @l (its ranges now @p's) as the list; @from names it for the log. */
void prefetch_use_list(struct prefetch *p, struct prefetch_list *l,
		       const char *from);

/*
 * The prefetch table of verified manifest @m (blob 0 named @fsid, the
 * others by their tags) as a list; an empty one without a table.
 * Returns 0 or -ENOMEM.
 */
int prefetch_list_from_manifest(struct prefetch_list *l,
				const struct manifest *m, const char *fsid);

/* Blob @b was opened / closed: its ranges can start / must stop. */
void prefetch_opened(struct prefetch *p, struct blob *b);
void prefetch_closed(struct prefetch *p, struct blob *b);

/* A job of serve_prefetch() ended (err: -errno, some of it failed). */
void prefetch_job_done(struct prefetch *p, void *batch, int err);

/* The list is still on its way, or jobs are left or under way. */
int prefetch_busy(const struct prefetch *p);

/* Starts what may start now. */
void prefetch_pump(struct prefetch *p);

#endif
