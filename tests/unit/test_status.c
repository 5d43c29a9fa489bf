// SPDX-License-Identifier: MIT
/*
 * daemon/status.c: the text and JSON forms of a status snapshot, exactly;
 * JSON strings escaped; nothing open, no front end yet.
 */
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "status.h"

static void test_full(void)
{
	struct status_blob blobs[2] = {
		{ .name = "rootfs", .size = 67108864, .store = "ram",
		  .held = 3 << 20,
		  .st = { .net = { .requests = 12, .bytes = 3145729,
				   .retries = 1, .failures = 0 },
			  .reads = 40, .errors = 1, .bytes_to_kernel = 3 << 20,
			  .verify_failures = 2, .store_bad = 0 } },
		{ .name = "dev\"1\\x", .size = 100, .store = NULL },
	};
	struct status st = {
		.frontend = "nbd", .ndevs = 2,
		.devs = { "/dev/nbd0", "/dev/nbd1" },
		.ram_used = 3 << 20, .ram_limit = 1ULL << 32,
		.net = { .attempts = 13, .retries = 1, .failures = 0 },
		.nmirrors = 2,
		.mirrors = {
			{ .url = "https://a/img", .state = MIRROR_UP,
			  .requests = 12, .bytes = 3145729, .failures = 1,
			  .last_error = "HTTP 503\n\"busy\"" },
			{ .url = "https://b/img", .state = MIRROR_UNUSED,
			  .last_error = "" },
		},
		.nblobs = 2, .blobs = blobs,
	};
	char *out;
	size_t len;

	CHECK(status_text(&st, &out, &len) == 0);
	CHECK(len == strlen(out));
	CHECK_STR(out,
		  "lazyrootd " LAZYROOT_VERSION "\n"
		  "front end:  nbd (/dev/nbd0, /dev/nbd1)\n"
		  "RAM cache:  3145728 bytes (3.0 MiB) held of 4294967296 bytes (4.0 GiB)\n"
		  "network:    13 requests, 1 retries, 0 given up\n"
		  "mirror https://a/img: up; 12 requests, 3145729 bytes (3.0 MiB), 1 failed; last error: HTTP 503\n\"busy\"\n"
		  "mirror https://b/img: not asked yet; 0 requests, 0 bytes, 0 failed\n"
		  "blob rootfs: 67108864 bytes (64.0 MiB)\n"
		  "  held locally:  3145728 bytes (3.0 MiB) in RAM\n"
		  "  fetched:       3145729 bytes (3.0 MiB) in 12 requests, 1 retries, 0 given up\n"
		  "  reads:         40, 1 failed; 3145728 bytes (3.0 MiB) handed to the kernel\n"
		  "  checks failed: 2 chunks failed verification, 0 reads back from the disk\n"
		  "blob dev\"1\\x: 100 bytes\n"
		  "  held locally:  none by the daemon\n"
		  "  fetched:       0 bytes in 0 requests, 0 retries, 0 given up\n"
		  "  reads:         0, 0 failed; 0 bytes handed to the kernel\n"
		  "  checks failed: 0 chunks failed verification, 0 reads back from the disk\n");
	free(out);

	CHECK(status_json(&st, &out, &len) == 0);
	CHECK_STR(out,
		  "{\"version\":\"" LAZYROOT_VERSION "\","
		  "\"frontend\":{\"kind\":\"nbd\",\"devices\":[\"/dev/nbd0\",\"/dev/nbd1\"]},"
		  "\"cache\":{\"ram\":{\"used\":3145728,\"limit\":4294967296},\"disk\":null},"
		  "\"network\":{\"requests\":13,\"retries\":1,\"failures\":0},"
		  "\"mirrors\":[{\"url\":\"https://a/img\",\"state\":\"up\",\"requests\":12,\"bytes\":3145729,\"failures\":1,\"last_error\":\"HTTP 503\\u000a\\\"busy\\\"\"},"
		  "{\"url\":\"https://b/img\",\"state\":\"unused\",\"requests\":0,\"bytes\":0,\"failures\":0,\"last_error\":null}],"
		  "\"fill\":null,"
		  "\"blobs\":[{\"name\":\"rootfs\",\"size\":67108864,\"store\":\"ram\",\"held\":3145728,\"bytes_fetched\":3145729,\"requests\":12,\"retries\":1,\"failures\":0,\"reads\":40,\"errors\":1,\"bytes_to_kernel\":3145728,\"verification_failures\":2,\"store_check_failures\":0},"
		  "{\"name\":\"dev\\\"1\\\\x\",\"size\":100,\"store\":null,\"held\":0,\"bytes_fetched\":0,\"requests\":0,\"retries\":0,\"failures\":0,\"reads\":0,\"errors\":0,\"bytes_to_kernel\":0,\"verification_failures\":0,\"store_check_failures\":0}]}\n");
	free(out);
}

