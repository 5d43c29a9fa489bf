// SPDX-License-Identifier: MIT
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
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

/* One request run to completion: the daemon serves nothing before this. */
struct blocking {
	struct fetch_request req;
	int done, err;
	char why[1400];
};

static void blocking_done(struct fetch_request *req, int err, const char *why)
{
	struct blocking *b = req->ctx;

	b->done = 1;
	b->err = err;
	snprintf(b->why, sizeof(b->why), "%s", why);
}

static int run_blocking(struct fetch_engine *e, struct blocking *b)
{
	int ret;

	b->done = 0;
	b->req.done = blocking_done;
	b->req.ctx = b;
	ret = fetch_submit(e, &b->req);
	if (ret) {
		snprintf(b->why, sizeof(b->why), "cannot start a request: %s",
			 strerror(-ret));
		return ret;
	}
	while (!b->done) {
		fetch_engine_wait(e, -1, 1000);
		fetch_engine_run(e);
	}
	return b->err;
}

/*
 * Fetches all of @url (@min..@max bytes) into a new buffer, from mirrors
 * not in @skip. Returns 0 (with the mirror that answered), -EBADMSG for a
 * file of another size (a mirror's fault), or another -errno for a request
 * that failed on every mirror; the reason in b->why either way.
 */
static int fetch_whole(struct fetch_engine *e, struct blocking *b,
		       const char *url, uint32_t skip, uint64_t min,
		       uint64_t max)
{
	int ret;

	memset(b, 0, sizeof(*b));
	b->req.kind = FETCH_PROBE;
	b->req.url = url;
	b->req.skip_mirrors = skip;
	ret = run_blocking(e, b);
	if (ret)
		return ret;
	if (b->req.size < min || b->req.size > max) {
		snprintf(b->why, sizeof(b->why), "%llu bytes, not %llu..%llu",
			 (unsigned long long)b->req.size,
			 (unsigned long long)min, (unsigned long long)max);
		return -EBADMSG;
	}
	b->req.kind = FETCH_RANGE;
	b->req.off = 0;
	b->req.len = b->req.blob_size = b->req.size;
	b->req.buf = malloc(b->req.size);
	if (!b->req.buf) {
		snprintf(b->why, sizeof(b->why), "out of memory");
		return -ENOMEM;
	}
	ret = run_blocking(e, b);
	if (ret) {
		free(b->req.buf);
		b->req.buf = NULL;
	}
	return ret;
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
	char sig_url[CONFIG_URL_MAX + CONFIG_FSID_MAX + 24];
	struct blocking b;
	int ret;

	snprintf(sig_url, sizeof(sig_url), "%s.sig", url);
	ret = fetch_whole(e, &b, sig_url, ~(1u << mirror), 1, SIGNATURE_MAX);
	if (ret) {
		snprintf(why, why_size, "its signature %s.sig: %.300s",
			 url + strlen(fetch_engine_base(e)) + 1, b.why);
		return -EBADMSG;
	}
	ret = signature_verify(key, hash, b.req.buf, b.req.len, why, why_size);
	free(b.req.buf);
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
	unsigned int tries, n = fetch_engine_mirrors(e);
	struct blocking b;
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

		ret = fetch_whole(e, &b, url, skip, MANIFEST_HEADER_SIZE,
				  MANIFEST_MAX_SIZE);
		if (ret && ret != -EBADMSG) {
			snprintf(why, why_size, "%s: %s", url, b.why);
			return ret;
		}
		mirror = b.req.mirror;
		if (ret) {
			snprintf(pwhy, sizeof(pwhy), "%.200s: not a manifest",
				 b.why);
		} else {
			sha256(b.req.buf, b.req.len, got);
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
			ret = manifest_parse(b.req.buf, b.req.len, out, pwhy,
					     sizeof(pwhy));
			free(b.req.buf);
			if (ret)
				snprintf(why, why_size, "%s: %s", url, pwhy);
			return ret;
		}
		free(b.req.buf);
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
