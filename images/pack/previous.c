// SPDX-License-Identifier: MIT
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "chunk.h"
#include "io.h"
#include "msg.h"
#include "outdir.h"
#include "previous.h"
#include "xalloc.h"

/* The index in p->packs of pack @i of manifest @name in @dir, added if new. */
static int add_pack(struct packer *p, const char *dir, const char *name,
		    uint32_t i, const struct manifest_pack *mp, uint32_t *out)
{
	char *pp = pack_path(dir, mp->digest);
	struct stat st;
	uint32_t k;

	if (stat(pp, &st)) {
		pack_err("--previous %s: %s, pack %u of %s: %s", dir, pp, i,
			 name, strerror(errno));
		free(pp);
		return -1;
	}
	if (!S_ISREG(st.st_mode) || (uint64_t)st.st_size != mp->size) {
		pack_err("--previous %s: %s, pack %u of %s: %llu bytes, the manifest says %llu",
			 dir, pp, i, name, (unsigned long long)st.st_size,
			 (unsigned long long)mp->size);
		free(pp);
		return -1;
	}
	free(pp);
	k = digest_map_find(&p->pack_map, mp->digest, p->packs,
			    sizeof(*p->packs));
	if (k == NO_INDEX) {
		xgrow((void **)&p->packs, &p->packs_cap, p->npacks + 1,
		      sizeof(*p->packs));
		k = (uint32_t)p->npacks++;
		memcpy(p->packs[k].digest, mp->digest, SHA256_SIZE);
		p->packs[k].size = mp->size;
		p->packs[k].dir = dir;
		p->packs[k].index = NO_INDEX;
		digest_map_add(&p->pack_map, k, p->packs, sizeof(*p->packs));
	} else if (p->packs[k].size != mp->size) {
		char hex[SHA256_HEX_SIZE + 1];

		sha256_to_hex(mp->digest, hex);
		return pack_err("--previous %s: pack %s is %llu bytes in %s, %llu in %s/packs",
				dir, hex, (unsigned long long)mp->size, name,
				(unsigned long long)p->packs[k].size,
				p->packs[k].dir);
	}
	*out = k;
	return 0;
}

/* Adds the packs and chunks of the manifest @name in @dir. */
static int load_manifest(struct packer *p, const char *dir, const char *name)
{
	char *path = xasprintf("%s/%s", dir, name);
	struct manifest *m = NULL;
	uint32_t *pidx = NULL;
	unsigned char *in_table = NULL;
	uint32_t i;
	int ret = -1;

	if (read_manifest(path, &m, NULL))
		goto out;
	pidx = xrealloc(NULL, m->npacks, sizeof(*pidx));
	for (i = 0; i < m->npacks; i++)
		if (add_pack(p, dir, name, i, &m->packs[i], &pidx[i]))
			goto out;
	/* the chunks of its prefetch table (most likely in a boot pack) */
	in_table = xrealloc(NULL, m->nchunks, 1);
	memset(in_table, 0, m->nchunks);
	for (i = 0; i < m->nprefetch; i++)
		in_table[m->refs[m->prefetch[i]]] = 1;
	for (i = 0; i < m->nchunks; i++) {
		const struct manifest_chunk *mc = &m->chunks[i];
		struct chunk *c;
		uint32_t o = digest_map_find(&p->old_map, mc->digest, p->old,
					     sizeof(*p->old));

		/*
		 * The first offer of a chunk is taken, but a prefetch table's
		 * chunk is taken from there: a record used again then finds
		 * the boot set in the order its pack has it.
		 */
		if (o != NO_INDEX && in_table[i] && p->old[o].m.size == mc->size) {
			p->old[o].m = *mc;
			p->old[o].m.pack = pidx[mc->pack];
		}
		if (o != NO_INDEX)
			continue;
		if (p->nold >= UINT32_MAX - 1) {
			pack_err("--previous: too many chunks");
			goto out;
		}
		xgrow((void **)&p->old, &p->old_cap, p->nold + 1,
		      sizeof(*p->old));
		c = &p->old[p->nold];
		c->m = *mc;
		c->m.pack = pidx[mc->pack];
		c->index = NO_INDEX;
		digest_map_add(&p->old_map, (uint32_t)p->nold++, p->old,
			       sizeof(*p->old));
	}
	ret = 0;
out:
	free(pidx);
	free(in_table);
	manifest_free(m);
	free(path);
	return ret;
}

static int cmp_names(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

int previous_load(struct packer *p, const char *dir)
{
	char **names = NULL;
	size_t n = 0, cap = 0, i;
	struct dirent *de;
	int ret = 0;
	DIR *d;

	d = opendir(dir);
	if (!d)
		return pack_err("--previous %s: %s", dir, strerror(errno));
	while ((errno = 0, de = readdir(d))) {
		size_t len = strlen(de->d_name);

		if (de->d_name[0] == '.' || len <= 9 ||
		    strcmp(de->d_name + len - 9, ".manifest"))
			continue;
		xgrow((void **)&names, &cap, n + 1, sizeof(*names));
		names[n++] = xasprintf("%s", de->d_name);
	}
	if (errno)
		ret = pack_err("--previous %s: %s", dir, strerror(errno));
	closedir(d);
	if (!ret && !n)
		pack_say("--previous %s: no *.manifest there, nothing to reuse",
			 dir);
	if (n)
		qsort(names, n, sizeof(*names), cmp_names);
	for (i = 0; i < n && !ret; i++)
		ret = load_manifest(p, dir, names[i]);
	for (i = 0; i < n; i++)
		free(names[i]);
	free(names);
	return ret;
}

int previous_pack_fd(struct packer *p, uint32_t pack, const char *path)
{
	if (p->old_fd < 0 || p->old_fd_pack != pack) {
		if (p->old_fd >= 0)
			close(p->old_fd);
		p->old_fd = open(path, O_RDONLY | O_CLOEXEC);
		p->old_fd_pack = pack;
	}
	return p->old_fd;
}

int previous_check(struct packer *p, const struct manifest_chunk *c,
		   const unsigned char *data)
{
	const struct pack *k = &p->packs[c->pack];
	char why[128], *path = pack_path(k->dir, k->digest);
	ssize_t n;
	int ret = -1;

	if (previous_pack_fd(p, c->pack, path) < 0) {
		pack_err("--previous %s: %s", path, strerror(errno));
		goto out;
	}
	if (c->stored_size > p->zcap) {
		pack_err("--previous %s: the chunk at offset %llu claims %u stored bytes for %u",
			 path, (unsigned long long)c->offset, c->stored_size,
			 c->size);
		goto out;
	}
	n = io_pread_upto(p->old_fd, p->zbuf, c->stored_size, c->offset);
	if (n != c->stored_size) {
		pack_err("--previous %s: %s", path,
			 n < 0 ? strerror((int)-n) :
				 "shorter than its manifest says");
		goto out;
	}
	if (chunk_decode(p->dctx, c, p->zbuf, p->vbuf, why, sizeof(why))) {
		pack_err("--previous %s: the chunk at offset %llu (%u bytes): %s",
			 path, (unsigned long long)c->offset, c->stored_size,
			 why);
		goto out;
	}
	if (memcmp(p->vbuf, data, c->size)) {
		pack_err("--previous %s: the chunk at offset %llu (%u bytes) is not the one its manifest names",
			 path, (unsigned long long)c->offset, c->stored_size);
		goto out;
	}
	ret = 0;
out:
	free(path);
	return ret;
}
