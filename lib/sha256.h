/* SPDX-License-Identifier: MIT */
/*
 * SHA-256 (FIPS 180-4): the digest that names chunks, blobs and manifests
 * of verified images. Our own, so the daemon checks content the same way
 * whichever TLS library libcurl was built with.
 */
#ifndef LAZYROOT_SHA256_H
#define LAZYROOT_SHA256_H

#include <stddef.h>
#include <stdint.h>

#define SHA256_SIZE 32
#define SHA256_HEX_SIZE 64

struct sha256_ctx {
	uint32_t h[8];
	uint64_t bytes;			/* hashed so far */
	unsigned char block[64];
	size_t fill;			/* bytes in block */
};

void sha256_init(struct sha256_ctx *c);
void sha256_update(struct sha256_ctx *c, const void *data, size_t len);
void sha256_final(struct sha256_ctx *c, unsigned char out[SHA256_SIZE]);

/* The digest of @len bytes at @data. */
void sha256(const void *data, size_t len, unsigned char out[SHA256_SIZE]);

/* Lower-case hex, NUL-terminated. */
void sha256_to_hex(const unsigned char d[SHA256_SIZE],
		   char out[SHA256_HEX_SIZE + 1]);

/*
 * Parses exactly 64 lower-case hex digits (@len must be 64).
 * Returns 0 or -EINVAL.
 */
int sha256_from_hex(const char *s, size_t len, unsigned char out[SHA256_SIZE]);

#endif
