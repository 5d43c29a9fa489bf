// SPDX-License-Identifier: MIT
/* One chunk decoded and checked: every way a stored chunk can be wrong. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <zstd.h>

#include "check.h"
#include "chunk.h"

#define PLAIN 20000

static unsigned char plain[PLAIN], out[PLAIN + 64];
static unsigned char frame[PLAIN + 1024];
static size_t frame_len;
static ZSTD_DCtx *d;
static char why[256];

/* A chunk entry for @stored_size bytes of @encoding holding plain[0..size). */
static struct manifest_chunk entry(uint32_t encoding, size_t stored_size,
				   uint32_t size)
{
	struct manifest_chunk c = { .stored_size = (uint32_t)stored_size,
				    .size = size, .encoding = encoding };

	sha256(plain, size, c.digest);
	return c;
}

static int decode(const struct manifest_chunk *c, const unsigned char *stored)
{
	why[0] = '\0';
	return chunk_decode_checked(d, c, stored, out, why, sizeof(why));
}

static void test_good(void)
{
	struct manifest_chunk c = entry(MANIFEST_ZSTD, frame_len, PLAIN);

	CHECK(decode(&c, frame) == 0);
	CHECK(!memcmp(out, plain, PLAIN));
	c = entry(MANIFEST_STORED, PLAIN, PLAIN);
	CHECK(decode(&c, plain) == 0);
	CHECK(!memcmp(out, plain, PLAIN));
}

static void test_frames(void)
{
	unsigned char *two = malloc(2 * frame_len), *bad = malloc(frame_len);
	struct manifest_chunk c;
	ZSTD_CCtx *cc = ZSTD_createCCtx();
	unsigned char nosize[PLAIN + 1024];
	size_t n;

	/* cut short, or with anything after the frame */
	c = entry(MANIFEST_ZSTD, frame_len - 1, PLAIN);
	CHECK(decode(&c, frame) == -EBADMSG);
	CHECK(strstr(why, "not one zstd frame") != NULL);
	memcpy(two, frame, frame_len);
	memcpy(two + frame_len, frame, frame_len);
	c = entry(MANIFEST_ZSTD, 2 * frame_len, PLAIN);
	CHECK(decode(&c, two) == -EBADMSG);
	CHECK(strstr(why, "not one zstd frame") != NULL);
	/* a frame that holds another size than the chunk's */
	c = entry(MANIFEST_ZSTD, frame_len, PLAIN - 4096);
	CHECK(decode(&c, frame) == -EBADMSG);
	CHECK(strstr(why, "does not say it holds 15904 bytes") != NULL);
	/* a frame that does not say its size at all */
	ZSTD_CCtx_setParameter(cc, ZSTD_c_contentSizeFlag, 0);
	n = ZSTD_compress2(cc, nosize, sizeof(nosize), plain, PLAIN);
	CHECK(!ZSTD_isError(n));
	c = entry(MANIFEST_ZSTD, n, PLAIN);
	CHECK(decode(&c, nosize) == -EBADMSG);
	CHECK(strstr(why, "does not say it holds") != NULL);
	/* not zstd at all */
	c = entry(MANIFEST_ZSTD, PLAIN, PLAIN);
	CHECK(decode(&c, plain) == -EBADMSG);
	/* one byte changed in the compressed body: zstd or the sha256 says so */
	memcpy(bad, frame, frame_len);
	bad[frame_len / 2] ^= 0x20;
	c = entry(MANIFEST_ZSTD, frame_len, PLAIN);
	CHECK(decode(&c, bad) == -EBADMSG);
	CHECK(strstr(why, "zstd: ") || strstr(why, "not the manifest's"));
	ZSTD_freeCCtx(cc);
	free(two);
	free(bad);
}

static void test_digest(void)
{
	struct manifest_chunk c = entry(MANIFEST_ZSTD, frame_len, PLAIN);

	c.digest[31] ^= 1;
	CHECK(decode(&c, frame) == -EBADMSG);
	CHECK(!strncmp(why, "sha256 ", 7) && strstr(why, ", not the manifest's"));
	c = entry(MANIFEST_STORED, PLAIN, PLAIN);
	c.digest[0] ^= 1;
	CHECK(decode(&c, plain) == -EBADMSG);
	CHECK(strstr(why, "not the manifest's") != NULL);
	/* stored as is, but the sizes disagree */
	c = entry(MANIFEST_STORED, PLAIN - 1, PLAIN);
	CHECK(decode(&c, plain) == -EBADMSG);
	CHECK(strstr(why, "stored as is, but 19999 bytes for 20000") != NULL);
}

int main(void)
{
	size_t i;

	/* compressible but not trivial */
	for (i = 0; i < PLAIN; i++)
		plain[i] = (unsigned char)("lazyroot chunk "[i % 15] + (i / 997));
	frame_len = ZSTD_compress(frame, sizeof(frame), plain, PLAIN, 3);
	d = chunk_dctx_new();
	CHECK(d != NULL && !ZSTD_isError(frame_len) && frame_len < PLAIN);
	test_good();
	test_frames();
	test_digest();
	ZSTD_freeDCtx(d);
	return check_report("test_chunk");
}
