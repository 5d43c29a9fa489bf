// SPDX-License-Identifier: MIT
/* crc32c(): the RFC 3720 (iSCSI) vectors, and the kernel's conventions. */
#include <string.h>

#include "check.h"
#include "crc32c.h"

/* RFC 3720 B.4 gives the CRC-32C: the kernel function's seed ~0, result ~. */
static uint32_t rfc_crc32c(const void *p, size_t len)
{
	return ~crc32c(~0u, p, len);
}

static void test_32_zeros(void)
{
	unsigned char b[32];

	memset(b, 0, sizeof(b));
	CHECK(rfc_crc32c(b, sizeof(b)) == 0x8a9136aau);
}

static void test_32_ones(void)
{
	unsigned char b[32];

	memset(b, 0xff, sizeof(b));
	CHECK(rfc_crc32c(b, sizeof(b)) == 0x62a8ab43u);
}

static void test_32_incrementing(void)
{
	unsigned char b[32];
	unsigned int i;

	for (i = 0; i < sizeof(b); i++)
		b[i] = (unsigned char)i;
	CHECK(rfc_crc32c(b, sizeof(b)) == 0x46dd794eu);
}

static void test_32_decrementing(void)
{
	unsigned char b[32];
	unsigned int i;

	for (i = 0; i < sizeof(b); i++)
		b[i] = (unsigned char)(31 - i);
	CHECK(rfc_crc32c(b, sizeof(b)) == 0x113fdb5cu);
}

/* The usual check value of CRC-32C. */
static void test_check_string(void)
{
	CHECK(rfc_crc32c("123456789", 9) == 0xe3069283u);
}

static void test_empty_returns_seed(void)
{
	CHECK(crc32c(0x12345678u, "", 0) == 0x12345678u);
}

/* Feeding the bytes in pieces gives the same as at once. */
static void test_pieces(void)
{
	static const char s[] = "the superblock, then the rest of block 0";
	uint32_t whole = crc32c(~0u, s, sizeof(s) - 1);
	uint32_t part = crc32c(crc32c(~0u, s, 10), s + 10, sizeof(s) - 11);

	CHECK(part == whole);
}

int main(void)
{
	test_32_zeros();
	test_32_ones();
	test_32_incrementing();
	test_32_decrementing();
	test_check_string();
	test_empty_returns_seed();
	test_pieces();
	return check_report("test_crc32c");
}
