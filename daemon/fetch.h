/* SPDX-License-Identifier: MIT */
/*
 * HTTPS fetching of blob sizes and byte ranges, many at once over a pool of
 * kept-alive connections (libcurl multi), with bounded retries.
 */
#ifndef LAZYROOT_FETCH_H
#define LAZYROOT_FETCH_H

#include <stddef.h>
#include <stdint.h>

struct fetch_engine;
struct fetch_attempt;

#define FETCH_MIRRORS_MAX 8		/* URL_MIRRORS_MAX */
#define FETCH_VALIDATOR_MAX 160

/*
 * What each mirror said a file is, so that later ranges come from the same
 * file (plain images): the first answer of a mirror sets its validator (a
 * strong ETag, else Last-Modified; "" if it sent neither), every later
 * range request to it carries it as If-Range. An answer with another one
 * means the file changed under the same name on that mirror: the engine
 * logs that once, sets its bit in @changed and uses it no more for
 * requests carrying these validators.
 */
struct fetch_validators {
	char v[FETCH_MIRRORS_MAX][FETCH_VALIDATOR_MAX];	/* "ETag: ..." or "Last-Modified: ..." */
	uint32_t seen;		/* v[i] is set */
	uint32_t changed;
};

enum fetch_kind {
	FETCH_PROBE,	/* learn the blob size with Range: bytes=0-0 */
	FETCH_RANGE,	/* fetch [off, off+len) into buf */
	FETCH_RANGES,	/* fetch each of parts[] into its buf, in one request */
};

/* At most this many ranges in one FETCH_RANGES request (Apache takes 200). */
#define FETCH_PARTS_MAX 64

/* One range of a FETCH_RANGES request. */
struct fetch_part {
	uint64_t off, len;	/* set by the caller: in order, apart, len > 0 */
	unsigned char *buf;	/* len bytes */
	uint64_t got;		/* the engine's: [off, off + got) are in buf */
};

/* True counts of the work a set of requests caused. */
struct fetch_counts {
	unsigned long long requests;	/* HTTP requests sent */
	unsigned long long bytes;	/* body bytes of the answers used */
	unsigned long long retries;	/* further attempts after a failed one */
	unsigned long long failures;	/* requests given up on */
};

struct fetch_request {
	/* Set by the caller; url and buf must live until done() is called. */
	enum fetch_kind kind;
	const char *url;
	uint64_t off, len, blob_size;	/* FETCH_RANGE; blob_size also FETCH_RANGES */
	unsigned char *buf;		/* FETCH_RANGE: len bytes */
	/*
	 * FETCH_RANGES: the ranges, and part_done(req, i) as soon as part i
	 * holds all its checked bytes (before done(), which then fails only
	 * the parts not whole). A mirror that does not answer several ranges
	 * at once (HTTP 200, a broken multipart body) is asked one range at a
	 * time from then on: one line says so.
	 */
	struct fetch_part *parts;
	unsigned int nparts;
	void (*part_done)(struct fetch_request *req, unsigned int i);
	/*
	 * Called once: err 0 with size (FETCH_PROBE) or buf filled with
	 * exactly len checked bytes (FETCH_RANGE); else a negative errno
	 * (-ENOENT, -EACCES, -ETIMEDOUT, -EPROTO, -EIO, -ESTALE) and a reason. A range
	 * cut off is asked again from where it stopped when the same mirror
	 * serves the retry, from its start on another: all of buf comes from
	 * @mirror.
	 */
	void (*done)(struct fetch_request *req, int err, const char *why);
	void *ctx;
	/*
	 * Mirrors (bit i: mirror i) this request must not use, e.g. those that
	 * served bytes failing verification. All set: the request fails.
	 */
	uint32_t skip_mirrors;
	/*
	 * Ties the request to the file earlier answers came from (NULL:
	 * nothing does); -ESTALE when every mirror's copy changed.
	 */
	struct fetch_validators *validators;
	/*
	 * Fails after the engine's time limit without an answer even when the
	 * engine waits (a boot that may go on from a local copy instead).
	 */
	int no_wait;
	/*
	 * An optional file (a prefetch list): a 404 is the answer, that it is
	 * not there; no other mirror is asked and none counts as failing.
	 */
	int absent_ok;
	/*
	 * Counted into as the engine works (NULL: only the engine's own
	 * totals): e.g. one blob's share of the traffic.
	 */
	struct fetch_counts *counts;
	uint64_t size;			/* FETCH_PROBE result */
	/* the mirror that answered; in part_done(), the one part i is from */
	unsigned int mirror;

	struct fetch_attempt *priv;	/* the engine's */
};

