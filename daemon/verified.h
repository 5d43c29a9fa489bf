/* SPDX-License-Identifier: MIT */
/*
 * Verified images (docs/format.md): the manifest, fetched and checked
 * against the digest on the kernel command line, and where its packs are.
 * Chunks are checked by chunk.c.
 */
#ifndef LAZYROOT_VERIFIED_H
#define LAZYROOT_VERIFIED_H

#include <stddef.h>

#include "config.h"
#include "fetch.h"
#include "manifest.h"

/* "<base>/packs/<hex>.pack": the base is at most CONFIG_URL_MAX */
#define VERIFIED_PACK_URL_MAX (CONFIG_URL_MAX + 80)

/*
 * Fetches <base>/<fsid>.manifest and checks it: its sha256 must be
 * @digest_hex (64 hex digits) if given, and <fsid>.manifest.sig from the
 * same mirror must sign it with @key if given. A mirror whose copy fails
 * is passed over for the next. Returns 0 and the parsed manifest, or
 * -errno with the reason in @why (the URL and what was wrong).
 */
struct signature_key;
int verified_load_manifest(struct fetch_engine *e, const char *fsid,
			   const char *digest_hex,
			   const struct signature_key *key,
			   struct manifest **out, char *why, size_t why_size);

/*
 * The verified image the configuration names: its manifest fetched and
 * vouched for (erofs.digest=, and @key when not NULL) before the daemon
 * reports ready, so an image nobody vouches for stops the boot here.
 * Returns 0, or -errno after one line saying why.
 */
int verified_setup(struct fetch_engine *e, const struct config *cfg,
		   const struct signature_key *key, struct manifest **out);

/* Writes the URL of pack @p under @base. Returns 0 or -ENAMETOOLONG. */
int verified_pack_url(char *out, size_t size, const char *base,
		      const struct manifest_pack *p);

#endif
