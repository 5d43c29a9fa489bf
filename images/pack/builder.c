// SPDX-License-Identifier: MIT
#include <stdlib.h>
#include <string.h>

#include "builder.h"
#include "msg.h"
#include "page.h"
#include "xalloc.h"

/* Chunk @c of @p as the next in @m unless it is numbered already. */
static uint32_t number_chunk(struct packer *p, struct manifest *m,
			     struct chunk *c, uint32_t *next_chunk)
{
	struct pack *k = &p->packs[c->m.pack];
	struct manifest_chunk *mc;

	if (c->index != NO_INDEX)
		return c->index;
	c->index = (*next_chunk)++;
	if (k->index == NO_INDEX) {
		k->index = m->npacks++;
		memcpy(m->packs[k->index].digest, k->digest, SHA256_SIZE);
		m->packs[k->index].size = k->size;
	}
	mc = &m->chunks[c->index];
	*mc = c->m;
	mc->pack = k->index;
	if (mc->size > m->chunk_max)
		m->chunk_max = (uint32_t)page_up(mc->size);
	return c->index;
}

int build_manifest(struct packer *p, unsigned char **out, size_t *len)
{
	struct manifest m = { 0 };
	uint32_t next_chunk = 0, r = 0;
	char why[256];
	unsigned int i;
	size_t j;
	int ret;

	m.nblobs = p->nblobs;
	m.nrefs = (uint32_t)p->nrefs;
	m.nchunks = (uint32_t)p->nchunks;
	m.blobs = xrealloc(NULL, p->nblobs, sizeof(*m.blobs));
	m.refs = xrealloc(NULL, p->nrefs, sizeof(*m.refs));
	m.chunks = xrealloc(NULL, p->nchunks, sizeof(*m.chunks));
	m.packs = xrealloc(NULL, p->npacks, sizeof(*m.packs));
	m.chunk_max = PAGE_SIZE_4K;
	m.nprefetch = p->nprefetch;
	m.prefetch = p->prefetch;
	for (i = 0; i < p->nblobs; i++) {
		const struct blob *b = &p->blobs[i];

		memcpy(m.blobs[i].tag, b->tag, sizeof(b->tag));
		memcpy(m.blobs[i].digest, b->digest, SHA256_SIZE);
		m.blobs[i].size = b->size;
		m.blobs[i].first_ref = r;
		m.blobs[i].nrefs = (uint32_t)b->nrefs;
		for (j = 0; j < b->nrefs; j++)
			m.refs[r++] = number_chunk(p, &m,
						   &p->chunks[b->refs[j]],
						   &next_chunk);
	}
	ret = manifest_encode(&m, out, len, why, sizeof(why));
	free(m.blobs);
	free(m.refs);
	free(m.chunks);
	free(m.packs);
	if (ret)
		return pack_err("cannot encode the manifest: %s", why);
	return 0;
}
