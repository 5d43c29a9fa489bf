// SPDX-License-Identifier: MIT
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "cachefiles.h"
#include "fake-cachefiles.h"

struct server *fk_srv;
static struct frontend *fk_fe;
struct fetch_engine *fk_engine;
static int kfd = -1, dfd = -1;	/* the "kernel" end, the daemon's end */

int fk_start(const struct config *cfg, struct fetch_engine *engine,
	     const struct manifest *m)
{
	int sv[2];

	fk_engine = engine;
	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) ||
	    server_new(&fk_srv, cfg, engine, m) ||
	    fe_cachefiles_attach(&fk_fe, fk_srv, sv[1]))
		return -1;
	kfd = sv[0];
	dfd = sv[1];
	/* The device never blocks a read: it returns 0 when nothing is queued. */
	fcntl(dfd, F_SETFL, O_NONBLOCK);
	return 0;
}

void fk_stop(void)
{
	fk_fe->destroy(fk_fe); /* closes dfd */
	server_free(fk_srv);
	close(kfd);
}

void fk_send_msg(uint32_t id, uint32_t op, uint32_t obj, const void *payload,
		 size_t plen)
{
	unsigned char buf[2048];
	uint32_t hdr[4] = { id, op, (uint32_t)(16 + plen), obj };

	memcpy(buf, hdr, 16);
	memcpy(buf + 16, payload, plen);
	if (send(kfd, buf, 16 + plen, 0) < 0)
		abort();
}

void fk_send_open(uint32_t id, uint32_t obj, const char *name, int fd)
{
	unsigned char p[600];
	const char *vkey = "erofs,rootfs";
	uint32_t vsize = (uint32_t)strlen(vkey) + 1, csize = (uint32_t)strlen(name);
	uint32_t o[4] = { vsize, csize, (uint32_t)fd, 0 };

	memcpy(p, o, 16);
	memcpy(p + 16, vkey, vsize);
	memcpy(p + 16 + vsize, name, csize);
	fk_send_msg(id, CF_OP_OPEN, obj, p, 16 + vsize + csize);
}

void fk_send_read(uint32_t id, uint32_t obj, uint64_t off, uint64_t len)
{
	uint64_t r[2] = { off, len };

	fk_send_msg(id, CF_OP_READ, obj, r, sizeof(r));
}

static int64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

void fk_pump(void)
{
	if (fetch_engine_wait(fk_engine, -1, 50))
		fk_fe->drain(fk_fe);
	fk_fe->drain(fk_fe);
	fetch_engine_run(fk_engine);
}

const char *fk_await_copen(void)
{
	static char reply[128];
	int64_t end = now_ms() + 15000;

	while (now_ms() < end) {
		ssize_t n = recv(kfd, reply, sizeof(reply) - 1, MSG_DONTWAIT);

		if (n > 0) {
			reply[n] = '\0';
			return reply;
		}
		fk_pump();
	}
	return "";
}

void fk_await_progress(unsigned long long w, unsigned long long e)
{
	int64_t end = now_ms() + 15000;

	while (now_ms() < end) {
		const struct serve_stats *st = server_stats(fk_srv);

		if (st->bytes_written > w || st->errors > e)
			return;
		fk_pump();
	}
}
