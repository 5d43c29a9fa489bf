// SPDX-License-Identifier: MIT
/* Parsing of kernel messages from /dev/cachefiles, good and hostile. */
#include <errno.h>
#include <stdint.h>
#include <string.h>

#include "cachefiles.h"
#include "check.h"

static size_t put_hdr(unsigned char *b, uint32_t id, uint32_t op, uint32_t len,
		      uint32_t obj)
{
	uint32_t h[4] = { id, op, len, obj };

	memcpy(b, h, sizeof(h));
	return sizeof(h);
}

static size_t make_open(unsigned char *b, const char *vkey, uint32_t vsize,
			const char *ckey, uint32_t csize, uint32_t fd,
			int extra)
{
	uint32_t o[4] = { vsize, csize, fd, 0 };
	size_t n = 32 + vsize + csize + (size_t)extra;

	put_hdr(b, 7, CF_OP_OPEN, (uint32_t)n, 3);
	memcpy(b + 16, o, sizeof(o));
	memcpy(b + 32, vkey, vsize);
	memcpy(b + 32 + vsize, ckey, csize);
	return n;
}

static void test_open(void)
{
	unsigned char b[2048] = { 0 };
	struct cf_msg m;
	const char *why;
	size_t n;

	n = make_open(b, "erofs,rootfs-v1", 16, "rootfs-v1", 9, 5, 0);
	CHECK(cf_msg_parse(b, n, &m, &why) == 0);
	CHECK(m.id == 7 && m.opcode == CF_OP_OPEN && m.object_id == 3);
	CHECK_STR(m.open.volume_key, "erofs,rootfs-v1");
	CHECK(m.open.cookie_key_len == 9);
	CHECK(!memcmp(m.open.cookie_key, "rootfs-v1", 9));
	CHECK(m.open.fd == 5);

	/* length field disagreeing with what read() returned */
	CHECK(cf_msg_parse(b, n - 1, &m, &why) == -EBADMSG);
	CHECK(m.open.fd == -1);

	/* key sizes that do not add up, including a wrapping sum */
	n = make_open(b, "erofs,x", 8, "x", 1, 5, 1);
	CHECK(cf_msg_parse(b, n, &m, &why) == -EBADMSG);
	CHECK(m.open.fd == 5); /* still answerable */
	n = make_open(b, "erofs,x", 8, "x", 1, 5, 0);
	memcpy(b + 16, &(uint32_t){ 0xfffffff9u }, 4);
	CHECK(cf_msg_parse(b, n, &m, &why) == -EBADMSG);

	/* volume key without its NUL, or with one inside */
	n = make_open(b, "erofs,xy", 8, "k", 1, 5, 0);
	CHECK(cf_msg_parse(b, n, &m, &why) == -EBADMSG);
	n = make_open(b, "ero\0s,x", 8, "k", 1, 5, 0);
	CHECK(cf_msg_parse(b, n, &m, &why) == -EBADMSG);

	/* empty and oversized cookie keys */
	n = make_open(b, "erofs,x", 8, "", 0, 5, 0);
	CHECK(cf_msg_parse(b, n, &m, &why) == -EBADMSG);
	memset(b + 600, 'a', 300);
	n = make_open(b, "erofs,x", 8, (const char *)b + 600, 256, 5, 0);
	CHECK(cf_msg_parse(b, n, &m, &why) == -EBADMSG);

	/* an fd number that cannot be an fd */
	n = make_open(b, "erofs,x", 8, "k", 1, 0x80000000u, 0);
	CHECK(cf_msg_parse(b, n, &m, &why) == -EBADMSG);

	/* too short for the open payload */
	put_hdr(b, 1, CF_OP_OPEN, 20, 1);
	CHECK(cf_msg_parse(b, 20, &m, &why) == -EBADMSG);
}

static void test_read_close(void)
{
	unsigned char b[64] = { 0 };
	uint64_t r[2] = { 8192, 4096 };
	struct cf_msg m;
	const char *why;

	put_hdr(b, 9, CF_OP_READ, 32, 3);
	memcpy(b + 16, r, sizeof(r));
	CHECK(cf_msg_parse(b, 32, &m, &why) == 0);
	CHECK(m.read.off == 8192 && m.read.len == 4096 && m.object_id == 3);

	put_hdr(b, 9, CF_OP_READ, 31, 3);
	CHECK(cf_msg_parse(b, 31, &m, &why) == -EBADMSG);

	r[1] = 0; /* empty */
	put_hdr(b, 9, CF_OP_READ, 32, 3);
	memcpy(b + 16, r, sizeof(r));
	CHECK(cf_msg_parse(b, 32, &m, &why) == -EBADMSG);
	r[0] = UINT64_MAX - 10; /* wraps */
	r[1] = 4096;
	memcpy(b + 16, r, sizeof(r));
	CHECK(cf_msg_parse(b, 32, &m, &why) == -EBADMSG);

	put_hdr(b, 4, CF_OP_CLOSE, 16, 3);
	CHECK(cf_msg_parse(b, 16, &m, &why) == 0);
	CHECK(m.opcode == CF_OP_CLOSE && m.object_id == 3);
	put_hdr(b, 4, CF_OP_CLOSE, 20, 3);
	CHECK(cf_msg_parse(b, 20, &m, &why) == -EBADMSG);

	put_hdr(b, 5, 42, 16, 3);
	CHECK(cf_msg_parse(b, 16, &m, &why) == -EOPNOTSUPP);
	CHECK(m.id == 5 && m.opcode == 42);

	CHECK(cf_msg_parse(b, 15, &m, &why) == -EBADMSG);
	CHECK(cf_msg_parse(b, 0, &m, &why) == -EBADMSG);
}

int main(void)
{
	test_open();
	test_read_close();
	return check_report("test_cachefiles");
}
