// SPDX-License-Identifier: MIT
/* SHA-256: FIPS 180-4 examples, streaming across blocks, hex parsing. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "sha256.h"

static int digest_is(const unsigned char d[SHA256_SIZE], const char *hex)
{
	char got[SHA256_HEX_SIZE + 1];

	sha256_to_hex(d, got);
	if (strcmp(got, hex))
		fprintf(stderr, "got  %s\nwant %s\n", got, hex);
	return !strcmp(got, hex);
}

static int oneshot_is(const char *msg, const char *hex)
{
	unsigned char d[SHA256_SIZE];

	sha256(msg, strlen(msg), d);
	return digest_is(d, hex);
}

static void fill(unsigned char *p, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		p[i] = (unsigned char)(i * 7 + n);
}

int main(void)
{
	static const char *bad_hex[] = {
		/* upper case */
		"E3B0C44298FC1C149AFBF4C8996FB92427AE41E4649B934CA495991B7852B855",
		"e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b85A",
		/* not hex */
		"g3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
		"e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b85 ",
		"e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b85:",
		"0x3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
	};
	const char *empty =
		"e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";
	unsigned char d[SHA256_SIZE], e[SHA256_SIZE], all[301 * SHA256_SIZE];
	unsigned char buf[300], *million;
	char hex[SHA256_HEX_SIZE + 1];
	struct sha256_ctx c;
	size_t n, i, piece;

	/* FIPS 180-4 examples (and the empty message) */
	CHECK(oneshot_is("", empty));
	CHECK(oneshot_is("abc",
		"ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"));
	CHECK(oneshot_is("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq",
		"248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1"));
	sha256(NULL, 0, d);
	CHECK(digest_is(d, empty));

	/* one million 'a', fed in odd-sized pieces */
	million = malloc(1000000);
	CHECK(million != NULL);
	if (million) {
		memset(million, 'a', 1000000);
		for (piece = 1; piece <= 1000000; piece = piece * 7 + 3) {
			sha256_init(&c);
			for (i = 0; i < 1000000; i += n) {
				n = 1000000 - i < piece ? 1000000 - i : piece;
				sha256_update(&c, million + i, n);
			}
			sha256_final(&c, d);
			CHECK(digest_is(d,
				"cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0"));
		}
		sha256(million, 1000000, d);
		CHECK(digest_is(d,
			"cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0"));
		free(million);
	}

	/*
	 * Lengths 0..300 cross the padding edges (55, 56, 63, 64 bytes) of
	 * several blocks: incremental must equal one-shot at every split,
	 * and the one-shot digests together hash to what Python's hashlib
	 * says they do.
	 */
	for (n = 0; n <= 300; n++) {
		int same = 1;

		fill(buf, n);
		sha256(buf, n, all + n * SHA256_SIZE);
		for (i = 0; i <= n; i++) {
			sha256_init(&c);
			sha256_update(&c, buf, i);
			sha256_update(&c, NULL, 0);
			sha256_update(&c, buf + i, n - i);
			sha256_final(&c, d);
			same &= !memcmp(d, all + n * SHA256_SIZE, SHA256_SIZE);
		}
		sha256_init(&c);
		for (i = 0; i < n; i++)
			sha256_update(&c, buf + i, 1);
		sha256_final(&c, d);
		same &= !memcmp(d, all + n * SHA256_SIZE, SHA256_SIZE);
		if (!same)
			fprintf(stderr, "length %zu: incremental differs\n", n);
		CHECK(same);
	}
	sha256(all, sizeof(all), d);
	CHECK(digest_is(d,
		"60d63ff40b5558727a9b786ac0be9300f7ca58fd9ddd3b2f3681b369018a87dc"));

	/* hex round trip */
	for (n = 0; n < 50; n++) {
		fill(buf, n + 32);
		sha256_to_hex(buf, hex);
		CHECK(strlen(hex) == SHA256_HEX_SIZE);
		memset(e, 0, sizeof(e));
		CHECK(sha256_from_hex(hex, SHA256_HEX_SIZE, e) == 0);
		CHECK(!memcmp(e, buf, SHA256_SIZE));
	}
	memset(e, 0xff, sizeof(e));
	sha256_to_hex(e, hex);
	CHECK_STR(hex, "ffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff");
	CHECK(sha256_from_hex(hex, 64, d) == 0 && !memcmp(d, e, SHA256_SIZE));

	/* refusals leave @out untouched */
	for (i = 0; i < sizeof(bad_hex) / sizeof(bad_hex[0]); i++) {
		memset(d, 0x5a, sizeof(d));
		CHECK(sha256_from_hex(bad_hex[i], strlen(bad_hex[i]) < 64 ?
				      strlen(bad_hex[i]) : 64, d) == -EINVAL);
		CHECK(d[0] == 0x5a && d[31] == 0x5a);
	}
	CHECK(sha256_from_hex(empty, 63, d) == -EINVAL);
	CHECK(sha256_from_hex(empty, 0, d) == -EINVAL);
	CHECK(sha256_from_hex(empty, 65, d) == -EINVAL);
	CHECK(sha256_from_hex("e3b0c4", 6, d) == -EINVAL);
	CHECK(sha256_from_hex(empty, 64, d) == 0);
	CHECK(digest_is(d, empty));
	return check_report("test_sha256");
}
