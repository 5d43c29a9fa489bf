// SPDX-License-Identifier: MIT
/*
 * The NBD front end over a real socketpair, this test playing the kernel
 * and serve.c (a stand-in below): requests split across reads, replies
 * out of order, refusals, write payloads skipped, a bad magic.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/socket.h>

#include "check.h"
#include "fe_nbd.h"
#include "serve.h"

/* serve.c's part, as far as the front end sees it. */
struct blob {
	uint64_t size;
	struct fe_object *o;
};

static struct blob the_blob = { .size = 10000 };
static struct { uint64_t off, len, tag; } pend[16];
static unsigned int npend, nclosed;

void serve_open(struct server *s, const char *name, size_t len,
		struct fe_object *o)
{
	(void)s;
	CHECK(len == 3 && !memcmp(name, "img", 3));
	the_blob.o = o;
	o->ops->opened(o, &the_blob, (int64_t)the_blob.size);
}

void serve_read(struct server *s, struct blob *b, uint64_t off, uint64_t len,
		uint64_t tag)
{
	(void)s;
	CHECK(b == &the_blob);
	if (npend < 16) {
		pend[npend].off = off;
		pend[npend].len = len;
		pend[npend++].tag = tag;
	}
}

void serve_close(struct server *s, struct blob *b)
{
	(void)s;
	nclosed++;
	b->o->ops->release(b->o);
}

static int kfd = -1;

static int fake_connect(const struct nbd_setup *su)
{
	CHECK(su->size == 12288 && su->block_size == 4096);
	CHECK(su->flags == 3 && su->timeout_s == 0);
	CHECK(su->dead_conn_timeout_s == 30);
	kfd = dup(su->sock);
	return 5;
}

static void put_be(unsigned char *p, uint64_t v, int n)
{
	int i;

	for (i = n - 1; i >= 0; i--, v >>= 8)
		p[i] = (unsigned char)v;
}

static void send_req(uint32_t magic, uint32_t type, const char *handle,
		     uint64_t off, uint32_t len)
{
	unsigned char b[28];

	put_be(b, magic, 4);
	put_be(b + 4, type, 4);
	memcpy(b + 8, handle, 8);
	put_be(b + 16, off, 8);
	put_be(b + 24, len, 4);
	CHECK(write(kfd, b, sizeof(b)) == 28);
}

/* Reads one reply header; returns its error, or -1 if there is none. */
static int recv_reply(const char *handle)
{
	unsigned char b[16];

	if (recv(kfd, b, 16, MSG_DONTWAIT | MSG_WAITALL) != 16)
		return -1;
	CHECK(b[0] == 0x67 && b[1] == 0x44 && b[2] == 0x66 && b[3] == 0x98);
	CHECK(!memcmp(b + 8, handle, 8));
	return b[4] << 24 | b[5] << 16 | b[6] << 8 | b[7];
}

int main(void)
{
	char map[] = "/tmp/test_fe_nbd.XXXXXX";
	struct fe_nbd_options opt = {
		.map_file = map, .dead_conn_timeout_s = 30,
		.connect = fake_connect,
	};
	const char *names[] = { "img" };
	unsigned char data[8192], got[8192], hdr[28], zeros[4096] = { 0 };
	struct frontend *fe;
	char line[64] = "";
	FILE *fp;
	int fd;

	fd = mkstemp(map);
	CHECK(fd >= 0);
	close(fd);
	CHECK(fe_nbd_new(&fe, NULL, &opt, names, 1) == 0);
	CHECK(fe_nbd_ready(fe) == 1);
	CHECK(fe_nbd_index(fe, 0) == 5);
	fp = fopen(map, "r");
	CHECK(fp && fgets(line, sizeof(line), fp));
	CHECK_STR(line, "img /dev/nbd5\n");
	if (fp)
		fclose(fp);
	unlink(map);

	/* A header in two pieces, then a read of the blob's last, short page. */
	put_be(hdr, 0x25609513, 4);
	put_be(hdr + 4, 0, 4);
	memcpy(hdr + 8, "AAAAAAAA", 8);
	put_be(hdr + 16, 0, 8);
	put_be(hdr + 24, 8192, 4);
	CHECK(write(kfd, hdr, 10) == 10);
	fe->drain(fe);
	CHECK(npend == 0);
	CHECK(write(kfd, hdr + 10, 18) == 18);
	send_req(0x25609513, 0, "BBBBBBBB", 8192, 4096);
	fe->drain(fe);
	CHECK(npend == 2);
	CHECK(pend[0].off == 0 && pend[0].len == 8192);
	CHECK(pend[1].off == 8192 && pend[1].len == 10000 - 8192);

	/* Answered out of order: B with its data and zeros, A failed. */
	memset(data, 'b', sizeof(data));
	the_blob.o->ops->read_done(the_blob.o, pend[1].tag, data, 0);
	CHECK(recv_reply("BBBBBBBB") == 0);
	CHECK(recv(kfd, got, 4096, MSG_WAITALL) == 4096);
	CHECK(!memcmp(got, data, 1808) && !memcmp(got + 1808, zeros, 4096 - 1808));
	the_blob.o->ops->read_done(the_blob.o, pend[0].tag, NULL, -ETIMEDOUT);
	CHECK(recv_reply("AAAAAAAA") == EIO);

	/* A write's payload is skipped: the FLUSH after it is still seen. */
	send_req(0x25609513, 1, "WWWWWWWW", 0, 4096);
	CHECK(write(kfd, data, 4096) == 4096);
	send_req(0x25609513, 3, "FFFFFFFF", 0, 0);
	send_req(0x25609513, 4, "TTTTTTTT", 0, 4096);
	send_req(0x25609513, 0, "MMMMMMMM", 100, 4096);
	send_req(0x25609513, 0, "OOOOOOOO", 12288, 4096);
	send_req(0x25609513, 9, "UUUUUUUU", 0, 0);
	fe->drain(fe);
	CHECK(recv_reply("WWWWWWWW") == EPERM);
	CHECK(recv_reply("FFFFFFFF") == 0);
	CHECK(recv_reply("TTTTTTTT") == EPERM);
	CHECK(recv_reply("MMMMMMMM") == EINVAL);
	CHECK(recv_reply("OOOOOOOO") == EINVAL);
	CHECK(recv_reply("UUUUUUUU") == EINVAL);
	CHECK(recv_reply("--------") == -1);
	CHECK(npend == 2);

	/* A bad magic: an error reply, then the device lets go. */
	send_req(0x12345678, 0, "XXXXXXXX", 0, 4096);
	fe->drain(fe);
	CHECK(recv_reply("XXXXXXXX") == EINVAL);
	CHECK(recv(kfd, got, 1, 0) == 0);
	CHECK(nclosed == 1);
	fe->destroy(fe);
	CHECK(nclosed == 1);
	close(kfd);
	return check_report("test_fe_nbd");
}
