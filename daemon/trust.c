// SPDX-License-Identifier: MIT
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "io.h"
#include "log.h"
#include "signature.h"
#include "trust.h"

#define CA_MAX (4 << 20)

static const char *const default_ca_files[] = {
	"/etc/lazyroot/ca.pem",
	"/etc/ssl/certs/ca-certificates.crt",
};

/*
 * Loads the CA bundle into memory now: the initramfs holding it is gone
 * after switch_root, and the new root cannot be read without us.
 */
ssize_t trust_load_ca(const struct config *cfg, unsigned char **pem,
		       const char **used)
{
	ssize_t n;
	size_t i;

	if (cfg->ca_file[0]) {
		*used = cfg->ca_file;
	} else {
		*used = NULL;
		for (i = 0; i < sizeof(default_ca_files) / sizeof(*default_ca_files); i++) {
			if (!access(default_ca_files[i], R_OK)) {
				*used = default_ca_files[i];
				break;
			}
		}
		if (!*used) {
			log_err("no CA bundle: give erofs.ca= or --ca (none of /etc/lazyroot/ca.pem, /etc/ssl/certs/ca-certificates.crt exists)");
			return -ENOENT;
		}
	}
	n = io_read_file(*used, pem, CA_MAX);
	if (n < 0) {
		log_err("CA bundle %s: %s", *used,
			n == -EFBIG ? "larger than 4 MiB" : strerror((int)-n));
		return n;
	}
	if (!strstr((char *)*pem, "-----BEGIN CERTIFICATE-----")) {
		log_err("CA bundle %s: no PEM certificate in it", *used);
		free(*pem);
		*pem = NULL;
		return -EINVAL;
	}
	return n;
}

int trust_load_key(const char *path, struct signature_key **key)
{
	unsigned char *pem;
	ssize_t n = io_read_file(path, &pem, SIGNATURE_KEY_FILE_MAX);
	int ret;

	if (n < 0) {
		log_err("image key %s: %s", path,
			n == -EFBIG ? "larger than 16 KiB, not a public key" :
			strerror((int)-n));
		return (int)n;
	}
	ret = signature_key_parse(pem, (size_t)n, path, key);
	free(pem);
	return ret;
}
