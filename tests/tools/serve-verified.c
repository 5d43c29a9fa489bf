// SPDX-License-Identifier: MIT
/*
 * Drives the daemon's request loop for a verified image, as serve-harness
 * does for a plain one: a socket pair stands in for /dev/cachefiles,
 * memfds for the kernel's anon fds, a real server for the mirrors.
 *   serve-verified CA MIRRORS FSID HEX|- PLAIN_DIR BAD_CHUNKS [KEY]
 * PLAIN_DIR holds each blob's plain bytes as PLAIN_DIR/<tag> (from
 * lazyroot-pack --unpack). Every chunk of every blob is READ on its own;
 * BAD_CHUNKS is how many must fail (no byte written), all others must land
 * byte for byte. Prints the check tally; exits 1 on any failed check.
 * With SERVE_PREFETCH=1 the manifest's prefetch table is streamed first:
 * once each blob is open and prefetch is done, every chunk is either in
 * the anon fd byte for byte or not there at all, before any READ.
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

#include "cachefiles.h"
#include "check.h"
#include "config.h"
#include "fake-cachefiles.h"
#include "fetch.h"
#include "log.h"
#include "manifest.h"
#include "serve.h"
#include "signature.h"
#include "status.h"
#include "verified.h"


/* The requests for blob @name so far (its prefetch, before any READ). */
static void print_requests(const char *name)
{
	struct status st;
	unsigned int i;

	CHECK(!server_status(fk_srv, &st));
	for (i = 0; i < st.nblobs; i++)
		if (!strcmp(st.blobs[i].name, name))
			printf("serve-verified: blob %.16s prefetched in %llu requests\n",
			       name, st.blobs[i].st.net.requests);
	free(st.blobs);
}

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

int main(int argc, char **argv)
{
	struct config cfg;
	struct fetch_options fo = { 0 };
	struct manifest *m;
	struct signature_key *key = NULL;
	const struct serve_stats *st;
	unsigned char *ca;
	char why[2048], path[4096], expect[64];
	size_t ca_len;
	unsigned long failed = 0, want_failed, landed = 0, absent = 0;
	int prefetch;
	uint32_t b, r, id = 1;
	struct fetch_engine *engine;

	if (argc != 7 && argc != 8) {
		fprintf(stderr, "usage: serve-verified CA MIRRORS FSID HEX|- PLAIN_DIR BAD_CHUNKS [KEY]\n");
		return 2;
	}
	want_failed = strtoul(argv[6], NULL, 10);
	log_open();
	ca = slurp(argv[1], &ca_len);
	config_init(&cfg);
	snprintf(cfg.url, sizeof(cfg.url), "%s", argv[2]);
	snprintf(cfg.fsid, sizeof(cfg.fsid), "%s", argv[3]);
	fo.base_url = cfg.url;
	fo.ca_pem = ca;
	fo.ca_pem_len = ca_len;
	fo.timeout_s = 10;
	fo.connections = 4;
	if (fetch_engine_new(&engine, &fo))
		return 2;
	if (argc == 8) {
		size_t klen;
		unsigned char *pem = slurp(argv[7], &klen);

		pem[klen] = '\0';
		signature_key_parse(pem, klen, argv[7], &key); /* NULL: it said why */
		free(pem);
	}
	if ((argc == 8 && !key) ||
	    verified_load_manifest(engine, argv[3],
				   strcmp(argv[4], "-") ? argv[4] : NULL, key,
				   &m, why, sizeof(why))) {
		if (argc != 8 || key)
			fprintf(stderr, "serve-verified: %s\n", why);
		signature_key_free(key);
		fetch_engine_free(engine);
		free(ca);
		return 1;
	}
	if (fk_start(&cfg, engine, m))
		return 2;
	st = server_stats(fk_srv);
	prefetch = getenv("SERVE_PREFETCH") != NULL;
	if (prefetch)
		server_prefetch(fk_srv);

	for (b = 0; b < m->nblobs; b++) {
		const struct manifest_blob *blob = &m->blobs[b];
		unsigned char *plain, *got;
		size_t plen;
		int fd = memfd_create("blob", 0);

		snprintf(path, sizeof(path), "%s/%s", argv[5], blob->tag);
		plain = slurp(path, &plen);
		CHECK(plen == blob->size);
		/* blob 0 by the fsid, the others by their tag */
		fk_send_open(id, 100 + b, b ? blob->tag : argv[3], fd);
		snprintf(expect, sizeof(expect), "copen %u,%llu", id,
			 (unsigned long long)blob->size);
		CHECK_STR(fk_await_copen(), expect);
		id++;
		got = malloc(MANIFEST_CHUNK_MAX);
		if (prefetch) {
			time_t until = time(NULL) + 30;

			while (server_prefetching(fk_srv) && time(NULL) < until)
				fk_pump();
			CHECK(!server_prefetching(fk_srv));
			print_requests(b ? blob->tag : argv[3]);
			for (r = blob->first_ref; r < blob->first_ref + blob->nrefs; r++) {
				const struct manifest_chunk *c = &m->chunks[m->refs[r]];
				uint64_t off = m->ref_off[r];
				off_t data = lseek(fd, (off_t)off, SEEK_DATA);

				if ((data < 0 && errno == ENXIO) ||
				    (uint64_t)data >= off + c->size) {
					absent++;
					continue;
				}
				/* what is there is the chunk, whole */
				CHECK(pread(fd, got, c->size, (off_t)off) == (ssize_t)c->size);
				CHECK(!memcmp(got, plain + off, c->size));
				landed++;
			}
		}
		for (r = blob->first_ref; r < blob->first_ref + blob->nrefs; r++) {
			const struct manifest_chunk *c = &m->chunks[m->refs[r]];
			unsigned long long w = st->bytes_written, e = st->errors;
			uint64_t off = m->ref_off[r];

			fk_send_read(id++, 100 + b, off, c->size);
			fk_await_progress(w, e);
			if (st->errors > e) {
				/*
				 * Failed: nothing of it written (chunks around it
				 * that passed may have been).
				 */
				off_t data = lseek(fd, (off_t)off, SEEK_DATA);

				CHECK((data < 0 && errno == ENXIO) ||
				      (uint64_t)data >= off + c->size);
				failed++;
				continue;
			}
			CHECK(pread(fd, got, c->size, (off_t)off) == (ssize_t)c->size);
			CHECK(!memcmp(got, plain + off, c->size));
		}
		free(got);
		free(plain);
		/* An unknown tag is refused, its fd closed. */
		if (b == 0) {
			int fd2 = memfd_create("x", 0);

			fk_send_open(id, 999, "0000000000000000000000000000000000000000000000000000000000000000", fd2);
			snprintf(expect, sizeof(expect), "copen %u,-2", id++);
			CHECK_STR(fk_await_copen(), expect);
			CHECK(fcntl(fd2, F_GETFD) == -1 && errno == EBADF);
		}
	}
	CHECK(failed == want_failed);
	if (prefetch)
		printf("serve-verified: before any READ, %lu chunk(s) prefetched, %lu not there\n",
		       landed, absent);
	printf("serve-verified: %lu chunk(s) failed, %llu verified, %llu failed verification\n",
	       failed, st->chunks_verified, st->chunks_bad);
	server_log_stats(fk_srv);
	fk_stop();
	manifest_free(m);
	signature_key_free(key);
	fetch_engine_free(engine);
	free(ca);
	return check_report("serve-verified");
}
