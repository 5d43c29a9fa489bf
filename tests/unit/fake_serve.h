/* SPDX-License-Identifier: MIT */
/*
 * The fakes that the unit tests of serve.c, and of what runs through it
 * (prefetch, fill, control), drive it with: a source whose jobs the test
 * finishes by hand and a kernel front end that records what the kernel was
 * answered. Every blob holds the same bytes (fake_byte()), so any range
 * handed over can be checked.
 */
#ifndef LAZYROOT_FAKE_SERVE_H
#define LAZYROOT_FAKE_SERVE_H

#include <stdint.h>

#include "frontend.h"
#include "source.h"

struct server;

#define FAKE_JOBS_MAX 64	/* more at once: fetch() fails with -ENOMEM */
#define FAKE_ANSWERS_MAX 32	/* answers recorded one by one; all are counted */
#define FAKE_ASKED_MAX 64	/* reads fake_read() remembers, to check their answers */

/* Byte @off of every blob of the fake source (below its size). */
unsigned char fake_byte(uint64_t off);
/* Fills @buf with bytes [off, off + len) of a blob. */
void fake_bytes(unsigned char *buf, uint64_t off, uint64_t len);

/* A blob the fake source has, at https://x/<name>. */
struct fake_blob {
	const char *name;
	uint64_t size;
};

struct fake_source {
	struct source src;		/* first: serve.c is given &src */
	const struct fake_blob *blobs;	/* ended by a NULL name; others are HTTP 404 */
	const char *fail_why;		/* the reason of a job fake_finish() fails */
	/*
	 * Jobs end as they start, whole, for a test about something else than
	 * fetching; else they wait in jobs[] for fake_finish().
	 */
	int at_once;
	struct job *jobs[FAKE_JOBS_MAX];	/* in start order */
	unsigned int njobs;
	/*
	 * fake_source_batches(): the source has plug/unplug; batch[i] is the
	 * plug (from 1) job i came in, 0 for none.
	 */
	unsigned int batch[FAKE_JOBS_MAX];
	unsigned int plugs;
	int plugged;
};

/* No jobs yet; @fs stays the caller's (the server's destroy() leaves it). */
void fake_source_init(struct fake_source *fs, const struct fake_blob *blobs,
		      const char *fail_why);
/* The source takes jobs in batches, as a plain image's does. */
void fake_source_batches(struct fake_source *fs);
/* Ends job @i: all its bytes the blob's and checked, or none and -EIO. */
void fake_finish(struct fake_source *fs, unsigned int i, int ok);

struct fake_fe {
	struct fe_object o;		/* first: serve.c is given &o */
	struct blob *blob;		/* opened(): the blob, or NULL */
	int64_t size;			/* opened(): its size, or the error */
	int opened, released;
	unsigned int writes;
	uint64_t written;		/* bytes handed over */
	uint64_t bad;			/* of those, not the blob's (zeros past its end) */
	/*
	 * Called after each write with that write's bad bytes, if set: for a
	 * test that checks every write (check.h's counters are its own).
	 */
	void (*on_write)(struct fake_fe *fe, uint64_t off, uint64_t len,
			 uint64_t bad);
	unsigned int answers;		/* read_done() calls */
	unsigned int errors;		/* of those, failed or not the bytes asked */
	/* the first FAKE_ANSWERS_MAX answers, in order */
	uint64_t tag[FAKE_ANSWERS_MAX];
	int err[FAKE_ANSWERS_MAX];
	int data_ok[FAKE_ANSWERS_MAX];	/* the bytes of the read fake_read() asked */
	struct {
		uint64_t tag, off, len;
	} asked[FAKE_ASKED_MAX];
	unsigned int nasked;
};

/* Nothing recorded, no on_write. */
void fake_fe_init(struct fake_fe *fe);
/*
 * serve_read() of [off, off + len) of fe->blob as @tag, remembered so
 * that its answer's bytes are checked (an answer to a tag never asked
 * here is not data_ok).
 */
void fake_read(struct server *s, struct fake_fe *fe, uint64_t off,
	       uint64_t len, uint64_t tag);

#endif
