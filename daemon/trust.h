/* SPDX-License-Identifier: MIT */
/*
 * What the daemon trusts, read into memory at start: the initramfs holding
 * the files is gone after switch_root, and the new root cannot be read
 * without us.
 */
#ifndef LAZYROOT_TRUST_H
#define LAZYROOT_TRUST_H

#include <sys/types.h>

#include "config.h"

/*
 * The CA bundle that signs the servers' certificates: erofs.ca= / --ca, or
 * the first of the defaults that exists. Returns its length (and in @used
 * its path), or -errno after one line saying what is wrong.
 */
ssize_t trust_load_ca(const struct config *cfg, unsigned char **pem,
		      const char **used);

/*
 * The public key that must sign the manifest. Returns 0 or -errno after
 * one line saying what is wrong.
 */
struct signature_key;
int trust_load_key(const char *path, struct signature_key **key);

#endif
