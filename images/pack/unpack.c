// SPDX-License-Identifier: MIT
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <zstd.h>

#include "bootstrap.h"
#include "chunk.h"
#include "digestmap.h"
#include "io.h"
#include "msg.h"
#include "outdir.h"
#include "tmpfile.h"
#include "unpack.h"
#include "xalloc.h"

struct unpacker {
	const struct manifest *m;
	const char *destdir;
	char **paths;			/* of each pack */
	ZSTD_DCtx *dctx;
	unsigned char *stored, *plain;
	int pfd;			/* the pack last read */
	uint32_t pfd_pack;
};

/* Reads chunk @r of the refs into u->plain, checked. */
static int unpack_chunk(struct unpacker *u, uint32_t b, uint32_t r)
{
	const struct manifest *m = u->m;
	uint32_t ci = m->refs[r];
	const struct manifest_chunk *c = &m->chunks[ci];
	char why[160];
	ssize_t n;

	if (u->pfd < 0 || u->pfd_pack != c->pack) {
		if (u->pfd >= 0)
			close(u->pfd);
		u->pfd = open(u->paths[c->pack], O_RDONLY | O_CLOEXEC);
		u->pfd_pack = c->pack;
		if (u->pfd < 0)
			return pack_err("pack %u, %s: %s", c->pack,
					u->paths[c->pack], strerror(errno));
	}
	n = io_pread_upto(u->pfd, u->stored, c->stored_size, c->offset);
	if (n != c->stored_size)
		return pack_err("chunk %u in pack %u, %s, offset %llu: %s", ci,
				c->pack, u->paths[c->pack],
				(unsigned long long)c->offset,
				n < 0 ? strerror(-n) : "the pack ends before it");
	if (!chunk_decode_checked(u->dctx, c, u->stored, u->plain, why,
				  sizeof(why)))
		return 0;
	return pack_err("chunk %u (blob %u, bytes %llu-%llu) in pack %u, %s, offset %llu, %u bytes: %s",
			ci, b, (unsigned long long)m->ref_off[r],
			(unsigned long long)m->ref_off[r] + c->size - 1, c->pack,
			u->paths[c->pack], (unsigned long long)c->offset,
			c->stored_size, why);
}

/* Writes blob @b as DESTDIR/<tag>, every chunk checked, or nothing. */
static int unpack_blob(struct unpacker *u, uint32_t b)
{
	const struct manifest_blob *blob = &u->m->blobs[b];
	char hex[SHA256_HEX_SIZE + 1], *tmp = NULL, *final = NULL;
	unsigned char got[SHA256_SIZE];
	struct sha256_ctx whole;
	int fd, n, ret = -1;
	uint64_t off = 0;
	uint32_t r;

	fd = tmp_create(u->destdir, &tmp);
	if (fd < 0)
		goto out;
	sha256_init(&whole);
	for (r = blob->first_ref; r < blob->first_ref + blob->nrefs; r++) {
		uint32_t size = u->m->chunks[u->m->refs[r]].size;

		if (unpack_chunk(u, b, r))
			goto out;
		n = io_pwrite_all(fd, u->plain, size, off);
		if (n) {
			pack_err("cannot write %s: %s", tmp, strerror(-n));
			goto out;
		}
		sha256_update(&whole, u->plain, size);
		off += size;
		if (pack_interrupted) {
			pack_err("interrupted");
			goto out;
		}
	}
	sha256_final(&whole, got);
	/* Cannot differ when every chunk matched, but the tag is what the
	 * kernel asks for, so check what it names. */
	if (memcmp(got, blob->digest, SHA256_SIZE)) {
		sha256_to_hex(got, hex);
		pack_err("blob %u: its chunks make sha256 %s, not its tag %s", b,
			 hex, blob->tag);
		goto out;
	}
	final = xasprintf("%s/%s", u->destdir, blob->tag);
	if (rename(tmp, final)) {
		pack_err("cannot write %s: %s", final, strerror(errno));
		goto out;
	}
	tmp_forget(tmp);
	ret = b ? 0 : bootstrap_check_tags(u->m, final);
out:
	if (fd >= 0)
		close(fd);
	tmp_drop(tmp);
	free(final);
	return ret;
}

