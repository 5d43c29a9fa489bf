// SPDX-License-Identifier: MIT
#include <dirent.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "bootset.h"
#include "io.h"
#include "msg.h"
#include "outdir.h"
#include "page.h"
#include "prefetch_list.h"
#include "xalloc.h"

static int is_tag(const char *s)
{
	size_t i;

	for (i = 0; s[i]; i++)
		if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f')))
			return 0;
	return i == SHA256_HEX_SIZE;
}

/* The boot set so far: a chunk by digest, or a range of this image's blob. */
static void add_digest(struct packer *p, const unsigned char *d, uint32_t blob)
{
	struct boot_entry *e;

	if (digest_map_find(&p->boot_map, d, p->boot, sizeof(*p->boot)) !=
	    NO_INDEX)
		return;
	xgrow((void **)&p->boot, &p->boot_cap, p->nboot + 1, sizeof(*p->boot));
	e = &p->boot[p->nboot];
	memset(e, 0, sizeof(*e));
	memcpy(e->digest, d, SHA256_SIZE);
	e->blob = blob;
	digest_map_add(&p->boot_map, (uint32_t)p->nboot++, p->boot,
		       sizeof(*p->boot));
}

/*
 * The image the record calls @name: its manifest in one of @dirs (by fsid,
 * or the manifest with a blob of that tag) and which blob. NULL if none.
 */
static struct manifest *find_image(const char *name, const char **dirs,
				   int ndirs, uint32_t *blob)
{
	struct manifest *m;
	int i;

	for (i = 0; i < ndirs && !is_tag(name); i++) {
		char *path = xasprintf("%s/%s.manifest", dirs[i], name);
		int ok = !access(path, F_OK) && !read_manifest(path, &m, NULL);

		free(path);
		if (ok) {
			*blob = 0;
			return m;
		}
	}
	/* an extra device is named by its tag: any manifest with that blob */
	for (i = 0; i < ndirs && is_tag(name); i++) {
		DIR *d = opendir(dirs[i]);
		struct dirent *de;

		while (d && (de = readdir(d))) {
			size_t n = strlen(de->d_name);
			const struct manifest_blob *mb;
			char *path;
			int ok;

			if (de->d_name[0] == '.' || n < 10 ||
			    strcmp(de->d_name + n - 9, ".manifest"))
				continue;
			path = xasprintf("%s/%s", dirs[i], de->d_name);
			ok = !read_manifest(path, &m, NULL);
			free(path);
			if (!ok)
				continue;
			mb = manifest_find_blob(m, name, SHA256_HEX_SIZE);
			if (mb) {
				*blob = (uint32_t)(mb - m->blobs);
				closedir(d);
				return m;
			}
			manifest_free(m);
		}
		if (d)
			closedir(d);
	}
	return NULL;
}

int bootset_load(struct packer *p, const char *path, const char **dirs,
		 int ndirs)
{
	struct prefetch_list l;
	unsigned char *text;
	char why[160];
	ssize_t len = io_read_file(path, &text, PREFETCH_FILE_MAX + 1);
	size_t i;
	unsigned int b;

	if (len < 0)
		return pack_err("--prefetch %s: %s", path, strerror((int)-len));
	if (prefetch_parse(&l, (const char *)text, (size_t)len, why, sizeof(why))) {
		free(text);
		return pack_err("--prefetch %s: %s", path, why);
	}
	free(text);
	for (b = 0; b < l.nblobs; b++) {
		uint32_t mb = 0;
		struct manifest *m = find_image(l.names[b], dirs, ndirs, &mb);

		if (!m && is_tag(l.names[b])) {
			/* a blob of this image, or of none: known once it is chunked */
			for (i = 0; i < l.nranges; i++) {
				struct boot_entry *e;

				if (l.ranges[i].blob != b)
					continue;
				xgrow((void **)&p->boot, &p->boot_cap,
				      p->nboot + 1, sizeof(*p->boot));
				e = &p->boot[p->nboot++];
				memset(e, 0, sizeof(*e));
				e->pending = 1;
				memcpy(e->tag, l.names[b], SHA256_HEX_SIZE);
				e->off = l.ranges[i].off;
				e->len = l.ranges[i].len;
				e->order = i;
			}
			continue;
		}
		if (!m) {
			pack_say("warning: --prefetch %s: image %s has no manifest in the --previous directories; its ranges are left out",
				 path, l.names[b]);
			continue;
		}
		for (i = 0; i < l.nranges; i++) {
			const struct manifest_blob *blob = &m->blobs[mb];
			uint64_t off = l.ranges[i].off;
			uint64_t end = off + l.ranges[i].len;
			uint32_t r, r1;
			size_t k = p->nboot;

			if (l.ranges[i].blob != b || off >= blob->size)
				continue;
			if (end > blob->size)
				end = blob->size;
			r1 = manifest_ref_at(m, blob, end - 1);
			for (r = manifest_ref_at(m, blob, off); r <= r1; r++)
				add_digest(p, m->chunks[m->refs[r]].digest, mb);
			for (; k < p->nboot; k++)
				p->boot[k].order = i;
		}
		manifest_free(m);
	}
	/* one order across the blobs: the record's */
	prefetch_list_free(&l);
	p->prefetch_record = path;
	return 0;
}

