/* SPDX-License-Identifier: MIT */
/* The manifest of a packed image. */
#ifndef LAZYROOT_PACK_BUILDER_H
#define LAZYROOT_PACK_BUILDER_H

#include <stddef.h>

#include "packer.h"

/*
 * Numbers chunks and packs by first use in the blobs (so only what the
 * image uses is listed, in an order that depends on nothing else) and
 * encodes the manifest into *@out (free()). Returns 0 or -1 (said why).
 */
int build_manifest(struct packer *p, unsigned char **out, size_t *len);

#endif
