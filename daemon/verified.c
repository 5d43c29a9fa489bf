// SPDX-License-Identifier: MIT
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "log.h"
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

int verified_load_manifest(struct fetch_engine *e, const char *fsid,
			   const char *digest_hex, struct manifest **out,
			   char *why, size_t why_size)
{
	char url[CONFIG_URL_MAX + CONFIG_FSID_MAX + 16];
	unsigned char want[SHA256_SIZE], got[SHA256_SIZE];
	char got_hex[SHA256_HEX_SIZE + 1], pwhy[256];
	struct blocking b;
	uint32_t skip = 0;
	unsigned int tries;
	int ret;

	if (sha256_from_hex(digest_hex, strlen(digest_hex), want)) {
		snprintf(why, why_size, "erofs.digest=sha256:%s is not a sha256",
			 digest_hex);
		return -EINVAL;
	}
	if ((size_t)snprintf(url, sizeof(url), "%s/%s.manifest",
			     fetch_engine_base(e), fsid) >= sizeof(url)) {
		snprintf(why, why_size, "manifest URL too long");
		return -ENAMETOOLONG;
	}
	for (tries = 0; tries < fetch_engine_mirrors(e); tries++) {
		unsigned int mirror;

		memset(&b, 0, sizeof(b));
		b.req.kind = FETCH_PROBE;
		b.req.url = url;
		b.req.skip_mirrors = skip;
		ret = run_blocking(e, &b);
		if (ret)
			break;
		if (b.req.size < MANIFEST_HEADER_SIZE ||
		    b.req.size > MANIFEST_MAX_SIZE) {
			/* Not the manifest: another mirror may have it. */
			mirror = b.req.mirror;
			snprintf(b.why, sizeof(b.why),
				 "%llu bytes: not a manifest (%u..%u bytes)",
				 (unsigned long long)b.req.size,
				 MANIFEST_HEADER_SIZE, MANIFEST_MAX_SIZE);
			log_warn("%s%s: %s%s", fetch_engine_mirror(e, mirror),
				 url + strlen(fetch_engine_base(e)), b.why,
				 tries + 1 < fetch_engine_mirrors(e) ?
				 "; trying the next mirror" : "");
			fetch_engine_distrust(e, mirror);
			skip |= 1u << mirror;
			ret = -EBADMSG;
			continue;
		}
		b.req.kind = FETCH_RANGE;
		b.req.off = 0;
		b.req.len = b.req.blob_size = b.req.size;
		b.req.buf = malloc(b.req.size);
		if (!b.req.buf) {
			snprintf(b.why, sizeof(b.why), "out of memory");
			ret = -ENOMEM;
			break;
		}
		ret = run_blocking(e, &b);
		if (ret) {
			free(b.req.buf);
			break;
		}
		mirror = b.req.mirror;
		sha256(b.req.buf, b.req.len, got);
		if (!memcmp(got, want, SHA256_SIZE)) {
			ret = manifest_parse(b.req.buf, b.req.len, out, pwhy,
					     sizeof(pwhy));
			free(b.req.buf);
			if (ret) {
				/* The builder's digest names a broken manifest. */
				snprintf(why, why_size, "%s: %s", url, pwhy);
				return ret;
			}
			return 0;
		}
		free(b.req.buf);
		sha256_to_hex(got, got_hex);
		log_warn("%s%s: its sha256 is %s, not erofs.digest=sha256:%s%s",
			 fetch_engine_mirror(e, mirror), url +
			 strlen(fetch_engine_base(e)), got_hex, digest_hex,
			 tries + 1 < fetch_engine_mirrors(e) ?
			 "; trying the next mirror" : "");
		fetch_engine_distrust(e, mirror);
		skip |= 1u << mirror;
		snprintf(b.why, sizeof(b.why),
			 "no mirror serves a copy with sha256 %s (the image was rebuilt? check erofs.digest=)",
			 digest_hex);
		ret = -EBADMSG;
	}
	snprintf(why, why_size, "%s: %s", url, b.why);
	return ret;
}
