/* SPDX-License-Identifier: MIT */
/*
 * An image source: where the bytes of a blob come from and how they are
 * checked before anything is written. Two exist: plain images (byte ranges
 * of the blob file, checked for status, range and length; source_plain.c)
 * and verified images (zstd chunks of packs, each checked against the
 * manifest; source_verified.c). serve.c drives one through these ops and
 * never asks which it is.
 */
#ifndef LAZYROOT_SOURCE_H
#define LAZYROOT_SOURCE_H

#include <stddef.h>
#include <stdint.h>

#include "config.h"
#include "fetch.h"
#include "url.h"

struct source;
struct store;
struct serve_stats;

/*
 * One blob's true counts (lazyrootctl status), each kept where the work
 * is done: the network's by fetch.c (through fetch_request.counts), the
 * rest by serve.c and the source.
 */
struct blob_stats {
	struct fetch_counts net;	/* its requests, bytes, retries, failures */
	unsigned long long reads;	/* kernel reads */
	unsigned long long errors;	/* kernel reads answered with an error */
	unsigned long long bytes_to_kernel;	/* bytes handed to the kernel */
	unsigned long long verify_failures;	/* chunks failing their digest */
	unsigned long long store_bad;	/* reads back from the disk failing their check */
};

/* A blob as the core and the source share it (serve.c owns it). */
struct blob {
	char name[URL_NAME_MAX + 1];	/* fsid or device tag, checked */
	/* where its bytes come from: the blob, or the manifest of a verified image */
	char url[CONFIG_URL_MAX + URL_NAME_MAX + 2];
	uint64_t size;
	const void *src_data;		/* the source's, e.g. its manifest entry */
	struct store *store;		/* pages kept across boots, or NULL */
	struct fetch_validators validators;	/* plain images: which file */
	struct blob_stats stats;
};

/*
 * One fetch of checked bytes [off, off + len) of a blob into @buf (page_up
 * of len bytes; off page-aligned, len clipped to the blob). The source
 * reports each run of bytes it has checked with job_checked() and then the
 * end with job_done(), once, from fetch_engine_run() or from its fetch().
 */
struct job {
	struct blob *blob;
	uint64_t off, len;
	unsigned char *buf;
	void *src_priv;			/* the source's, for this job */
};

/* Bytes [off, off + len) of @j's buffer passed every check. */
void job_checked(struct job *j, uint64_t off, uint64_t len);
/*
 * The source is finished with @j: err 0, or -errno with the reason (one
 * line: which URL or chunk and why) when some of it failed.
 */
void job_done(struct job *j, int err, const char *why);

/*
 * The answer of open(): @b's size is known (err 0) or it cannot be opened
 * (-errno, @why says why, for the log line "cannot open blob NAME: WHY").
 */
void blob_opened(struct blob *b, int err, const char *why);

/*
 * Keeps @b's pages in @store_dir across boots as the copy of content
 * @sha256_hex (store_open() @flags: STORE_SUMS when nothing else checks
 * them on read back), fetched from b->url; on failure logs why and keeps
 * nothing.
 */
void blob_keep(struct blob *b, const char *store_dir, const char *sha256_hex,
	       unsigned int flags);

struct source_ops {
	/*
	 * Learns the size of @b (named by the kernel: b->name, checked to be
	 * a plain file name), sets b->url, and with a @store_dir learns what
	 * the blob is and calls blob_keep(); answers with blob_opened(),
	 * maybe at once.
	 */
	void (*open)(struct source *src, struct blob *b, const char *store_dir);
	/* Widens [*off, *end) to what is fetched and checked as one. */
	void (*extent)(const struct source *src, const struct blob *b,
		       uint64_t *off, uint64_t *end);
	/*
	 * Checks [off, off + len) of @b (what extent() gives) read back from
	 * the disk store at @buf, as fetched bytes are checked: 0, or -EBADMSG
	 * with the reason in @why. NULL: the store's own sums do.
	 */
	int (*check_stored)(const struct source *src, const struct blob *b,
			    const unsigned char *buf, uint64_t off,
			    uint64_t len, char *why, size_t why_size);
	/* Starts @j. Returns 0, or -errno (then job_done is not called). */
	int (*fetch)(struct source *src, struct job *j);
	/*
	 * Optional: jobs fetch() is given after plug() and before unplug()
	 * may wait for unplug() and go out together.
	 */
	void (*plug)(struct source *src);
	void (*unplug)(struct source *src);
	/* Frees what the source keeps for @j (after job_done). */
	void (*job_free)(struct job *j);
	void (*log_stats)(const struct source *src);
	void (*destroy)(struct source *src);
};

struct source {
	const struct source_ops *ops;
};

struct fetch_engine;
struct manifest;
struct server;

/* A server around any source (tests); it owns @src. Returns 0 or -ENOMEM. */
int server_new_source(struct server **out, const struct config *cfg,
		      struct fetch_engine *engine, struct source *src);

/* Blobs are <base>/<name> files on the server. Returns 0 or -ENOMEM. */
int source_plain_new(struct source **out, struct fetch_engine *e,
		     struct serve_stats *stats);
/* Blobs are those of manifest @m (kept by the caller). */
int source_verified_new(struct source **out, struct fetch_engine *e,
			const struct manifest *m, const char *fsid,
			struct serve_stats *stats);

#endif
