// SPDX-License-Identifier: MIT
/* SHA-256 as FIPS 180-4 specifies it, sections 5.1.1, 5.3.3 and 6.2. */
#include <errno.h>
#include <string.h>

#include "sha256.h"

/* The first 32 bits of the fractional parts of the cube roots of the
 * first 64 primes (section 4.2.2). */
static const uint32_t K[64] = {
	0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5,
	0x3956c25b, 0x59f111f1, 0x923f82a4, 0xab1c5ed5,
	0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3,
	0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174,
	0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc,
	0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da,
	0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7,
	0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967,
	0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13,
	0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85,
	0xa2bfe8a1, 0xa81a664b, 0xc24b8b70, 0xc76c51a3,
	0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070,
	0x19a4c116, 0x1e376c08, 0x2748774c, 0x34b0bcb5,
	0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3,
	0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208,
	0x90befffa, 0xa4506ceb, 0xbef9a3f7, 0xc67178f2,
};

static inline uint32_t ror(uint32_t x, unsigned int n)
{
	return (x >> n) | (x << (32 - n));
}

/* Byte loads: no alignment or endianness assumptions; compilers emit a
 * single load and byte swap for this pattern. */
static inline uint32_t load_be32(const unsigned char *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 |
	       (uint32_t)p[2] << 8 | p[3];
}

static inline void store_be32(unsigned char *p, uint32_t v)
{
	p[0] = v >> 24;
	p[1] = v >> 16;
	p[2] = v >> 8;
	p[3] = v;
}

#define CH(x, y, z)	(((x) & ((y) ^ (z))) ^ (z))
#define MAJ(x, y, z)	(((x) & (y)) | ((z) & ((x) | (y))))
#define BSIG0(x)	(ror(x, 2) ^ ror(x, 13) ^ ror(x, 22))
#define BSIG1(x)	(ror(x, 6) ^ ror(x, 11) ^ ror(x, 25))
#define SSIG0(x)	(ror(x, 7) ^ ror(x, 18) ^ ((x) >> 3))
#define SSIG1(x)	(ror(x, 17) ^ ror(x, 19) ^ ((x) >> 10))

/*
 * The schedule lives in a 16-word ring: W[t] for t >= 16 replaces
 * W[t - 16], which is no longer needed.
 */
#define W(t)		w[(t) & 15]
#define SCHED(t)	(W(t) += SSIG1(W((t) - 2)) + W((t) - 7) + \
			 SSIG0(W((t) - 15)))

/*
 * One round without moving the eight working variables: the caller
 * rotates their names instead, so round t's h is round t+1's a's slot.
 */
#define ROUND(a, b, c, d, e, f, g, h, t, wt)				\
	do {								\
		uint32_t t1 = (h) + BSIG1(e) + CH(e, f, g) + K[t] + (wt); \
		(d) += t1;						\
		(h) = t1 + BSIG0(a) + MAJ(a, b, c);			\
	} while (0)

#define ROUND8(t, wt)							\
	do {								\
		ROUND(a, b, c, d, e, f, g, h, (t) + 0, wt((t) + 0));	\
		ROUND(h, a, b, c, d, e, f, g, (t) + 1, wt((t) + 1));	\
		ROUND(g, h, a, b, c, d, e, f, (t) + 2, wt((t) + 2));	\
		ROUND(f, g, h, a, b, c, d, e, (t) + 3, wt((t) + 3));	\
		ROUND(e, f, g, h, a, b, c, d, (t) + 4, wt((t) + 4));	\
		ROUND(d, e, f, g, h, a, b, c, (t) + 5, wt((t) + 5));	\
		ROUND(c, d, e, f, g, h, a, b, (t) + 6, wt((t) + 6));	\
		ROUND(b, c, d, e, f, g, h, a, (t) + 7, wt((t) + 7));	\
	} while (0)

