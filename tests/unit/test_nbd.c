// SPDX-License-Identifier: MIT
/*
 * NBD: request headers good and hostile, replies, and the generic netlink
 * messages byte by byte (netlink is in host order: a little-endian host).
 */
#include <errno.h>
#include <stdint.h>
#include <string.h>

#include "check.h"
#include "le.h"
#include "nbd.h"

#define MiB (1024u * 1024u)
#define DEV_SIZE (64ull * MiB)

static void put_be(unsigned char *p, uint64_t v, int n)
{
	int i;

	for (i = n - 1; i >= 0; i--, v >>= 8)
		p[i] = (unsigned char)v;
}

static void make_req(unsigned char *p, uint32_t magic, uint32_t type,
		     uint64_t off, uint32_t len)
{
	put_be(p, magic, 4);
	put_be(p + 4, type, 4);
	memcpy(p + 8, "HANDLE!!", 8);
	put_be(p + 16, off, 8);
	put_be(p + 24, len, 4);
}

/* Decodes and checks one request; returns the check's result. */
static int check_req(uint32_t type, uint64_t off, uint32_t len,
		     const char **why)
{
	unsigned char b[NBD_REQUEST_SIZE];
	struct nbd_req r;

	make_req(b, 0x25609513, type, off, len);
	*why = NULL;
	if (nbd_req_decode(b, &r))
		return 1;
	return nbd_req_check(&r, DEV_SIZE, why);
}

static void test_decode(void)
{
	unsigned char b[NBD_REQUEST_SIZE];
	struct nbd_req r;

	make_req(b, 0x25609513, 0x00010000 | NBD_REQ_READ,
		 0x0102030405060000ull, 0x00021000);
	CHECK(nbd_req_decode(b, &r) == 0);
	CHECK(r.cmd == NBD_REQ_READ);
	CHECK(r.flags == NBD_REQ_FLAG_FUA);
	CHECK(!memcmp(&r.handle, "HANDLE!!", 8));
	CHECK(r.off == 0x0102030405060000ull);
	CHECK(r.len == 0x21000);
	CHECK(nbd_req_payload(&r) == 0);

	/* A bad magic: the stream is lost, but the handle is still there. */
	make_req(b, 0x25609514, NBD_REQ_READ, 0, 4096);
	memset(&r, 0, sizeof(r));
	CHECK(nbd_req_decode(b, &r) == -EPROTO);
	CHECK(!memcmp(&r.handle, "HANDLE!!", 8));
	/* The reply magic is not a request magic. */
	make_req(b, 0x67446698, NBD_REQ_READ, 0, 4096);
	CHECK(nbd_req_decode(b, &r) == -EPROTO);

	make_req(b, 0x25609513, NBD_REQ_WRITE, 0, 12345);
	CHECK(nbd_req_decode(b, &r) == 0);
	CHECK(nbd_req_payload(&r) == 12345);
	make_req(b, 0x25609513, NBD_REQ_TRIM, 0, 12345);
	CHECK(nbd_req_decode(b, &r) == 0);
	CHECK(nbd_req_payload(&r) == 0);
}