static int by_order(const void *a, const void *b)
{
	const struct boot_entry *x = a, *y = b;

	return x->order < y->order ? -1 : x->order > y->order;
}

/* The ref of blob @b at plain offset @off, by bisection; NO_INDEX past it. */
static uint32_t ref_at(const struct packer *p, const uint64_t *offs,
		       const struct blob *b, uint64_t off)
{
	size_t lo = 0, hi = b->nrefs;

	if (off >= b->size)
		return NO_INDEX;
	while (hi - lo > 1) {
		size_t mid = lo + (hi - lo) / 2;

		if (offs[mid] <= off)
			lo = mid;
		else
			hi = mid;
	}
	(void)p;
	return (uint32_t)lo;
}

int bootset_refs(struct packer *p)
{
	uint64_t *offs[MANIFEST_BLOBS_MAX] = { 0 };
	uint32_t *first[MANIFEST_BLOBS_MAX] = { 0 }, base[MANIFEST_BLOBS_MAX];
	unsigned char *used;
	unsigned int b;
	size_t i, j, r = 0;

	if (!p->prefetch_record)
		return 0;
	/* entries of one range keep their order: a stable sort by hand */
	for (i = 1; i < p->nboot; i++) {
		struct boot_entry e = p->boot[i];

		for (j = i; j > 0 && by_order(&p->boot[j - 1], &e) > 0; j--)
			p->boot[j] = p->boot[j - 1];
		p->boot[j] = e;
	}
	for (b = 0; b < p->nblobs; b++) {
		const struct blob *bl = &p->blobs[b];
		uint64_t off = 0;

		base[b] = (uint32_t)r;
		r += bl->nrefs;
		offs[b] = xrealloc(NULL, bl->nrefs, sizeof(**offs));
		first[b] = xrealloc(NULL, p->nchunks, sizeof(**first));
		memset(first[b], 0xff, p->nchunks * sizeof(**first));
		for (j = 0; j < bl->nrefs; j++) {
			offs[b][j] = off;
			off += p->chunks[bl->refs[j]].m.size;
			if (first[b][bl->refs[j]] == NO_INDEX)
				first[b][bl->refs[j]] = (uint32_t)j;
		}
	}
	used = xrealloc(NULL, p->nrefs ? p->nrefs : 1, 1);
	memset(used, 0, p->nrefs);
	p->prefetch = xrealloc(NULL, p->nrefs ? p->nrefs : 1, sizeof(*p->prefetch));
	p->nprefetch = 0;
	for (i = 0; i < p->nboot; i++) {
		const struct boot_entry *e = &p->boot[i];
		uint32_t g, k, k1;

		if (!e->pending) {
			uint32_t c = digest_map_find(&p->chunk_map, e->digest,
						     p->chunks, sizeof(*p->chunks));

			/* changed since, or moved to another blob: not prefetched */
			if (c == NO_INDEX || e->blob >= p->nblobs ||
			    first[e->blob][c] == NO_INDEX)
				continue;
			g = base[e->blob] + first[e->blob][c];
			if (!used[g]++)
				p->prefetch[p->nprefetch++] = g;
			continue;
		}
		for (b = 0; b < p->nblobs; b++)
			if (!memcmp(p->blobs[b].tag, e->tag, SHA256_HEX_SIZE))
				break;
		if (b == p->nblobs)
			continue;
		k = ref_at(p, offs[b], &p->blobs[b], e->off);
		k1 = ref_at(p, offs[b], &p->blobs[b], e->off + e->len - 1);
		if (k == NO_INDEX)
			continue;
		if (k1 == NO_INDEX)
			k1 = (uint32_t)p->blobs[b].nrefs - 1;
		for (; k <= k1; k++) {
			g = base[b] + k;
			if (!used[g]++)
				p->prefetch[p->nprefetch++] = g;
		}
	}
	for (b = 0; b < p->nblobs; b++) {
		free(offs[b]);
		free(first[b]);
	}
	free(used);
	if (!p->nprefetch)
		pack_say("warning: --prefetch %s: no chunk it names is in this image; no prefetch table",
			 p->prefetch_record);
	else
		pack_say("prefetch table: %u of %zu chunks, from %s", p->nprefetch,
			 p->nrefs, p->prefetch_record);
	return 0;
}