int unpack(const char *outdir, const char *mpath, const char *destdir)
{
	struct unpacker u = { .destdir = destdir, .pfd = -1,
			      .pfd_pack = NO_INDEX };
	unsigned char mdigest[SHA256_SIZE], got[SHA256_SIZE];
	char hex[SHA256_HEX_SIZE + 1];
	struct manifest *m;
	struct stat st;
	size_t zmax;
	uint32_t i;
	int ret = -1;

	if (read_manifest(mpath, &m, mdigest))
		return -1;
	u.m = m;
	/* Frames are never much larger than their plain bytes. */
	zmax = ZSTD_compressBound(m->chunk_max);
	for (i = 0; i < m->nchunks; i++)
		if (m->chunks[i].stored_size > zmax) {
			pack_err("%s: chunk %u: %u stored bytes for %u plain",
				 mpath, i, m->chunks[i].stored_size,
				 m->chunks[i].size);
			goto out;
		}
	u.paths = xrealloc(NULL, m->npacks, sizeof(*u.paths));
	memset(u.paths, 0, m->npacks * sizeof(*u.paths));
	for (i = 0; i < m->npacks; i++) {
		u.paths[i] = pack_path(outdir, m->packs[i].digest);
		if (stat(u.paths[i], &st)) {
			pack_err("pack %u, %s: %s", i, u.paths[i], strerror(errno));
			goto out;
		}
		if (!S_ISREG(st.st_mode) || (uint64_t)st.st_size !=
		    m->packs[i].size) {
			pack_err("pack %u, %s: %llu bytes, the manifest says %llu%s",
				 i, u.paths[i], (unsigned long long)st.st_size,
				 (unsigned long long)m->packs[i].size,
				 (uint64_t)st.st_size < m->packs[i].size ?
				 " (truncated?)" : "");
			goto out;
		}
	}
	if (mkdir(destdir, 0755) && errno != EEXIST) {
		pack_err("cannot make %s: %s", destdir, strerror(errno));
		goto out;
	}
	u.dctx = xdctx_new();
	u.stored = xrealloc(NULL, zmax, 1);
	u.plain = xrealloc(NULL, m->chunk_max, 1);
	for (i = 0; i < m->nblobs; i++)
		if (unpack_blob(&u, i))
			goto out;
	/* Last: bytes of a pack that no chunk here uses. */
	for (i = 0; i < m->npacks; i++) {
		int n = file_sha256(u.paths[i], got);

		if (n) {
			pack_err("pack %u, %s: %s", i, u.paths[i], strerror(-n));
			goto out;
		}
		if (memcmp(got, m->packs[i].digest, SHA256_SIZE)) {
			pack_err("pack %u, %s: its sha256 is not its name (damaged outside the chunks of this manifest)",
				 i, u.paths[i]);
			goto out;
		}
	}
	sha256_to_hex(mdigest, hex);
	pack_say("%s (sha256 %s): %u blob%s, %u chunks in %u pack%s, all as the manifest says; written to %s",
		 mpath, hex, m->nblobs, m->nblobs == 1 ? "" : "s", m->nchunks,
		 m->npacks, m->npacks == 1 ? "" : "s", destdir);
	ret = 0;
out:
	if (u.pfd >= 0)
		close(u.pfd);
	if (u.paths)
		for (i = 0; i < m->npacks; i++)
			free(u.paths[i]);
	free(u.paths);
	free(u.stored);
	free(u.plain);
	ZSTD_freeDCtx(u.dctx);
	manifest_free(m);
	return ret;
}
