/* SPDX-License-Identifier: MIT */
/*
 * Signed manifests: for operators who would rather put a public key in the
 * initramfs than a digest on the command line, FSID.manifest.sig is a
 * signature (ECDSA or RSA over SHA-256, DER, as `openssl dgst -sha256
 * -sign` writes it) of the manifest's bytes.
 */
#ifndef LAZYROOT_SIGNATURE_H
#define LAZYROOT_SIGNATURE_H

#include <stddef.h>

#include "sha256.h"

/* A signature is at most this long (RSA-8192). */
#define SIGNATURE_MAX 1024

struct signature_key;

/* A PEM public key is a few hundred bytes; a file much larger is not one. */
#define SIGNATURE_KEY_FILE_MAX 16384

/*
 * Parses the PEM public key @pem (@len bytes, then a NUL), read from
 * @path. Returns 0, or -errno after one line naming the file and why.
 */
int signature_key_parse(const unsigned char *pem, size_t len,
			const char *path, struct signature_key **out);
void signature_key_free(struct signature_key *k);

/* The key file's name, for messages. */
const char *signature_key_path(const struct signature_key *k);

/*
 * Checks that @sig (@len bytes) signs the data whose sha256 is @hash.
 * Returns 0, or -EBADMSG with the reason in @why.
 */
int signature_verify(const struct signature_key *k,
		     const unsigned char hash[SHA256_SIZE],
		     const unsigned char *sig, size_t len, char *why,
		     size_t why_size);

#endif
