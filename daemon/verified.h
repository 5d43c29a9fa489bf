/* SPDX-License-Identifier: MIT */
/*
 * Verified images (docs/format.md): the manifest, checked against the
 * digest on the kernel command line, and the chunks it lists, each
 * decompressed and checked against its sha256 before the kernel sees it.
 */
#ifndef LAZYROOT_VERIFIED_H
#define LAZYROOT_VERIFIED_H

#include <stddef.h>

#include <zstd.h>

#include "fetch.h"
#include "manifest.h"

/* "<base>/packs/<hex>.pack" */
#define VERIFIED_PACK_URL_MAX (4096 + 80)

/*
 * Fetches <base>/<fsid>.manifest and checks that its sha256 is @digest_hex
 * (64 hex digits); a mirror serving another copy is passed over for the
 * next. Returns 0 and the parsed manifest, or -errno with the reason in
 * @why (the URL and what was wrong).
 */
int verified_load_manifest(struct fetch_engine *e, const char *fsid,
			   const char *digest_hex, struct manifest **out,
			   char *why, size_t why_size);

/* Writes the URL of pack @p under @base. Returns 0 or -ENAMETOOLONG. */
int verified_pack_url(char *out, size_t size, const char *base,
		      const struct manifest_pack *p);

/*
 * Decodes chunk @c from its @stored bytes (c->stored_size of them) into
 * @out (c->size bytes) and checks their sha256. Returns 0, or -EBADMSG
 * with the reason in @why; @out then holds nothing to be trusted.
 */
int verified_decode(ZSTD_DCtx *dctx, const struct manifest_chunk *c,
		    const unsigned char *stored, unsigned char *out, char *why,
		    size_t why_size);

/* A decompression context that refuses windows larger than a chunk. */
ZSTD_DCtx *verified_dctx_new(void);

#endif
