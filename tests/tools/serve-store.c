// SPDX-License-Identifier: MIT
/*
 * Drives the daemon's request loop with a disk store (erofs.cache=), as
 * serve-harness does without one: a socket pair stands in for
 * /dev/cachefiles, memfds for the kernel's anon fds, a real server for the
 * mirrors.
 *   serve-store CA MIRRORS FSID NAME HEX|- STORE_DIR PLAIN [READS]
 * HEX: the manifest's sha256 (a verified image), or - (a plain image at
 * MIRRORS/FSID, with FSID.sha256). NAME is the blob to open (the fsid, or
 * a device tag), PLAIN its plain bytes. The
 * blob is READ from its start in 64 KiB pieces, each compared with PLAIN;
 * READS of them (default: all). With SERVE_STORE_GO=FILE set, it says
 * "serve-store: paused" after half of them and goes on once FILE exists.
 * With SERVE_STORE_MAY_FAIL set a READ may fail, but what it leaves must
 * be PLAIN's bytes or nothing (zeros); the failed READs are counted.
 * Says "serve-store: reads done" before it closes the store (which waits
 * for its writer), then the stats and the check tally; exits 1 on any
 * failed check.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#include "check.h"
#include "config.h"
#include "fake-cachefiles.h"
#include "fetch.h"
#include "log.h"
#include "manifest.h"
#include "serve.h"
#include "verified.h"

#define PIECE 65536

static unsigned char *slurp(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	unsigned char *buf;
	long n;

	if (!f || fseek(f, 0, SEEK_END) || (n = ftell(f)) < 0 ||
	    fseek(f, 0, SEEK_SET))
		abort();
	buf = malloc((size_t)n + 1);
	if (!buf || fread(buf, 1, (size_t)n, f) != (size_t)n)
		abort();
	fclose(f);
	*len = (size_t)n;
	return buf;
}

static int same(int fd, const unsigned char *want, uint64_t off, size_t len,
		unsigned char *got)
{
	return pread(fd, got, len, (off_t)off) == (ssize_t)len &&
	       !memcmp(got, want + off, len);
}

/*
 * Pumps until [off, off + len) of @fd is PLAIN's (read-ahead may move the
 * counters first), an error is counted, or 15 s pass.
 */
static int await_bytes(int fd, const unsigned char *want, uint64_t off,
		       size_t len, unsigned char *got, unsigned long long e)
{
	time_t end = time(NULL) + 15;

	while (time(NULL) < end) {
		if (same(fd, want, off, len, got))
			return 1;
		if (server_stats(fk_srv)->errors > e)
			return 0;
		fk_pump();
	}
	return 0;
}

int main(int argc, char **argv)
{
	struct config cfg;
	struct fetch_options fo = { 0 };
	struct manifest *m = NULL;
	struct fetch_engine *engine;
	const struct serve_stats *st;
	const char *go = getenv("SERVE_STORE_GO");
	int may_fail = getenv("SERVE_STORE_MAY_FAIL") != NULL;
	unsigned long failed = 0;
	unsigned char *ca, *plain, *got;
	char why[2048], expect[64];
	size_t ca_len, plen;
	unsigned long reads, n, i;
	uint32_t id = 1;
	time_t end;
	int fd;

	if (argc != 8 && argc != 9) {
		fprintf(stderr, "usage: serve-store CA MIRRORS FSID NAME HEX|- STORE_DIR PLAIN [READS]\n");
		return 2;
	}
	log_open();
	ca = slurp(argv[1], &ca_len);
	plain = slurp(argv[7], &plen);
	config_init(&cfg);
	snprintf(cfg.url, sizeof(cfg.url), "%s", argv[2]);
	snprintf(cfg.fsid, sizeof(cfg.fsid), "%s", argv[3]);
	snprintf(cfg.store_dir, sizeof(cfg.store_dir), "%s", argv[6]);
	fo.base_url = cfg.url;
	fo.ca_pem = ca;
	fo.ca_pem_len = ca_len;
	fo.timeout_s = 10;
	fo.connections = 4;
	if (fetch_engine_new(&engine, &fo))
		return 2;
	if (strcmp(argv[5], "-") &&
	    verified_load_manifest(engine, argv[3], argv[5], NULL, &m, why,
				   sizeof(why))) {
		fprintf(stderr, "serve-store: %s\n", why);
		return 1;
	}
	if (fk_start(&cfg, engine, m))
		return 2;
	st = server_stats(fk_srv);

	fd = memfd_create("blob", 0);
	fk_send_open(id++, 7, argv[4], fd);
	snprintf(expect, sizeof(expect), "copen 1,%zu", plen);
	CHECK_STR(fk_await_copen(), expect);

	n = (plen + PIECE - 1) / PIECE;
	reads = argc == 9 ? strtoul(argv[8], NULL, 10) : n;
	if (reads > n)
		reads = n;
	got = malloc(PIECE);
	for (i = 0; i < reads; i++) {
		unsigned long long e = st->errors;
		uint64_t off = (uint64_t)i * PIECE;
		size_t len = plen - off < PIECE ? plen - off : PIECE;

		if (go && i == reads / 2) {
			printf("serve-store: paused\n");
			fflush(stdout);
			while (access(go, F_OK))
				usleep(20000);
		}
		fk_send_read(id++, 7, off, PIECE);
		if (!await_bytes(fd, plain, off, len, got, e) && may_fail &&
		    st->errors > e) {
			size_t k;

			failed++;
			/* the memfd ends where the last write did: zeros past it */
			memset(got, 0, len);
			CHECK(pread(fd, got, len, (off_t)off) >= 0);
			for (k = 0; k < len && (!got[k] || got[k] == plain[off + k]); k++)
				;
			CHECK(k == len);
			continue;
		}
		CHECK(same(fd, plain, off, len, got));
		CHECK(st->errors == e);
	}
	printf("serve-store: reads done, %lu failed\n", failed);
	fflush(stdout);
	/* read-ahead still under way ends first: nothing left to the exit */
	for (end = time(NULL) + 15; fetch_engine_busy(engine) && time(NULL) < end;)
		fk_pump();
	free(got);
	server_log_stats(fk_srv);
	fk_stop();
	manifest_free(m);
	fetch_engine_free(engine);
	free(plain);
	free(ca);
	return check_report("serve-store");
}