static void test_check(void)
{
	const char *why;

	/* What is served or acknowledged. */
	CHECK(check_req(NBD_REQ_READ, 0, 4096, &why) == 0);
	CHECK(check_req(NBD_REQ_READ, DEV_SIZE - 4096, 4096, &why) == 0);
	CHECK(check_req(NBD_REQ_READ, 0, 32 * MiB, &why) == 0);
	CHECK(check_req(0x00010000 | NBD_REQ_READ, 0, 4096, &why) == 0);
	CHECK(check_req(NBD_REQ_FLUSH, 0, 0, &why) == 0);
	CHECK(check_req(NBD_REQ_DISC, 0, 0, &why) == 0);

	/* Every refusal, each with its reason. */
	CHECK(check_req(NBD_REQ_WRITE, 0, 4096, &why) == -EPERM && why);
	CHECK(check_req(NBD_REQ_TRIM, 0, 4096, &why) == -EPERM && why);
	CHECK(check_req(NBD_REQ_WRITE_ZEROES, 0, 4096, &why) == -EPERM && why);
	CHECK(check_req(5, 0, 4096, &why) == -EINVAL && why);	/* CACHE */
	CHECK(check_req(7, 0, 4096, &why) == -EINVAL && why);	/* BLOCK_STATUS */
	CHECK(check_req(0xffff, 0, 4096, &why) == -EINVAL && why);
	CHECK_STR(why, "unknown command");
	CHECK(check_req(0x00020000 | NBD_REQ_READ, 0, 4096, &why) == -EINVAL);
	CHECK_STR(why, "unknown command flags");
	CHECK(check_req(0x80000000u | NBD_REQ_FLUSH, 0, 0, &why) == -EINVAL);
	CHECK(check_req(NBD_REQ_READ, 0, 0, &why) == -EINVAL);
	CHECK_STR(why, "empty read");
	CHECK(check_req(NBD_REQ_READ, 512, 4096, &why) == -EINVAL);
	CHECK_STR(why, "read not aligned to 4 KiB blocks");
	CHECK(check_req(NBD_REQ_READ, 0, 4096 + 512, &why) == -EINVAL);
	CHECK(check_req(NBD_REQ_READ, 1, 4096, &why) == -EINVAL);
	CHECK(check_req(NBD_REQ_READ, 0, 32 * MiB + 4096, &why) == -EINVAL);
	CHECK_STR(why, "read longer than 32 MiB");
	CHECK(check_req(NBD_REQ_READ, 0xfffffffffffff000ull, 4096, &why) ==
	      -EINVAL);
	CHECK_STR(why, "read beyond the end of the device");
	CHECK(check_req(NBD_REQ_READ, DEV_SIZE, 4096, &why) == -EINVAL);
	CHECK(check_req(NBD_REQ_READ, DEV_SIZE - 4096, 8192, &why) == -EINVAL);
	/* off + len wraps around: must not pass as in range. */
	CHECK(check_req(NBD_REQ_READ, 0xffffffffffff0000ull, 0x10000, &why) ==
	      -EINVAL);
}

static void test_reply(void)
{
	static const unsigned char ok[NBD_REPLY_SIZE] = {
		0x67, 0x44, 0x66, 0x98, 0, 0, 0, 0,
		'H', 'A', 'N', 'D', 'L', 'E', '!', '!',
	};
	unsigned char b[NBD_REPLY_SIZE];
	uint64_t h;

	memcpy(&h, "HANDLE!!", 8);
	nbd_reply_encode(b, h, 0);
	CHECK(!memcmp(b, ok, sizeof(ok)));
	nbd_reply_encode(b, h, -EPERM);
	CHECK(!memcmp(b, ok, 4) && !memcmp(b + 8, ok + 8, 8));
	CHECK(b[4] == 0 && b[5] == 0 && b[6] == 0 && b[7] == EPERM);
	nbd_reply_encode(b, h, -EINVAL);
	CHECK(b[7] == 22);
	nbd_reply_encode(b, h, -EIO);
	CHECK(b[7] == 5);
}

/* Appends a netlink attribute header. */
static unsigned char *attr(unsigned char *p, uint16_t len, uint16_t type)
{
	p[0] = (unsigned char)len;
	p[1] = (unsigned char)(len >> 8);
	p[2] = (unsigned char)type;
	p[3] = (unsigned char)(type >> 8);
	return p + 4;
}

