// SPDX-License-Identifier: MIT
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <mbedtls/error.h>
#include <mbedtls/pk.h>

#include "log.h"
#include "signature.h"

struct signature_key {
	mbedtls_pk_context pk;
	char path[1024];
};

int signature_key_parse(const unsigned char *pem, size_t len,
			const char *path, struct signature_key **out)
{
	struct signature_key *k = calloc(1, sizeof(*k));
	char err[128];
	int ret;

	if (!k)
		return -ENOMEM;
	mbedtls_pk_init(&k->pk);
	snprintf(k->path, sizeof(k->path), "%s", path);
	/* PEM is parsed with its terminating NUL counted. */
	ret = mbedtls_pk_parse_public_key(&k->pk, pem, len + 1);
	if (ret) {
		mbedtls_strerror(ret, err, sizeof(err));
		log_err("image key %s: not a PEM public key: %s", path, err);
		ret = -EINVAL;
		goto fail;
	}
	if (!mbedtls_pk_can_do(&k->pk, MBEDTLS_PK_ECDSA) &&
	    !mbedtls_pk_can_do(&k->pk, MBEDTLS_PK_RSA)) {
		log_err("image key %s: neither an EC nor an RSA key", path);
		ret = -EINVAL;
		goto fail;
	}
	*out = k;
	return 0;
fail:
	signature_key_free(k);
	return ret;
}

void signature_key_free(struct signature_key *k)
{
	if (!k)
		return;
	mbedtls_pk_free(&k->pk);
	free(k);
}

const char *signature_key_path(const struct signature_key *k)
{
	return k->path;
}

int signature_verify(const struct signature_key *k,
		     const unsigned char hash[SHA256_SIZE],
		     const unsigned char *sig, size_t len, char *why,
		     size_t why_size)
{
	/* mbedtls_pk_verify() takes a non-const context in 2.28. */
	mbedtls_pk_context *pk = (mbedtls_pk_context *)&k->pk;
	char err[128];
	int ret;

	if (!len || len > SIGNATURE_MAX) {
		snprintf(why, why_size, "%zu bytes: not a signature", len);
		return -EBADMSG;
	}
	ret = mbedtls_pk_verify(pk, MBEDTLS_MD_SHA256, hash, SHA256_SIZE, sig,
				len);
	if (ret) {
		mbedtls_strerror(ret, err, sizeof(err));
		snprintf(why, why_size, "not signed by %s (%s)", k->path, err);
		return -EBADMSG;
	}
	return 0;
}
