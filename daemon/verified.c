// SPDX-License-Identifier: MIT
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "fetch_file.h"
#include "log.h"
#include "signature.h"
#include "verified.h"

int verified_pack_url(char *out, size_t size, const char *base,
		      const struct manifest_pack *p)
{
	char hex[SHA256_HEX_SIZE + 1];
	int n;

	sha256_to_hex(p->digest, hex);
	n = snprintf(out, size, "%s/packs/%s.pack", base, hex);
	return n < 0 || (size_t)n >= size ? -ENAMETOOLONG : 0;
}

/*
 * The manifest's signature, from mirror @mirror only (a signature is
 * about that copy). Returns 0 or -EBADMSG with the reason in @why.
 */
static int check_signature(struct fetch_engine *e, const char *url,
			   unsigned int mirror, const struct signature_key *key,
			   const unsigned char hash[SHA256_SIZE], char *why,
			   size_t why_size)
{
	char sig_url[CONFIG_URL_MAX + CONFIG_FSID_MAX + 24], fwhy[400];
	unsigned char *sig;
	uint64_t len;
	unsigned int from;
	int ret;

	snprintf(sig_url, sizeof(sig_url), "%s.sig", url);
	ret = fetch_file_wait(e, sig_url, ~(1u << mirror), 1, SIGNATURE_MAX,
			      &sig, &len, &from, fwhy, sizeof(fwhy));
	if (ret) {
		snprintf(why, why_size, "its signature %s.sig: %.300s",
			 url + strlen(fetch_engine_base(e)) + 1, fwhy);
		return -EBADMSG;
	}
	ret = signature_verify(key, hash, sig, len, why, why_size);
	free(sig);
	return ret;
}

int verified_load_manifest(struct fetch_engine *e, const char *fsid,
			   const char *digest_hex,
			   const struct signature_key *key,
			   struct manifest **out, char *why, size_t why_size)
{
	char url[CONFIG_URL_MAX + CONFIG_FSID_MAX + 16];
	unsigned char want[SHA256_SIZE], got[SHA256_SIZE];
	char got_hex[SHA256_HEX_SIZE + 1], pwhy[512], last[600] = "";
	char fwhy[1400];
	unsigned int tries, n = fetch_engine_mirrors(e);
	unsigned char *buf;
	uint64_t len;
	uint32_t skip = 0;
	int ret = -EINVAL;

	if (digest_hex &&
	    sha256_from_hex(digest_hex, strlen(digest_hex), want)) {
		snprintf(why, why_size, "erofs.digest=sha256:%s is not a sha256",
			 digest_hex);
		return -EINVAL;
	}
	if ((size_t)snprintf(url, sizeof(url), "%s/%s.manifest",
			     fetch_engine_base(e), fsid) >= sizeof(url)) {
		snprintf(why, why_size, "manifest URL too long");
		return -ENAMETOOLONG;
	}
	for (tries = 0; tries < n; tries++) {
		unsigned int mirror;

		ret = fetch_file_wait(e, url, skip, MANIFEST_HEADER_SIZE,
				      MANIFEST_MAX_SIZE, &buf, &len, &mirror,
				      fwhy, sizeof(fwhy));
		if (ret && ret != -EBADMSG) {
			snprintf(why, why_size, "%s: %s", url, fwhy);
			return ret;
		}
		if (ret) {
			buf = NULL;
			snprintf(pwhy, sizeof(pwhy), "%.200s: not a manifest",
				 fwhy);
		} else {
			sha256(buf, len, got);
			if (digest_hex && memcmp(got, want, SHA256_SIZE)) {
				sha256_to_hex(got, got_hex);
				snprintf(pwhy, sizeof(pwhy),
					 "its sha256 is %s, not erofs.digest=sha256:%s",
					 got_hex, digest_hex);
				ret = -EBADMSG;
			} else if (key) {
				ret = check_signature(e, url, mirror, key, got,
						      pwhy, sizeof(pwhy));
			}
		}
		if (!ret) {
			/* Vouched for: a manifest that does not parse is fatal. */
			ret = manifest_parse(buf, len, out, pwhy, sizeof(pwhy));
			free(buf);
			if (ret)
				snprintf(why, why_size, "%s: %s", url, pwhy);
			return ret;
		}
		free(buf);
		log_warn("%s%s: %s%s", fetch_engine_mirror(e, mirror),
			 url + strlen(fetch_engine_base(e)), pwhy,
			 tries + 1 < n ? "; trying the next mirror" : "");
		snprintf(last, sizeof(last), "%s", pwhy);
		fetch_engine_distrust(e, mirror);
		skip |= 1u << mirror;
	}
	if (digest_hex && !key)
		snprintf(why, why_size,
			 "%s: no mirror serves a copy with sha256 %s (the image was rebuilt? check erofs.digest=)",
			 url, digest_hex);
	else
		snprintf(why, why_size, "%s: no mirror serves a copy %s (last: %s)",
			 url, key ? "signed by the image key" : "", last);
	return -EBADMSG;
}