static void test_nl_build(void)
{
	struct nbd_setup su = {
		.sock = 7, .size = 0x123456000ull, .block_size = 4096,
		.flags = 3, .timeout_s = 0, .dead_conn_timeout_s = 60,
	};
	unsigned char want[128] = { 0 }, got[128], *p;
	ssize_t n;

	/* CTRL_CMD_GETFAMILY "nbd" to GENL_ID_CTRL. */
	memset(want, 0, sizeof(want));
	put_le32(want, 28);
	want[4] = 0x10;			/* GENL_ID_CTRL */
	want[6] = 0x05;			/* NLM_F_REQUEST | NLM_F_ACK */
	put_le32(want + 8, 42);		/* seq */
	want[16] = 3;			/* CTRL_CMD_GETFAMILY */
	want[17] = 1;
	p = attr(want + 20, 8, 2);	/* CTRL_ATTR_FAMILY_NAME */
	memcpy(p, "nbd", 4);
	memset(got, 0xaa, sizeof(got));
	n = nbd_nl_build_getfamily(got, sizeof(got), 42);
	CHECK(n == 28);
	CHECK(!memcmp(got, want, 28));
	CHECK(nbd_nl_build_getfamily(got, 27, 42) == -ENOSPC);

	/* NBD_CMD_CONNECT to the family's id. */
	memset(want, 0, sizeof(want));
	put_le32(want, 96);
	want[4] = 0x21;			/* family 0x21 */
	want[6] = 0x05;
	put_le32(want + 8, 2);
	want[16] = 1;			/* NBD_CMD_CONNECT */
	want[17] = 1;			/* NBD_GENL_VERSION */
	p = attr(want + 20, 12, 2);	/* NBD_ATTR_SIZE_BYTES */
	put_le64(p, 0x123456000ull);
	p = attr(p + 8, 12, 3);		/* NBD_ATTR_BLOCK_SIZE_BYTES */
	put_le64(p, 4096);
	p = attr(p + 8, 12, 5);		/* NBD_ATTR_SERVER_FLAGS */
	put_le64(p, 3);
	p = attr(p + 8, 12, 4);		/* NBD_ATTR_TIMEOUT */
	put_le64(p, 0);
	p = attr(p + 8, 12, 8);		/* NBD_ATTR_DEAD_CONN_TIMEOUT */
	put_le64(p, 60);
	p = attr(p + 8, 16, 7 | 0x8000);	/* NBD_ATTR_SOCKETS, nested */
	p = attr(p, 12, 1 | 0x8000);	/* NBD_SOCK_ITEM, nested */
	p = attr(p, 8, 1);		/* NBD_SOCK_FD */
	put_le32(p, 7);
	CHECK(p + 4 - want == 96);
	memset(got, 0xaa, sizeof(got));
	n = nbd_nl_build_connect(got, sizeof(got), 0x21, 2, &su);
	CHECK(n == 96);
	CHECK(!memcmp(got, want, 96));
	CHECK(nbd_nl_build_connect(got, 95, 0x21, 2, &su) == -ENOSPC);
	CHECK(nbd_nl_build_connect(got, 20, 0x21, 2, &su) == -ENOSPC);

	/* NBD_CMD_RECONFIGURE: the device's index and the new socket only. */
	memset(want, 0, sizeof(want));
	put_le32(want, 44);
	want[4] = 0x21;
	want[6] = 0x05;
	put_le32(want + 8, 9);
	want[16] = 3;			/* NBD_CMD_RECONFIGURE */
	want[17] = 1;
	p = attr(want + 20, 8, 1);	/* NBD_ATTR_INDEX */
	put_le32(p, 5);
	p = attr(p + 4, 16, 7 | 0x8000);	/* NBD_ATTR_SOCKETS, nested */
	p = attr(p, 12, 1 | 0x8000);	/* NBD_SOCK_ITEM, nested */
	p = attr(p, 8, 1);		/* NBD_SOCK_FD */
	put_le32(p, 11);
	CHECK(p + 4 - want == 44);
	memset(got, 0xaa, sizeof(got));
	n = nbd_nl_build_reconfigure(got, sizeof(got), 0x21, 9, 5, 11);
	CHECK(n == 44);
	CHECK(!memcmp(got, want, 44));
	CHECK(nbd_nl_build_reconfigure(got, 43, 0x21, 9, 5, 11) == -ENOSPC);

	/* NBD_CMD_DISCONNECT: the device's index only. */
	memset(want, 0, sizeof(want));
	put_le32(want, 28);
	want[4] = 0x21;
	want[6] = 0x05;
	put_le32(want + 8, 4);
	want[16] = 2;			/* NBD_CMD_DISCONNECT */
	want[17] = 1;
	p = attr(want + 20, 8, 1);	/* NBD_ATTR_INDEX */
	put_le32(p, 3);
	CHECK(p + 4 - want == 28);
	memset(got, 0xaa, sizeof(got));
	n = nbd_nl_build_disconnect(got, sizeof(got), 0x21, 4, 3);
	CHECK(n == 28);
	CHECK(!memcmp(got, want, 28));
	CHECK(nbd_nl_build_disconnect(got, 27, 0x21, 4, 3) == -ENOSPC);
}

