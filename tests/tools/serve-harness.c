// SPDX-License-Identifier: MIT
/*
 * Drives the daemon's request loop (daemon/serve.c) without a kernel: a
 * SOCK_SEQPACKET pair stands in for /dev/cachefiles (one message per read,
 * copen replies come back on it) and memfds stand in for the kernel's anon
 * fds. The blob is fetched from a real HTTPS server.
 *   serve-harness CA_PEM BASE_URL LOCAL_COPY_OF_BLOB
 * BASE_URL/blob must be the file LOCAL_COPY_OF_BLOB; BASE_URL/nosuch must
 * not exist. Prints the check tally; exits 1 on any failed check.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cachefiles.h"
#include "check.h"
#include "config.h"
#include "fake-cachefiles.h"
#include "fetch.h"
#include "log.h"
#include "serve.h"

static unsigned char *blob;
static size_t blob_len;

static int same_as_blob(int fd, uint64_t off, uint64_t len)
{
	unsigned char *got = malloc(len);
	int ok;

	ok = pread(fd, got, len, (off_t)off) == (ssize_t)len &&
	     !memcmp(got, blob + off, len);
	free(got);
	return ok;
}

int main(int argc, char **argv)
{
	struct config cfg;
	struct fetch_options fo = { 0 };
	unsigned char *ca;
	struct fetch_engine *engine;
	int fd, fd2, fd3;
	FILE *f;
	char expect[64], line[512] = "";
	const struct serve_stats *st;
	unsigned long long w, e, reads;
	long ca_len;

	if (argc != 4) {
		fprintf(stderr, "usage: serve-harness CA BASE_URL BLOB\n");
		return 2;
	}
	log_open();
	log_set_verbose(1);
	f = fopen(argv[1], "rb");
	ca = malloc(1 << 20);
	ca_len = (long)fread(ca, 1, 1 << 20, f);
	fclose(f);
	f = fopen(argv[3], "rb");
	blob = malloc(4 << 20);
	blob_len = fread(blob, 1, 4 << 20, f);
	fclose(f);

	config_init(&cfg);
	snprintf(cfg.url, sizeof(cfg.url), "%s", argv[2]);
	snprintf(cfg.error_file, sizeof(cfg.error_file), "%s.error", argv[3]);
	unlink(cfg.error_file);
	fo.base_url = cfg.url;
	fo.ca_pem = ca;
	fo.ca_pem_len = (size_t)ca_len;
	fo.timeout_s = 10;
	fo.connections = 4;
	if (fetch_engine_new(&engine, &fo) || fk_start(&cfg, engine, NULL))
		return 2;
	st = server_stats(fk_srv);

	/* OPEN: the size comes from the server. */
	fd = memfd_create("blob", 0);
	fk_send_open(1, 7, "blob", fd);
	snprintf(expect, sizeof(expect), "copen 1,%zu", blob_len);
	CHECK_STR(fk_await_copen(), expect);

	/* A READ lands at its offset, byte for byte. */
	w = st->bytes_written;
	e = st->errors;
	fk_send_read(2, 7, 8192, 12288);
	fk_await_progress(w, e);
	CHECK(st->errors == e);
	CHECK(same_as_blob(fd, 8192, 12288));

	/* An unaligned READ is served as the whole page around it. */
	w = st->bytes_written;
	fk_send_read(3, 7, 40000, 100);
	fk_await_progress(w, e);
	CHECK(st->bytes_written - w == 4096);
	CHECK(same_as_blob(fd, 36864, 4096));

	/* The last, partial page: the blob's bytes, then zeros. */
	w = st->bytes_written;
	fk_send_read(4, 7, blob_len & ~4095UL, 4096);
	fk_await_progress(w, e);
	CHECK(same_as_blob(fd, blob_len & ~4095UL, blob_len & 4095));
	{
		unsigned char z[4096], zero[4096] = { 0 };
		size_t pad = 4096 - (blob_len & 4095);

		CHECK(pread(fd, z, pad, (off_t)blob_len) == (ssize_t)pad &&
		      !memcmp(z, zero, pad));
	}

	/* A READ where the last fetch ended gets twice as much. */
	w = st->bytes_written;
	reads = st->reads;
	fk_send_read(5, 7, 131072, 16384);
	fk_await_progress(w, e);
	w = st->bytes_written;
	fk_send_read(6, 7, 131072 + 16384, 16384);
	fk_await_progress(w, e);
	CHECK(st->bytes_written - w == 2 * 16384);
	CHECK(st->reads == reads + 2);
	CHECK(same_as_blob(fd, 131072, 16384 + 2 * 16384));

	/* A READ inside a fetch under way joins it: one request for both. */
	{
		unsigned long long req0 = fetch_engine_stats(engine)->attempts;

		w = st->bytes_written;
		fk_send_read(20, 7, 180224, 4096);	/* sequential: 64 KiB window */
		fk_send_read(21, 7, 200704, 4096);	/* inside that window */
		fk_await_progress(w, e);
		CHECK(fetch_engine_stats(engine)->attempts == req0 + 1);
		CHECK(st->bytes_written - w == 65536);
		CHECK(same_as_blob(fd, 180224, 65536));
	}

	/* A READ outside the blob fails without a write. */
	w = st->bytes_written;
	fk_send_read(7, 7, blob_len + 4096, 4096);
	fk_await_progress(w, e);
	CHECK(st->errors == e + 1 && st->bytes_written == w);
	e = st->errors;

	/* A READ for an object that is not open is refused. */
	fk_send_read(8, 99, 0, 4096);
	fk_await_progress(st->bytes_written, e);
	CHECK(st->errors == e + 1);
	e = st->errors;

	/* A blob the server lacks fails its OPEN with ENOENT and says why. */
	fd2 = memfd_create("nosuch", 0);
	fk_send_open(9, 8, "nosuch", fd2);
	CHECK_STR(fk_await_copen(), "copen 9,-2");
	f = fopen(cfg.error_file, "r");
	CHECK(f && fgets(line, sizeof(line), f));
	if (f)
		fclose(f);
	CHECK(strstr(line, "/nosuch: HTTP 404") != NULL);
	CHECK(fcntl(fd2, F_GETFD) == -1 && errno == EBADF); /* closed */

	/* A blob name that is not a plain file name is refused at once. */
	fd3 = memfd_create("bad", 0);
	fk_send_open(10, 9, "../etc", fd3);
	CHECK_STR(fk_await_copen(), "copen 10,-22");
	CHECK(fcntl(fd3, F_GETFD) == -1 && errno == EBADF);

	/* Malformed and unknown messages are logged, never fatal. */
	e = st->errors;
	fk_send_msg(11, CF_OP_READ, 7, "xx", 2);
	fk_send_msg(12, 42, 7, "", 0);
	fk_await_progress(st->bytes_written, e);
	CHECK(st->errors == e + 1);

	/* CLOSE releases the kernel's fd. */
	fk_send_msg(13, CF_OP_CLOSE, 7, "", 0);
	for (int i = 0; i < 20; i++)
		fk_pump();
	CHECK(fcntl(fd, F_GETFD) == -1 && errno == EBADF);
	CHECK(st->closes == 1);

	server_log_stats(fk_srv);
	fk_stop();
	fetch_engine_free(engine);
	free(ca);
	free(blob);
	return check_report("serve-harness");
}