static void test_empty(void)
{
	struct status st = { .disk_dir = "/var/cache/lazy\troot",
			     .disk_used = 4096 };
	char *out;
	size_t len;

	CHECK(status_text(&st, &out, &len) == 0);
	CHECK(strstr(out, "\nfront end:  not started yet\n") != NULL);
	CHECK(strstr(out, "\ndisk cache: 4096 bytes (4.0 KiB) held in /var/cache/lazy\troot (no limit but the disk's)\n") != NULL);
	CHECK(strstr(out, "\nblobs:      none open\n") != NULL);
	CHECK(strstr(out, "RAM cache") == NULL);
	free(out);
	CHECK(status_json(&st, &out, &len) == 0);
	CHECK(strstr(out, "\"frontend\":null,\"cache\":{\"ram\":null,\"disk\":{\"dir\":\"/var/cache/lazy\\u0009root\",\"used\":4096,\"limit\":null}}") != NULL);
	CHECK(strstr(out, "\"mirrors\":[],\"fill\":null,\"blobs\":[]}\n") != NULL);
	free(out);
	/* the fill, once on */
	st.fill = (struct fill_progress){ .state = FILL_FILLING, .held = 1 << 20,
					  .total = 4 << 20, .fetched = 3 << 19,
					  .requests = 2, .rate = 4 << 20 };
	CHECK(status_text(&st, &out, &len) == 0);
	CHECK(strstr(out, "\nfill:       filling; 1048576 bytes (1.0 MiB) held of 4194304 bytes (4.0 MiB) (25%), 1572864 bytes (1.5 MiB) fetched in 2 requests, at most 4194304 bytes (4.0 MiB) a second\n") != NULL);
	free(out);
	CHECK(status_json(&st, &out, &len) == 0);
	CHECK(strstr(out, "\"fill\":{\"state\":\"filling\",\"held\":1048576,\"total\":4194304,\"fetched\":1572864,\"requests\":2,\"rate\":4194304},\"blobs\":[]}\n") != NULL);
	free(out);
	st.fill.state = FILL_OFF;
	st.disk_dir = NULL;
	CHECK(status_text(&st, &out, &len) == 0);
	CHECK(strstr(out, "\ncache:      none kept by the daemon (the kernel's cache only)\n") != NULL);
	free(out);
}

static void test_states(void)
{
	CHECK_STR(fetch_mirror_state_name(MIRROR_UNUSED), "unused");
	CHECK_STR(fetch_mirror_state_name(MIRROR_UP), "up");
	CHECK_STR(fetch_mirror_state_name(MIRROR_FAILING), "failing");
	CHECK_STR(fetch_mirror_state_name(MIRROR_WAITING), "waiting");
	CHECK_STR(fetch_mirror_state_name(MIRROR_GIVEN_UP), "given-up");
}

int main(void)
{
	test_full();
	test_empty();
	test_states();
	return check_report("test_status");
}
