// SPDX-License-Identifier: MIT
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "bootset.h"
#include "bootstrap.h"
#include "builder.h"
#include "chunk.h"
#include "chunker.h"
#include "io.h"
#include "msg.h"
#include "outdir.h"
#include "packer.h"
#include "previous.h"
#include "tmpfile.h"
#include "xalloc.h"

int packer_init(struct packer *p, const char *outdir, int npaths,
		char **paths, int level)
{
	struct stat st;
	int i, j;

	memset(p, 0, sizeof(*p));
	p->new_pack = NO_INDEX;
	p->old_fd = -1;
	p->writer.fd = -1;
	p->outdir = outdir;
	if (stat(p->outdir, &st))
		return pack_err("OUTDIR %s: %s", p->outdir, strerror(errno));
	if (!S_ISDIR(st.st_mode))
		return pack_err("OUTDIR %s is not a directory", p->outdir);
	p->packdir = xasprintf("%s/packs", p->outdir);
	p->nblobs = (unsigned int)npaths;
	for (i = 0; i < npaths; i++) {
		struct stat a, b;

		p->blobs[i].path = paths[i];
		if (stat(paths[i], &a))
			return pack_err("%s: %s", paths[i], strerror(errno));
		/* Writing the tags would change a blob already hashed. */
		for (j = 0; j < i; j++)
			if (!stat(paths[j], &b) && a.st_dev == b.st_dev &&
			    a.st_ino == b.st_ino)
				return pack_err("%s and %s are the same file",
						paths[j], paths[i]);
	}
	if (pack_writer_init(&p->writer, level))
		return -1;
	p->dctx = xdctx_new();
	p->zcap = ZSTD_compressBound(MANIFEST_CHUNK_MAX);
	p->buf = xrealloc(NULL, CHUNKER_MAX, 1);
	p->zbuf = xrealloc(NULL, p->zcap, 1);
	p->vbuf = xrealloc(NULL, MANIFEST_CHUNK_MAX, 1);
	return 0;
}

void packer_free(struct packer *p)
{
	unsigned int i;

	if (p->old_fd >= 0)
		close(p->old_fd);
	for (i = 0; i < p->nblobs; i++)
		free(p->blobs[i].refs);
	pack_writer_free(&p->writer);
	free(p->packdir);
	free(p->packs);
	free(p->old);
	free(p->chunks);
	digest_map_free(&p->pack_map);
	digest_map_free(&p->old_map);
	digest_map_free(&p->chunk_map);
	digest_map_free(&p->boot_map);
	free(p->boot);
	free(p->prefetch);
	free(p->buf);
	free(p->zbuf);
	free(p->vbuf);
	ZSTD_freeDCtx(p->dctx);
}

/* Appends @data to the new pack as chunk @c, opening the pack if need be. */
static int append_new(struct packer *p, struct manifest_chunk *c,
		      const unsigned char *data, size_t len)
{
	if (p->new_pack == NO_INDEX) {
		if (pack_writer_open(&p->writer, p->packdir))
			return -1;
		xgrow((void **)&p->packs, &p->packs_cap, p->npacks + 1,
		      sizeof(*p->packs));
		p->new_pack = (uint32_t)p->npacks++;
		memset(&p->packs[p->new_pack], 0, sizeof(*p->packs));
		p->packs[p->new_pack].index = NO_INDEX;
	}
	if (pack_writer_append(&p->writer, c, data, len))
		return -1;
	c->pack = p->new_pack;
	return 0;
}

/* The next chunk of blob @b: an earlier one, a --previous one or a new one. */
static int add_chunk(struct packer *p, struct blob *b,
		     const unsigned char *data, size_t len)
{
	unsigned char d[SHA256_SIZE];
	uint32_t i, o;

	if (p->nrefs >= MANIFEST_CHUNKS_MAX)
		return pack_err("more than %u chunks: too large for one manifest",
				MANIFEST_CHUNKS_MAX);
	sha256(data, len, d);
	i = digest_map_find(&p->chunk_map, d, p->chunks, sizeof(*p->chunks));
	if (i == NO_INDEX) {
		struct chunk c;

		o = digest_map_find(&p->old_map, d, p->old, sizeof(*p->old));
		if (o != NO_INDEX && p->old[o].m.size == len) {
			if (previous_check(p, &p->old[o].m, data))
				return -1;
			c = p->old[o];
			p->reused++;
		} else {
			memcpy(c.m.digest, d, SHA256_SIZE);
			c.m.size = (uint32_t)len;
			if (append_new(p, &c.m, data, len))
				return -1;
		}
		c.index = NO_INDEX;
		xgrow((void **)&p->chunks, &p->chunks_cap, p->nchunks + 1,
		      sizeof(*p->chunks));
		i = (uint32_t)p->nchunks++;
		p->chunks[i] = c;
		digest_map_add(&p->chunk_map, i, p->chunks, sizeof(*p->chunks));
	}
	xgrow((void **)&b->refs, &b->cap, b->nrefs + 1, sizeof(*b->refs));
	b->refs[b->nrefs++] = i;
	p->nrefs++;
	return 0;
}

