// SPDX-License-Identifier: MIT
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <fcntl.h>
#include <unistd.h>

#include "config.h"
#include "fetch_file.h"
#include "io.h"
#include "log.h"
#include "signature.h"
#include "store.h"
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
	ret = fetch_file_wait(e, sig_url, ~(1u << mirror), 1, SIGNATURE_MAX, 0,
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

/*
 * verified_load_manifest(), keeping the manifest's bytes in @raw (when not
 * NULL; the caller's to free) and failing on a network without answers
 * after the time limit when @no_wait.
 */
static int load_manifest(struct fetch_engine *e, const char *fsid,
			 const char *digest_hex,
			 const struct signature_key *key, int no_wait,
			 struct manifest **out, unsigned char **raw,
			 uint64_t *raw_len, char *why, size_t why_size)
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
				      MANIFEST_MAX_SIZE, no_wait, &buf, &len, &mirror,
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
			if (!ret && raw) {
				*raw = buf;
				*raw_len = len;
				buf = NULL;
			}
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

int verified_load_manifest(struct fetch_engine *e, const char *fsid,
			   const char *digest_hex,
			   const struct signature_key *key,
			   struct manifest **out, char *why, size_t why_size)
{
	return load_manifest(e, fsid, digest_hex, key, 0, out, NULL, NULL, why,
			     why_size);
}

/* <dir>/<fsid>.manifest: the manifest a disk copy is of. */
static void manifest_path(char *out, size_t size, const struct config *cfg)
{
	snprintf(out, size, "%s/%s.manifest", cfg->store_dir, cfg->fsid);
}

/* Keeps the vouched-for manifest next to the disk copy, for a boot offline. */
static void keep_manifest(const struct config *cfg, const unsigned char *raw,
			  uint64_t len)
{
	char path[CONFIG_PATH_MAX + CONFIG_FSID_MAX + 16], tmp[sizeof(path) + 4];
	int fd, ret;

	manifest_path(path, sizeof(path), cfg);
	snprintf(tmp, sizeof(tmp), "%s.new", path);
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	ret = fd < 0 ? -errno : io_pwrite_all(fd, raw, len, 0);
	if (!ret && fsync(fd))
		ret = -errno;
	if (fd >= 0)
		close(fd);
	if (!ret && rename(tmp, path))
		ret = -errno;
	if (ret)
		log_warn("%s: cannot keep the manifest: %s; the disk copy cannot be used without a mirror",
			 path, strerror(-ret));
}

/*
 * The copy in the store directory when no mirror answers: the manifest kept
 * there must have the sha256 of erofs.digest=, and every blob it lists must
 * be complete. Returns 0 with the manifest, or -errno with why not in @why.
 */
static int local_copy(const struct config *cfg, const char *digest_hex,
		      struct manifest **out, char *why, size_t why_size)
{
	char path[CONFIG_PATH_MAX + CONFIG_FSID_MAX + 16], got_hex[SHA256_HEX_SIZE + 1];
	char hex[SHA256_HEX_SIZE + 1], pwhy[512];
	unsigned char got[SHA256_SIZE], *buf;
	struct manifest *m;
	unsigned int flags;
	uint64_t size, total;
	ssize_t len;
	uint32_t i;
	int ret;

	manifest_path(path, sizeof(path), cfg);
	len = io_read_file(path, &buf, MANIFEST_MAX_SIZE);
	if (len < 0) {
		snprintf(why, why_size, "no manifest kept in %.400s (%s)",
			 cfg->store_dir, strerror((int)-len));
		return (int)len;
	}
	sha256(buf, (size_t)len, got);
	sha256_to_hex(got, got_hex);
	if (strcmp(got_hex, digest_hex)) {
		free(buf);
		snprintf(why, why_size,
			 "the copy in %.400s is of another image (its manifest's sha256 is %s)",
			 cfg->store_dir, got_hex);
		return -ESTALE;
	}
	ret = manifest_parse(buf, (size_t)len, &m, pwhy, sizeof(pwhy));
	free(buf);
	if (ret) {
		snprintf(why, why_size, "%.400s: %.500s", path, pwhy);
		return ret;
	}
	for (i = 0; i < m->nblobs; i++) {
		const struct manifest_blob *mb = &m->blobs[i];
		const char *name = i ? mb->tag : cfg->fsid;
		struct store *st;
		uint64_t have = 0;

		ret = store_peek(cfg->store_dir, name, &size, hex, &flags);
		if (!ret && (size != mb->size || strcmp(hex, mb->tag)))
			ret = -ESTALE;
		if (!ret)
			ret = store_open(&st, cfg->store_dir, name, mb->size,
					 mb->tag, flags);
		if (!ret) {
			have = store_pages(st, &total);
			store_close(st);
		}
		if (ret || have != total) {
			snprintf(why, why_size,
				 "the copy in %.400s is not complete (blob %s: %llu of %llu pages)",
				 cfg->store_dir, name, (unsigned long long)have,
				 (unsigned long long)((mb->size + 4095) / 4096));
			manifest_free(m);
			return -ENODATA;
		}
	}
	*out = m;
	return 0;
}

int verified_setup(struct fetch_engine *e, const struct config *cfg,
		   const struct signature_key *key, struct manifest **out)
{
	const char *digest = cfg->digest[0] ?
			     cfg->digest + strlen(CONFIG_DIGEST_PREFIX) : NULL;
	char why[2048];
	unsigned char *raw = NULL;
	uint64_t raw_len = 0;
	int ret, offline;

	/* With a kept copy of this very image, a boot need not wait for a mirror. */
	offline = digest && cfg->store_dir[0];
	ret = load_manifest(e, cfg->fsid, digest, key, offline, out,
			    offline ? &raw : NULL, &raw_len, why, sizeof(why));
	if (ret && offline && (ret == -ETIMEDOUT || ret == -EIO)) {
		char lwhy[1200];

		if (!local_copy(cfg, digest, out, lwhy, sizeof(lwhy))) {
			log_warn("booting from the local copy in %s: no mirror answers (%s); it is complete and its manifest has the sha256 of erofs.digest=",
				 cfg->store_dir, why);
			return 0;
		}
		if (!config_waits(cfg)) {
			log_err("cannot load the manifest of fsid %s: %s; not booting from the local copy: %s",
				cfg->fsid, why, lwhy);
			return ret;
		}
		/* erofs.onerror=wait: as without a copy, until a mirror answers */
		log_warn("fsid %s: no mirror answers (%s); not booting from the local copy: %s; waiting for a mirror",
			 cfg->fsid, why, lwhy);
		ret = load_manifest(e, cfg->fsid, digest, key, 0, out, &raw,
				    &raw_len, why, sizeof(why));
	}
	if (ret) {
		log_err("cannot load the manifest of fsid %s: %s", cfg->fsid,
			why);
	} else {
		if (raw)
			keep_manifest(cfg, raw, raw_len);
		log_info("manifest of fsid %s: %u blobs, %u chunks in %u packs, %s%s%s",
			 cfg->fsid, (*out)->nblobs, (*out)->nchunks,
			 (*out)->npacks,
			 digest ? "sha256 matches erofs.digest" : "",
			 digest && key ? ", " : "",
			 key ? "signed by the image key" : "");
	}
	free(raw);
	return ret;
}
