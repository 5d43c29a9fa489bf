/* SPDX-License-Identifier: MIT */
/*
 * --previous DIR: the chunks of images published before, reused when this
 * image has the same bytes, so a new version adds only what changed. Their
 * manifests are checked as if hostile, and a chunk is reused only once its
 * old frame decodes to the new bytes.
 */
#ifndef LAZYROOT_PACK_PREVIOUS_H
#define LAZYROOT_PACK_PREVIOUS_H

#include "packer.h"

/*
 * Adds the packs and chunks of every manifest in @dir, in name order so the
 * result is reproducible. Returns 0 or -1 (said why).
 */
int previous_load(struct packer *p, const char *dir);

/*
 * An fd on --previous pack @pack, whose file is @path: the one kept open
 * since the last call if it was for that pack. -1 with errno if it cannot
 * be opened.
 */
int previous_pack_fd(struct packer *p, uint32_t pack, const char *path);

/*
 * Checks that old chunk @c, which has the digest of the new @data, really
 * decodes to @data: a damaged --previous pack must not enter a new image.
 * Returns 0 or -1 (said why).
 */
int previous_check(struct packer *p, const struct manifest_chunk *c,
		   const unsigned char *data);

#endif