/* Cuts blob @b into chunks (chunker.h) and hashes it whole. */
static int chunk_blob(struct packer *p, struct blob *b)
{
	struct sha256_ctx whole;
	uint64_t off = 0;
	size_t have = 0;
	struct stat st;
	int fd, eof = 0, ret = -1;

	fd = open(b->path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return pack_err("%s: %s", b->path, strerror(errno));
	if (fstat(fd, &st)) {
		pack_err("%s: %s", b->path, strerror(errno));
		goto out;
	}
	if (!S_ISREG(st.st_mode) || !st.st_size ||
	    (uint64_t)st.st_size > MANIFEST_BLOB_SIZE_MAX) {
		pack_err("%s: %s", b->path, !S_ISREG(st.st_mode) ?
			 "not a regular file" : !st.st_size ? "empty" :
			 "larger than 2^47 bytes");
		goto out;
	}
	sha256_init(&whole);
	b->size = 0;
	for (;;) {
		size_t len;

		if (!eof && have < CHUNKER_MAX) {
			ssize_t n = io_pread_upto(fd, p->buf + have,
						  CHUNKER_MAX - have, off);

			if (n < 0) {
				pack_err("%s: %s", b->path, strerror((int)-n));
				goto out;
			}
			if ((size_t)n < CHUNKER_MAX - have)
				eof = 1;
			have += (size_t)n;
			off += (uint64_t)n;
		}
		if (!have)
			break;
		len = chunker_cut(p->buf, have);
		sha256_update(&whole, p->buf, len);
		if (add_chunk(p, b, p->buf, len))
			goto out;
		b->size += len;
		have -= len;
		memmove(p->buf, p->buf + len, have);
		if (pack_interrupted) {
			pack_err("interrupted");
			goto out;
		}
	}
	if (b->size != (uint64_t)st.st_size) {
		pack_err("%s: changed while being read", b->path);
		goto out;
	}
	sha256_final(&whole, b->digest);
	sha256_to_hex(b->digest, b->tag);
	ret = 0;
out:
	close(fd);
	return ret;
}

/* The extra devices first: the bootstrap names them by sha256. */
static int chunk_blobs(struct packer *p)
{
	char tags[MANIFEST_BLOBS_MAX][SHA256_HEX_SIZE + 1];
	struct erofs_sb_info sbi;
	unsigned int i;
	int fd, ret = -1;

	/* The bootstrap is checked before any blob is read. */
	fd = open(p->blobs[0].path, (p->nblobs > 1 ? O_RDWR : O_RDONLY) |
		  O_CLOEXEC);
	if (fd < 0)
		return pack_err("%s: %s", p->blobs[0].path, strerror(errno));
	if (bootstrap_read_sb(fd, p->blobs[0].path, &sbi))
		goto out;
	if (sbi.extra_devices != p->nblobs - 1) {
		pack_err("%s: the image has %u extra device%s, but %u blob file%s given",
			 p->blobs[0].path, sbi.extra_devices,
			 sbi.extra_devices == 1 ? "" : "s", p->nblobs - 1,
			 p->nblobs == 2 ? " was" : "s were");
		goto out;
	}
	if (make_packdir(p->packdir))
		goto out;
	for (i = 1; i < p->nblobs; i++) {
		if (chunk_blob(p, &p->blobs[i]))
			goto out;
		memcpy(tags[i - 1], p->blobs[i].tag, sizeof(tags[0]));
	}
	if (p->nblobs > 1 && bootstrap_write_tags(fd, p->blobs[0].path, &sbi,
						  tags, p->nblobs - 1))
		goto out;
	close(fd);
	fd = -1;
	ret = chunk_blob(p, &p->blobs[0]);
out:
	if (fd >= 0)
		close(fd);
	return ret;
}

/* Pack @k, new in this run, from writer @w. Returns 0 or -1 (said why). */
static int publish_new(struct packer *p, struct pack_writer *w, uint32_t k)
{
	p->packs[k].size = w->size;
	return pack_writer_publish(w, p->outdir, p->packs[k].digest);
}

/*
 * The stored frame of chunk @c into @frame: from the pack this run wrote or
 * from a --previous pack, which it is checked against its digest again (it
 * was when reused; the file may have changed since). 0 or -1 (said why).
 */
static int read_frame(struct packer *p, struct manifest_chunk *c,
		      unsigned char *frame)
{
	const struct pack *k = &p->packs[c->pack];
	char why[128], *path;
	int err;

	if (c->pack == p->new_pack) {
		err = io_pread_all(p->writer.fd, frame, c->stored_size, c->offset);
		if (err)
			return pack_err("cannot read %s: %s", p->writer.tmp,
					strerror(-err));
		return 0;
	}
	path = pack_path(k->dir, k->digest);
	err = previous_pack_fd(p, c->pack, path) < 0 ? -errno :
	      io_pread_all(p->old_fd, frame, c->stored_size, c->offset);
	if (!err && chunk_decode_checked(p->dctx, c, frame, p->vbuf, why,
					 sizeof(why))) {
		pack_err("--previous %s: the chunk at offset %llu changed since it was checked: %s",
			 path, (unsigned long long)c->offset, why);
		err = -EIO;
	} else if (err) {
		pack_err("--previous %s: %s", path, strerror(-err));
	}
	free(path);
	return err ? -1 : 0;
}

/*
 * The table's chunks from --previous packs all lie in one of them, in the
 * table's order (the boot pack of the version the record was made on).
 */
static int reused_in_order(const struct packer *p, const uint32_t *chunk_of)
{
	unsigned char *seen = xrealloc(NULL, p->nchunks ? p->nchunks : 1, 1);
	uint32_t pack = NO_INDEX;
	uint64_t last = 0;
	int ok = 1;
	size_t i;

	memset(seen, 0, p->nchunks);
	for (i = 0; ok && i < p->nprefetch; i++) {
		uint32_t c = chunk_of[p->prefetch[i]];
		const struct manifest_chunk *m = &p->chunks[c].m;

		/* new, or named before (it goes where it first came) */
		if (m->pack == p->new_pack || seen[c]++)
			continue;
		if (pack == NO_INDEX)
			pack = m->pack;
		else if (m->pack != pack || m->offset < last)
			ok = 0;
		last = m->offset;
	}
	free(seen);
	return ok;
}

/*
 * With a prefetch table, its chunks, new or reused, go into a pack of their
 * own in its order, first touch first, so that a boot streams them front to
 * back in few ranges; the other new chunks stay in the order they were cut,
 * in a second pack. Both are copies of stored frames (the pack
 * chunk_blobs() wrote is dropped). Reused chunks that already lie in one
 * pack in the table's order stay there (a record used again for the next
 * version), and only the new ones are copied. Returns 0 or -1 (said why).
 */
static int split_boot_set(struct packer *p)
{
	struct pack_writer boot = { .fd = -1 }, rest = { .fd = -1 };
	uint32_t *chunk_of, boot_pack, new_pack = p->new_pack;
	unsigned char *moved, *frame = NULL;
	size_t i, j, r = 0, nboot = 0, nrest = 0, reused = 0, kept = 0;
	int ret = -1;

	chunk_of = xrealloc(NULL, p->nrefs ? p->nrefs : 1, sizeof(*chunk_of));
	for (i = 0; i < p->nblobs; i++)
		for (j = 0; j < p->blobs[i].nrefs; j++)
			chunk_of[r++] = p->blobs[i].refs[j];
	moved = xrealloc(NULL, p->nchunks ? p->nchunks : 1, 1);
	memset(moved, 0, p->nchunks);
	for (i = 0; i < p->nprefetch; i++) {
		uint32_t c = chunk_of[p->prefetch[i]];

		if (!moved[c]) {
			moved[c] = 1;
			nboot++;
			reused += p->chunks[c].m.pack != new_pack;
		}
	}
	if (reused && reused_in_order(p, chunk_of)) {
		/* an earlier boot pack, say: its chunks stay where they are */
		for (i = 0; i < p->nchunks; i++)
			if (moved[i] && p->chunks[i].m.pack != new_pack)
				moved[i] = 0;
		kept = reused;
		nboot -= reused;
		reused = 0;
	}
	for (i = 0; new_pack != NO_INDEX && i < p->nchunks; i++)
		nrest += p->chunks[i].m.pack == new_pack && !moved[i];
	if (!nboot) {
		pack_say("boot set: %zu chunks, already in one pack in first-touch order: kept there",
			 kept);
		free(chunk_of);
		free(moved);
		return new_pack == NO_INDEX ? 0 :
		       publish_new(p, &p->writer, new_pack);
	}
	frame = xrealloc(NULL, p->zcap, 1);
	xgrow((void **)&p->packs, &p->packs_cap, p->npacks + 1,
	      sizeof(*p->packs));
	boot_pack = (uint32_t)p->npacks++;
	memset(&p->packs[boot_pack], 0, sizeof(*p->packs));
	p->packs[boot_pack].index = NO_INDEX;
	if (pack_writer_init(&boot, 0) || pack_writer_open(&boot, p->packdir) ||
	    (nrest && (pack_writer_init(&rest, 0) ||
		       pack_writer_open(&rest, p->packdir))))
		goto out;
	/* the table's chunks in its order, then the rest of the new in theirs */
	for (i = 0; i < p->nprefetch + p->nchunks; i++) {
		int to_boot = i < p->nprefetch;
		uint32_t c = to_boot ? chunk_of[p->prefetch[i]] :
				       (uint32_t)(i - p->nprefetch);
		struct manifest_chunk *m = &p->chunks[c].m;

		if (to_boot ? moved[c] != 1 : moved[c] || m->pack != new_pack)
			continue;
		if (read_frame(p, m, frame) ||
		    pack_writer_copy(to_boot ? &boot : &rest, m, frame))
			goto out;
		if (to_boot) {
			m->pack = boot_pack;
			moved[c] = 2;	/* a chunk the table names twice: once */
		}
	}
	if (publish_new(p, &boot, boot_pack) ||
	    (nrest && publish_new(p, &rest, new_pack)))
		goto out;
	pack_say("boot set: %zu chunks (%zu of them reused, %llu bytes stored) in a pack of their own, first touch first%s",
		 nboot, reused, (unsigned long long)p->packs[boot_pack].size,
		 kept ? "; the others already in one pack in that order, kept there" : "");
	ret = 0;
out:
	pack_writer_discard(&p->writer);
	pack_writer_free(&boot);
	pack_writer_free(&rest);
	free(frame);
	free(chunk_of);
	free(moved);
	return ret;
}

static void print_summary(const struct packer *p, uint64_t fresh,
			  uint64_t total, unsigned int npacks)
{
	uint64_t plain = 0, stored = 0;
	unsigned int i;
	size_t j;

	for (j = 0; j < p->nchunks; j++)
		stored += p->chunks[j].m.stored_size;
	for (i = 0; i < p->nblobs; i++)
		plain += p->blobs[i].size;
	pack_say("%zu chunks (%zu distinct, %zu of them reused), %llu bytes plain, %llu stored, ratio %.2f",
		 p->nrefs, p->nchunks, p->reused, (unsigned long long)plain,
		 (unsigned long long)stored, (double)plain / (double)stored);
	pack_say("new bytes %llu of %llu (%.1f%%) in %u pack%s",
		 (unsigned long long)fresh, (unsigned long long)total,
		 100.0 * (double)fresh / (double)total, npacks,
		 npacks == 1 ? "" : "s");
}

int pack_image(struct packer *p, const char *manifest_path)
{
	unsigned char digest[SHA256_SIZE], *mbuf = NULL;
	char hex[SHA256_HEX_SIZE + 1], *path = NULL;
	uint64_t total = 0, fresh = 0;
	unsigned int npacks = 0;
	size_t mlen, j;
	int ret = -1;

	if (chunk_blobs(p) || bootset_refs(p))
		goto out;
	if (p->nprefetch ? split_boot_set(p) :
	    p->new_pack != NO_INDEX &&
	    publish_new(p, &p->writer, p->new_pack))
		goto out;
	if (build_manifest(p, &mbuf, &mlen))
		goto out;
	/* Only the old packs the new manifest uses come along. */
	for (j = 0; j < p->npacks; j++) {
		const struct pack *k = &p->packs[j];

		if (k->index == NO_INDEX)
			continue;
		npacks++;
		total += k->size;
		if (!k->dir)
			fresh += k->size;
		else if (link_pack(p->outdir, k->dir, k->digest, k->size))
			goto out;
	}

	sha256(mbuf, mlen, digest);
	sha256_to_hex(digest, hex);
	if (!manifest_path)
		manifest_path = path = xasprintf("%s/%s.manifest", p->outdir,
						 hex);
	if (write_manifest(mbuf, mlen, manifest_path))
		goto out;
	print_summary(p, fresh, total, npacks);
	printf("%s\n", hex);
	if (fflush(stdout) || ferror(stdout)) {
		pack_err("cannot write to stdout");
		goto out;
	}
	ret = 0;
out:
	free(mbuf);
	free(path);
	return ret;
}
