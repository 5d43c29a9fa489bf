// SPDX-License-Identifier: MIT
/*
 * Test driver for the daemon's fetch engine against a real server:
 *   fetch-range CA_PEM TIMEOUT_S URL            prints the blob size
 *   fetch-range CA_PEM TIMEOUT_S URL OFF LEN... writes each range to stdout
 * URL may be a comma-separated list of mirrors of the blob.
 * Ranges are fetched concurrently, written in order. Exit 1 on any error,
 * after the engine's reason on stderr. With FETCH_RANGE_TRACE set, prints
 * "done N" to stderr as range N (from 1) completes. FETCH_RANGE_WAIT=1: wait
 * while every mirror is down (the daemon's erofs.onerror=wait);
 * FETCH_RANGE_STALL=SECONDS: cut off an attempt without a byte for that long.
 * FETCH_RANGE_OPTIONAL=1: the probe is of an optional file (absent_ok).
 * FETCH_RANGE_MULTI=1: the ranges (in order, apart) go as one FETCH_RANGES
 * request; with FETCH_RANGE_TRACE, "part N" as part N is whole.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "fetch.h"
#include "log.h"

struct job {
	struct fetch_request req;
	int index, done, err;
};

static void on_done(struct fetch_request *req, int err, const char *why)
{
	struct job *j = req->ctx;

	j->done = 1;
	j->err = err;
	if (j->index && getenv("FETCH_RANGE_TRACE"))
		fprintf(stderr, "done %d\n", j->index);
	if (err)
		fprintf(stderr, "fetch-range: %s: %s\n", req->url, why);
}

static void on_part(struct fetch_request *req, unsigned int i)
{
	(void)req;
	if (getenv("FETCH_RANGE_TRACE"))
		fprintf(stderr, "part %u\n", i + 1);
}

static void run_until_done(struct fetch_engine *e, struct job *jobs, int n)
{
	int i, pending;

	do {
		fetch_engine_wait(e, -1, 1000);
		fetch_engine_run(e);
		for (pending = 0, i = 0; i < n; i++)
			pending += !jobs[i].done;
	} while (pending);
}

/* All the ranges in one request; their bytes go out in order. */
static int multi(struct fetch_engine *e, const char *url, uint64_t size,
		 int n, char **argv)
{
	struct fetch_part *parts = calloc((size_t)n, sizeof(*parts));
	struct job j = { .index = 1 };
	int i, ret = 1;

	if (!parts)
		return 1;
	for (i = 0; i < n; i++) {
		parts[i].off = strtoull(argv[2 * i], NULL, 10);
		parts[i].len = strtoull(argv[2 * i + 1], NULL, 10);
		parts[i].buf = malloc(parts[i].len ? parts[i].len : 1);
		if (!parts[i].buf)
			goto out;
	}
	j.req.kind = FETCH_RANGES;
	j.req.url = url;
	j.req.parts = parts;
	j.req.nparts = (unsigned int)n;
	j.req.blob_size = size;
	j.req.part_done = on_part;
	j.req.done = on_done;
	j.req.ctx = &j;
	if (fetch_submit(e, &j.req)) {
		fprintf(stderr, "fetch-range: the ranges are refused\n");
		goto out;
	}
	run_until_done(e, &j, 1);
	/* the parts that are whole, even of a request that failed */
	for (i = 0; i < n && parts[i].got == parts[i].len; i++)
		if (fwrite(parts[i].buf, 1, parts[i].len, stdout) != parts[i].len)
			goto out;
	ret = j.err || i < n;
out:
	for (i = 0; i < n; i++)
		free(parts[i].buf);
	free(parts);
	return ret;
}

static unsigned char *read_all(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	unsigned char *buf = malloc(1 << 22);

	if (!f || !buf)
		exit(2);
	*len = fread(buf, 1, (1 << 22) - 1, f);
	buf[*len] = 0;
	fclose(f);
	return buf;
}


int main(int argc, char **argv)
{
	struct fetch_options o = { 0 };
	struct fetch_engine *e = NULL;
	struct job *jobs = NULL;
	unsigned char *ca;
	size_t ca_len;
	const char *url;
	int i, n, ret = 1;

	if (argc < 4 || (argc > 4 && (argc - 4) % 2)) {
		fprintf(stderr, "usage: fetch-range CA TIMEOUT URL [OFF LEN]...\n");
		return 2;
	}
	log_open();
	ca = read_all(argv[1], &ca_len);
	o.ca_pem = ca;
	o.ca_pem_len = ca_len;
	o.timeout_s = (unsigned int)atoi(argv[2]);
	o.base_url = argv[3];
	o.connections = 4;
	o.wait = getenv("FETCH_RANGE_WAIT") != NULL;
	if (getenv("FETCH_RANGE_STALL"))
		o.stall_s = (unsigned int)atoi(getenv("FETCH_RANGE_STALL"));
	n = (argc - 4) / 2;
	jobs = calloc((size_t)n + 1, sizeof(*jobs));
	if (!jobs || fetch_engine_new(&e, &o))
		goto out;
	url = strchr(argv[3], ',') ? fetch_engine_base(e) : argv[3];

	/* The probe first: ranges need the blob size. */
	jobs[0].req.kind = FETCH_PROBE;
	jobs[0].req.url = url;
	jobs[0].req.done = on_done;
	jobs[0].req.ctx = &jobs[0];
	jobs[0].req.absent_ok = getenv("FETCH_RANGE_OPTIONAL") != NULL;
	if (fetch_submit(e, &jobs[0].req))
		goto out;
	run_until_done(e, jobs, 1);
	if (jobs[0].err)
		goto out;
	if (!n) {
		printf("%llu\n", (unsigned long long)jobs[0].req.size);
		ret = 0;
		goto out;
	}
	if (getenv("FETCH_RANGE_MULTI")) {
		ret = multi(e, url, jobs[0].req.size, n, argv + 4);
		n = 0;
		goto out;
	}
	for (i = 1; i <= n; i++) {
		struct fetch_request *r = &jobs[i].req;

		jobs[i].index = i;
		r->kind = FETCH_RANGE;
		r->url = url;
		r->off = strtoull(argv[4 + 2 * (i - 1)], NULL, 10);
		r->len = strtoull(argv[5 + 2 * (i - 1)], NULL, 10);
		r->blob_size = jobs[0].req.size;
		r->buf = malloc(r->len ? r->len : 1);
		r->done = on_done;
		r->ctx = &jobs[i];
		if (!r->buf || fetch_submit(e, r)) {
			jobs[i].done = 1;
			jobs[i].err = 1;
		}
	}
	run_until_done(e, jobs + 1, n);
	ret = 0;
	for (i = 1; i <= n; i++) {
		if (jobs[i].err)
			ret = 1;
		else if (fwrite(jobs[i].req.buf, 1, jobs[i].req.len, stdout) !=
			 jobs[i].req.len)
			ret = 1;
	}
out:
	for (i = 1; jobs && i <= n; i++)
		free(jobs[i].req.buf);
	free(jobs);
	fetch_engine_free(e);
	free(ca);
	return ret;
}