static void compress(uint32_t st[8], const unsigned char *p, size_t nblocks)
{
	uint32_t w[16];

	for (; nblocks; nblocks--, p += 64) {
		uint32_t a = st[0], b = st[1], c = st[2], d = st[3];
		uint32_t e = st[4], f = st[5], g = st[6], h = st[7];
		int i;

		for (i = 0; i < 16; i++)
			w[i] = load_be32(p + 4 * i);
		/* Constant round numbers: the ring indices fold away. */
		ROUND8(0, W);
		ROUND8(8, W);
		ROUND8(16, SCHED);
		ROUND8(24, SCHED);
		ROUND8(32, SCHED);
		ROUND8(40, SCHED);
		ROUND8(48, SCHED);
		ROUND8(56, SCHED);
		st[0] += a;
		st[1] += b;
		st[2] += c;
		st[3] += d;
		st[4] += e;
		st[5] += f;
		st[6] += g;
		st[7] += h;
	}
}

void sha256_init(struct sha256_ctx *c)
{
	/* Section 5.3.3: square roots of the first 8 primes. */
	static const uint32_t iv[8] = {
		0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a,
		0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19,
	};

	memcpy(c->h, iv, sizeof(iv));
	c->bytes = 0;
	c->fill = 0;
}

void sha256_update(struct sha256_ctx *c, const void *data, size_t len)
{
	const unsigned char *p = data;
	size_t n;

	if (!len)
		return;	/* @data may be NULL then */
	c->bytes += len;
	if (c->fill) {
		n = 64 - c->fill;
		if (n > len)
			n = len;
		memcpy(c->block + c->fill, p, n);
		c->fill += n;
		p += n;
		len -= n;
		if (c->fill < 64)
			return;
		compress(c->h, c->block, 1);
		c->fill = 0;
	}
	/* Whole blocks straight from the caller's buffer, no copy. */
	n = len / 64;
	if (n) {
		compress(c->h, p, n);
		p += n * 64;
		len -= n * 64;
	}
	if (len) {
		memcpy(c->block, p, len);
		c->fill = len;
	}
}

void sha256_final(struct sha256_ctx *c, unsigned char out[SHA256_SIZE])
{
	uint64_t bits = c->bytes << 3;
	int i;

	/* Section 5.1.1: a 1 bit, zeros, then the length in bits. */
	c->block[c->fill++] = 0x80;
	if (c->fill > 56) {
		memset(c->block + c->fill, 0, 64 - c->fill);
		compress(c->h, c->block, 1);
		c->fill = 0;
	}
	memset(c->block + c->fill, 0, 56 - c->fill);
	store_be32(c->block + 56, bits >> 32);
	store_be32(c->block + 60, (uint32_t)bits);
	compress(c->h, c->block, 1);
	for (i = 0; i < 8; i++)
		store_be32(out + 4 * i, c->h[i]);
}

void sha256(const void *data, size_t len, unsigned char out[SHA256_SIZE])
{
	struct sha256_ctx c;

	sha256_init(&c);
	sha256_update(&c, data, len);
	sha256_final(&c, out);
}

void sha256_to_hex(const unsigned char d[SHA256_SIZE],
		   char out[SHA256_HEX_SIZE + 1])
{
	static const char digits[] = "0123456789abcdef";
	int i;

	for (i = 0; i < SHA256_SIZE; i++) {
		out[2 * i] = digits[d[i] >> 4];
		out[2 * i + 1] = digits[d[i] & 15];
	}
	out[SHA256_HEX_SIZE] = '\0';
}

static int hex_value(unsigned char ch)
{
	if (ch >= '0' && ch <= '9')
		return ch - '0';
	if (ch >= 'a' && ch <= 'f')
		return ch - 'a' + 10;
	return -1;	/* upper case too: one spelling per digest */
}

int sha256_from_hex(const char *s, size_t len, unsigned char out[SHA256_SIZE])
{
	unsigned char d[SHA256_SIZE];
	int i;

	if (len != SHA256_HEX_SIZE)
		return -EINVAL;
	for (i = 0; i < SHA256_SIZE; i++) {
		int hi = hex_value(s[2 * i]), lo = hex_value(s[2 * i + 1]);

		if (hi < 0 || lo < 0)
			return -EINVAL;
		d[i] = hi << 4 | lo;
	}
	/* @out is untouched on failure. */
	memcpy(out, d, sizeof(d));
	return 0;
}
