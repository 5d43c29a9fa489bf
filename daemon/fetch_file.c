// SPDX-License-Identifier: MIT
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fetch_file.h"

static void file_failed(struct fetch_file *f, int err, const char *why)
{
	free(f->req.buf);
	f->req.buf = NULL;
	f->done(f, err, NULL, 0, why);
}

static void file_done(struct fetch_request *req, int err, const char *why)
{
	struct fetch_file *f = req->ctx;
	char line[128];

	if (err) {
		file_failed(f, err, why);
		return;
	}
	if (req->kind == FETCH_RANGE) {
		req->buf[req->len] = '\0';
		f->done(f, 0, req->buf, req->len, "");
		return;
	}
	if (req->size < f->min || req->size > f->max) {
		snprintf(line, sizeof(line), "%llu bytes, not %llu..%llu",
			 (unsigned long long)req->size,
			 (unsigned long long)f->min, (unsigned long long)f->max);
		file_failed(f, -EBADMSG, line);
		return;
	}
	req->kind = FETCH_RANGE;
	req->off = 0;
	req->len = req->blob_size = req->size;
	req->buf = malloc(req->size + 1);
	if (!req->buf) {
		file_failed(f, -ENOMEM, "out of memory");
		return;
	}
	err = fetch_submit(f->engine, req);
	if (err) {
		snprintf(line, sizeof(line), "cannot start a request: %s",
			 strerror(-err));
		file_failed(f, err, line);
	}
}

int fetch_file_start(struct fetch_engine *e, struct fetch_file *f,
		     const char *url, uint32_t skip)
{
	memset(&f->req, 0, sizeof(f->req));
	f->engine = e;
	f->req.kind = FETCH_PROBE;
	f->req.url = url;
	f->req.skip_mirrors = skip;
	f->req.no_wait = f->no_wait;
	f->req.absent_ok = f->optional;
	f->req.done = file_done;
	f->req.ctx = f;
	return fetch_submit(e, &f->req);
}

struct waiting {
	struct fetch_file f;
	int done, err;
	unsigned char *data;
	uint64_t len;
	char *why;
	size_t why_size;
};

static void wait_done(struct fetch_file *f, int err, unsigned char *data,
		      uint64_t len, const char *why)
{
	struct waiting *w = f->ctx;

	w->done = 1;
	w->err = err;
	w->data = data;
	w->len = len;
	snprintf(w->why, w->why_size, "%s", why);
}

int fetch_file_wait(struct fetch_engine *e, const char *url, uint32_t skip,
		    uint64_t min, uint64_t max, int no_wait, unsigned char **data,
		    uint64_t *len, unsigned int *mirror, char *why,
		    size_t why_size)
{
	struct waiting w = {
		.f = { .min = min, .max = max, .no_wait = no_wait,
		       .done = wait_done },
		.why = why, .why_size = why_size,
	};
	int ret;

	w.f.ctx = &w;
	ret = fetch_file_start(e, &w.f, url, skip);
	if (ret) {
		snprintf(why, why_size, "cannot start a request: %s",
			 strerror(-ret));
		return ret;
	}
	while (!w.done) {
		fetch_engine_wait(e, -1, 1000);
		fetch_engine_run(e);
	}
	*data = w.data;
	*len = w.len;
	*mirror = w.f.req.mirror;
	return w.err;
}
