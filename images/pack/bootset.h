/* SPDX-License-Identifier: MIT */
/*
 * --prefetch RECORD: what a boot of an earlier image read (lazyrootctl
 * record), carried over to this image by content. Each recorded range is
 * turned into the digests of the chunks it covers, through the manifest of
 * the image the record names (found in a --previous DIR), and each digest
 * into this image's ref of that content in the same blob: the manifest's
 * prefetch table, in first-touch order. Chunks that changed since are
 * simply not in it.
 */
#ifndef LAZYROOT_PACK_BOOTSET_H
#define LAZYROOT_PACK_BOOTSET_H

#include "packer.h"

/*
 * Reads and checks the record @path and the manifests it names from the
 * --previous @dirs (@ndirs). Returns 0 or -1 (said why).
 */
int bootset_load(struct packer *p, const char *path, const char **dirs,
		 int ndirs);

/*
 * After the blobs are chunked: the prefetch table of the new manifest
 * (refs, first touch first) into p->prefetch. Returns 0 or -1 (said why).
 */
int bootset_refs(struct packer *p);

#endif
