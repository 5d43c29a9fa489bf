/* SPDX-License-Identifier: MIT */
/*
 * A small whole file fetched into memory (NAME.sha256, a manifest, its
 * signature): its size is learnt first, so a file of the wrong size costs
 * one small request and no buffer.
 */
#ifndef LAZYROOT_FETCH_FILE_H
#define LAZYROOT_FETCH_FILE_H

#include <stdint.h>

#include "fetch.h"

struct fetch_file {
	struct fetch_request req;	/* req.mirror: who answered */
	struct fetch_engine *engine;
	uint64_t min, max;		/* sizes accepted */
	int no_wait;			/* as fetch_request.no_wait */
	int optional;			/* a 404 is an answer: fetch.h absent_ok */
	/*
	 * Called once: err 0 with @data (@len bytes, NUL-terminated, the
	 * caller's to free()), -EBADMSG for a file of another size (a mirror's
	 * fault), or another -errno for a request that failed on every mirror
	 * not skipped; @why says why.
	 */
	void (*done)(struct fetch_file *f, int err, unsigned char *data,
		     uint64_t len, const char *why);
	void *ctx;
};

/*
 * Starts fetching @url (which must live until done) from mirrors not in
 * @skip. Returns 0, or -errno (then done is not called).
 */
int fetch_file_start(struct fetch_engine *e, struct fetch_file *f,
		     const char *url, uint32_t skip);

/*
 * fetch_file_start() run to completion before anything else is served
 * (@no_wait: as fetch_request.no_wait).
 * Returns as done() would be called; @why gets the reason.
 */
int fetch_file_wait(struct fetch_engine *e, const char *url, uint32_t skip,
		    uint64_t min, uint64_t max, int no_wait, unsigned char **data,
		    uint64_t *len, unsigned int *mirror, char *why,
		    size_t why_size);

#endif