struct fetch_options {
	/*
	 * Base URL, or several comma-separated (mirrors, tried in order):
	 * requests for URLs under the first are also tried on the others.
	 * Host names in them are resolved once, at start.
	 */
	const char *base_url;
	const unsigned char *ca_pem;	/* CA bundle, kept in memory */
	size_t ca_pem_len;
	/*
	 * How long a request may fail on every mirror without a byte of
	 * progress (counted from its first transfer, not from when it was
	 * queued): then it fails (-ETIMEDOUT, -EIO), or with @wait set the
	 * engine says once that it waits, and retries until a mirror answers.
	 */
	unsigned int timeout_s;
	int wait;
	/* An attempt without a byte for this long is cut off (0: 10 s). */
	unsigned int stall_s;
	/* Transfers at once; more requests queue (their clock not running). */
	unsigned int connections;
	int verbose;
};

struct fetch_stats {
	unsigned long long attempts;	/* HTTP requests sent */
	unsigned long long bytes;	/* checked body bytes received */
	unsigned long long retries;
	unsigned long long failures;	/* requests given up on */
};

/* What a mirror is doing, as lazyrootctl status shows it. */
enum fetch_mirror_state {
	MIRROR_UNUSED,		/* not asked yet */
	MIRROR_UP,		/* its last answer was used */
	MIRROR_FAILING,		/* its last attempt failed; requests retry */
	MIRROR_WAITING,		/* every mirror down: reads wait for one */
	MIRROR_GIVEN_UP,	/* every mirror down past the time limit: reads fail */
};

struct fetch_mirror_status {
	const char *url;
	enum fetch_mirror_state state;
	unsigned long long requests, bytes, failures;	/* attempts on it */
	const char *last_error;		/* "" if none */
};

/* The state's name: "unused", "up", "failing", "waiting", "given-up". */
const char *fetch_mirror_state_name(enum fetch_mirror_state st);

/* Returns 0 or -errno after one line saying what failed. */
int fetch_engine_new(struct fetch_engine **out, const struct fetch_options *o);
void fetch_engine_free(struct fetch_engine *e);

/*
 * Closes every connection (nothing may be under way; -EBUSY otherwise):
 * a process forked after this starts with none of another's TLS sessions.
 * The pinned addresses stay. Returns 0 or -errno.
 */
int fetch_engine_forget(struct fetch_engine *e);

/* Starts @req; done() is called later from fetch_engine_run(). */
int fetch_submit(struct fetch_engine *e, struct fetch_request *req);

/*
 * Sleeps until network activity, a due retry, @fd being readable, a signal
 * or at most @max_ms. Returns 1 when @fd is readable, else 0.
 */
int fetch_engine_wait(struct fetch_engine *e, int fd, int max_ms);

/* One more fd for fetch_engine_wait_fds(): what to wait for, what came. */
struct fetch_waitfd {
	int fd;
	unsigned char want_in, want_out;	/* set by the caller */
	unsigned char in, out;			/* set by the wait */
};

#define FETCH_WAITFD_MAX 16

/*
 * As fetch_engine_wait() for up to FETCH_WAITFD_MAX fds (more are
 * ignored). Returns 1 when any of them is ready (see their in/out), else 0.
 */
int fetch_engine_wait_fds(struct fetch_engine *e, struct fetch_waitfd *fds,
			  unsigned int nfds, int max_ms);

/*
 * Transfers that would start at once if a request came now: none while
 * every connection is busy or requests are queued. Background work (the
 * prefetch) asks this so that it never makes a READ queue behind it.
 */
unsigned int fetch_engine_free_slots(const struct fetch_engine *e);

/* Moves transfers along and calls done() for the finished ones. */
void fetch_engine_run(struct fetch_engine *e);

const struct fetch_stats *fetch_engine_stats(const struct fetch_engine *e);

/* Requests not yet done (under way, queued or waiting to be retried). */
int fetch_engine_busy(const struct fetch_engine *e);

/* The first base URL, without a trailing '/'. */
const char *fetch_engine_base(const struct fetch_engine *e);

/* How many base URLs (mirrors) there are, and the i-th one. */
unsigned int fetch_engine_mirrors(const struct fetch_engine *e);
const char *fetch_engine_mirror(const struct fetch_engine *e, unsigned int i);

/* Fills @out for mirror @i (< fetch_engine_mirrors()). */
void fetch_engine_mirror_status(const struct fetch_engine *e, unsigned int i,
				struct fetch_mirror_status *out);

/*
 * Mirror @i served bytes that failed verification: later requests start at
 * another mirror, as if @i had failed them.
 */
void fetch_engine_distrust(struct fetch_engine *e, unsigned int i);

#endif