/* A genl message with one attribute of @alen bytes at @b; returns its size. */
static size_t genl_msg(unsigned char *b, uint16_t type, uint32_t seq,
		       uint16_t atype, const void *v, uint16_t alen)
{
	size_t n = 16 + 4 + 4 + ((alen + 3u) & ~3u);

	memset(b, 0, n);
	put_le32(b, (uint32_t)n);
	b[4] = (unsigned char)type;
	b[5] = (unsigned char)(type >> 8);
	put_le32(b + 8, seq);
	attr(b + 20, (uint16_t)(4 + alen), atype);
	memcpy(b + 24, v, alen);
	return n;
}

static size_t ack_msg(unsigned char *b, uint32_t seq, int err)
{
	memset(b, 0, 36);
	put_le32(b, 36);
	b[4] = 2;			/* NLMSG_ERROR */
	put_le32(b + 8, seq);
	memcpy(b + 16, &err, 4);
	return 36;
}

static void test_nl_parse(void)
{
	unsigned char b[256];
	uint16_t fam = 0, id16 = 0x1c;
	uint32_t idx32 = 3;
	int index = -1, acked = 0;
	size_t n;

	/* The family id, then the ack in the same datagram. */
	n = genl_msg(b, 0x10, 1, 1, &id16, 2);
	n += ack_msg(b + n, 1, 0);
	CHECK(nbd_nl_parse(b, n, 1, &fam, NULL, &acked) == 0);
	CHECK(fam == 0x1c && acked);

	/* The connect reply with the index, the ack apart. */
	acked = 0;
	n = genl_msg(b, 0x1c, 2, 1, &idx32, 4);
	CHECK(nbd_nl_parse(b, n, 2, NULL, &index, &acked) == 0);
	CHECK(index == 3 && !acked);
	n = ack_msg(b, 2, 0);
	CHECK(nbd_nl_parse(b, n, 2, NULL, &index, &acked) == 0 && acked);

	/* The kernel's refusal is passed on. */
	n = ack_msg(b, 2, -EBUSY);
	CHECK(nbd_nl_parse(b, n, 2, NULL, &index, &acked) == -EBUSY);
	n = ack_msg(b, 1, -ENOENT);
	CHECK(nbd_nl_parse(b, n, 1, &fam, NULL, &acked) == -ENOENT);

	/* Another sequence number is not ours. */
	acked = 0;
	index = -1;
	n = genl_msg(b, 0x1c, 9, 1, &idx32, 4);
	n += ack_msg(b + n, 9, -EIO);
	CHECK(nbd_nl_parse(b, n, 2, NULL, &index, &acked) == 0);
	CHECK(index == -1 && !acked);

	/* Malformed: lengths that lie, wrong attribute sizes. */
	n = genl_msg(b, 0x1c, 2, 1, &idx32, 4);
	CHECK(nbd_nl_parse(b, n - 1, 2, NULL, &index, &acked) == -EBADMSG);
	put_le32(b, 8);
	CHECK(nbd_nl_parse(b, n, 2, NULL, &index, &acked) == -EBADMSG);
	n = genl_msg(b, 0x1c, 2, 1, &id16, 2);	/* index of 2 bytes */
	CHECK(nbd_nl_parse(b, n, 2, NULL, &index, &acked) == -EBADMSG);
	n = genl_msg(b, 0x1c, 2, 1, &idx32, 4);
	b[20] = 200;				/* attribute past the end */
	CHECK(nbd_nl_parse(b, n, 2, NULL, &index, &acked) == -EBADMSG);
	b[20] = 2;				/* shorter than its header */
	CHECK(nbd_nl_parse(b, n, 2, NULL, &index, &acked) == -EBADMSG);
	idx32 = 0x80000000u;			/* not an index */
	n = genl_msg(b, 0x1c, 2, 1, &idx32, 4);
	CHECK(nbd_nl_parse(b, n, 2, NULL, &index, &acked) == -EBADMSG);
	n = ack_msg(b, 2, 5);			/* a positive "errno" */
	CHECK(nbd_nl_parse(b, n, 2, NULL, &index, &acked) == -EBADMSG);
	n = ack_msg(b, 2, 0);
	put_le32(b, 17);			/* an error too short */
	CHECK(nbd_nl_parse(b, 17, 2, NULL, &index, &acked) == -EBADMSG);
	/* A truncated header is ignored, not read past. */
	CHECK(nbd_nl_parse(b, 10, 2, NULL, &index, &acked) == 0);
}

int main(void)
{
	test_decode();
	test_check();
	test_reply();
	test_nl_build();
	test_nl_parse();
	return check_report("test_nbd");
}
