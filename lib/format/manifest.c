// SPDX-License-Identifier: MIT
/*
 * The manifest of a verified image: every field comes from the network,
 * so every one is checked before the daemon indexes anything with it.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "le.h"
#include "manifest.h"

static __attribute__((format(printf, 3, 4)))
int refuse(char *why, size_t why_size, const char *fmt, ...)
{
	va_list ap;

	if (why && why_size) {
		va_start(ap, fmt);
		vsnprintf(why, why_size, fmt, ap);
		va_end(ap);
	}
	return -EINVAL;
}

/* Offset of the first nonzero byte in @p[0..n), or -1. */
static int nonzero_at(const unsigned char *p, int n)
{
	int i;

	for (i = 0; i < n; i++)
		if (p[i])
			return i;
	return -1;
}

/* Section sizes in 64 bits: no count the limits allow can overflow them. */
static uint64_t encoded_size(uint64_t nblobs, uint64_t npacks,
			     uint64_t nchunks, uint64_t nrefs)
{
	return MANIFEST_HEADER_SIZE + MANIFEST_BLOB_SIZE * nblobs +
	       MANIFEST_PACK_SIZE * npacks + MANIFEST_CHUNK_SIZE * nchunks +
	       MANIFEST_REF_SIZE * nrefs;
}

/* The header's counts and chunk_max, which the sizes of everything
 * else depend on. */
static int check_counts(const struct manifest *m, char *why, size_t why_size)
{
	const char *name[] = { "nblobs", "npacks", "nchunks", "nrefs" };
	const uint32_t v[] = { m->nblobs, m->npacks, m->nchunks, m->nrefs };
	const uint32_t max[] = { MANIFEST_BLOBS_MAX, MANIFEST_PACKS_MAX,
				 MANIFEST_CHUNKS_MAX, MANIFEST_CHUNKS_MAX };
	int i;

	for (i = 0; i < 4; i++)
		if (v[i] < 1 || v[i] > max[i])
			return refuse(why, why_size,
				      "header: %s %u out of range 1..%u",
				      name[i], v[i], max[i]);
	if (m->chunk_max < MANIFEST_PAGE || m->chunk_max > MANIFEST_CHUNK_MAX ||
	    m->chunk_max % MANIFEST_PAGE)
		return refuse(why, why_size,
			      "header: chunk_max %u is not a multiple of %u in %u..%u",
			      m->chunk_max, MANIFEST_PAGE, MANIFEST_PAGE,
			      MANIFEST_CHUNK_MAX);
	return 0;
}

static int is_tag(const unsigned char *p)
{
	int i;

	for (i = 0; i < SHA256_HEX_SIZE; i++)
		if (!((p[i] >= '0' && p[i] <= '9') ||
		      (p[i] >= 'a' && p[i] <= 'f')))
			return 0;
	return 1;
}

static int parse_blobs(struct manifest *m, const unsigned char *p,
		       char *why, size_t why_size)
{
	uint64_t next_ref = 0;
	uint32_t i, j;
	int z;

	for (i = 0; i < m->nblobs; i++, p += MANIFEST_BLOB_SIZE) {
		struct manifest_blob *b = &m->blobs[i];

		if (!is_tag(p))
			return refuse(why, why_size,
				      "blob %u: tag is not 64 lower-case hex digits",
				      i);
		memcpy(b->tag, p, SHA256_HEX_SIZE);
		b->tag[SHA256_HEX_SIZE] = '\0';
		if (sha256_from_hex(b->tag, SHA256_HEX_SIZE, b->digest))
			return refuse(why, why_size, "blob %u: bad tag", i);
		for (j = 0; j < i; j++)
			if (!memcmp(m->blobs[j].digest, b->digest,
				    SHA256_SIZE))
				return refuse(why, why_size,
					      "blob %u: same tag as blob %u",
					      i, j);
		b->size = get_le64(p + 64);
		if (b->size < 1 || b->size > MANIFEST_BLOB_SIZE_MAX)
			return refuse(why, why_size,
				      "blob %u: size %llu out of range 1..2^47",
				      i, (unsigned long long)b->size);
		b->first_ref = get_le32(p + 72);
		b->nrefs = get_le32(p + 76);
		z = nonzero_at(p + 80, 16);
		if (z >= 0)
			return refuse(why, why_size,
				      "blob %u: reserved byte %d is not zero",
				      i, 80 + z);
		/* The blobs take the refs in order, each at least one. */
		if (b->first_ref != next_ref)
			return refuse(why, why_size,
				      "blob %u: first ref %u, expected %llu",
				      i, b->first_ref,
				      (unsigned long long)next_ref);
		if (!b->nrefs)
			return refuse(why, why_size, "blob %u: no refs", i);
		next_ref += b->nrefs;
		if (next_ref > m->nrefs)
			return refuse(why, why_size,
				      "blob %u: refs %u..%llu past the %u refs",
				      i, b->first_ref,
				      (unsigned long long)next_ref - 1,
				      m->nrefs);
	}
	if (next_ref != m->nrefs)
		return refuse(why, why_size,
			      "blobs: only %llu of the %u refs belong to a blob",
			      (unsigned long long)next_ref, m->nrefs);
	return 0;
}

static int parse_packs(struct manifest *m, const unsigned char *p,
		       char *why, size_t why_size)
{
	uint32_t i;
	int z;

	for (i = 0; i < m->npacks; i++, p += MANIFEST_PACK_SIZE) {
		struct manifest_pack *k = &m->packs[i];

		memcpy(k->digest, p, SHA256_SIZE);
		k->size = get_le64(p + 32);
		z = nonzero_at(p + 40, 8);
		if (z >= 0)
			return refuse(why, why_size,
				      "pack %u: reserved byte %d is not zero",
				      i, 40 + z);
	}
	return 0;
}

static int parse_chunks(struct manifest *m, const unsigned char *p,
			char *why, size_t why_size)
{
	uint32_t i;

	for (i = 0; i < m->nchunks; i++, p += MANIFEST_CHUNK_SIZE) {
		struct manifest_chunk *c = &m->chunks[i];
		uint64_t psize;

		memcpy(c->digest, p, SHA256_SIZE);
		c->offset = get_le64(p + 32);
		c->pack = get_le32(p + 40);
		c->stored_size = get_le32(p + 44);
		c->size = get_le32(p + 48);
		c->encoding = get_le32(p + 52);
		if (c->pack >= m->npacks)
			return refuse(why, why_size,
				      "chunk %u: pack index %u out of range (%u packs)",
				      i, c->pack, m->npacks);
		psize = m->packs[c->pack].size;
		/* offset + stored <= psize, written so it cannot wrap */
		if (!c->stored_size || c->stored_size > psize ||
		    c->offset > psize - c->stored_size)
			return refuse(why, why_size,
				      "chunk %u: offset %llu + stored size %u is past the end of pack %u (%llu bytes)",
				      i, (unsigned long long)c->offset,
				      c->stored_size, c->pack,
				      (unsigned long long)psize);
		if (c->size < 1 || c->size > m->chunk_max)
			return refuse(why, why_size,
				      "chunk %u: plain size %u out of range 1..%u (chunk_max)",
				      i, c->size, m->chunk_max);
		if (c->encoding != MANIFEST_ZSTD &&
		    c->encoding != MANIFEST_STORED)
			return refuse(why, why_size,
				      "chunk %u: unknown encoding %u", i,
				      c->encoding);
		if (c->encoding == MANIFEST_STORED &&
		    c->stored_size != c->size)
			return refuse(why, why_size,
				      "chunk %u: stored as is, but stored size %u is not plain size %u",
				      i, c->stored_size, c->size);
	}
	return 0;
}

/* Refs, then each blob's layout; fills ref_off. */
static int parse_refs(struct manifest *m, const unsigned char *p,
		      char *why, size_t why_size)
{
	uint32_t i, r;

	for (r = 0; r < m->nrefs; r++, p += MANIFEST_REF_SIZE) {
		m->refs[r] = get_le32(p);
		if (m->refs[r] >= m->nchunks)
			return refuse(why, why_size,
				      "ref %u: chunk %u out of range (%u chunks)",
				      r, m->refs[r], m->nchunks);
	}
	for (i = 0; i < m->nblobs; i++) {
		const struct manifest_blob *b = &m->blobs[i];
		uint32_t end = b->first_ref + b->nrefs;
		/* at most 2^22 refs of 2^22 bytes: no wrap */
		uint64_t off = 0;

		for (r = b->first_ref; r < end; r++) {
			const struct manifest_chunk *c =
				&m->chunks[m->refs[r]];

			/* A page must never span two chunks. */
			if (r + 1 < end && c->size % MANIFEST_PAGE)
				return refuse(why, why_size,
					      "blob %u: chunk %u (ref %u) is not the last, but its size %u is not a multiple of %u",
					      i, m->refs[r], r, c->size,
					      MANIFEST_PAGE);
			m->ref_off[r] = off;
			off += c->size;
		}
		if (off != b->size)
			return refuse(why, why_size,
				      "blob %u: chunk sizes add up to %llu, blob size is %llu",
				      i, (unsigned long long)off,
				      (unsigned long long)b->size);
	}
	return 0;
}

int manifest_parse(const void *buf, size_t len, struct manifest **out,
		   char *why, size_t why_size)
{
	const unsigned char *p = buf;
	struct manifest *m;
	uint64_t need;
	uint32_t version;
	int z, ret;

	*out = NULL;
	if (len < MANIFEST_HEADER_SIZE)
		return refuse(why, why_size,
			      "header: truncated, %zu of %u bytes", len,
			      MANIFEST_HEADER_SIZE);
	if (memcmp(p, MANIFEST_MAGIC, 8))
		return refuse(why, why_size,
			      "header: magic is not " MANIFEST_MAGIC);
	version = get_le32(p + 8);
	if (version != MANIFEST_VERSION)
		return refuse(why, why_size,
			      "header: version %u, only %u is known", version,
			      MANIFEST_VERSION);
	m = calloc(1, sizeof(*m));
	if (!m) {
		refuse(why, why_size, "out of memory");
		return -ENOMEM;
	}
	m->nblobs = get_le32(p + 12);
	m->npacks = get_le32(p + 16);
	m->nchunks = get_le32(p + 20);
	m->nrefs = get_le32(p + 24);
	m->chunk_max = get_le32(p + 28);
	ret = check_counts(m, why, why_size);
	if (ret)
		goto fail;
	z = nonzero_at(p + 32, 32);
	if (z >= 0) {
		ret = refuse(why, why_size,
			     "header: reserved byte %d is not zero", 32 + z);
		goto fail;
	}
	need = encoded_size(m->nblobs, m->npacks, m->nchunks, m->nrefs);
	if (len != need) {
		ret = refuse(why, why_size,
			     "length: %zu bytes, the counts in the header make %llu",
			     len, (unsigned long long)need);
		goto fail;
	}
	if (need > MANIFEST_MAX_SIZE) {
		ret = refuse(why, why_size,
			     "length: %llu bytes, more than the %u allowed",
			     (unsigned long long)need, MANIFEST_MAX_SIZE);
		goto fail;
	}

	/* Sizes are now bounded by @len, itself at most 64 MiB. */
	m->blobs = calloc(m->nblobs, sizeof(*m->blobs));
	m->packs = calloc(m->npacks, sizeof(*m->packs));
	m->chunks = calloc(m->nchunks, sizeof(*m->chunks));
	m->refs = calloc(m->nrefs, sizeof(*m->refs));
	m->ref_off = calloc(m->nrefs, sizeof(*m->ref_off));
	if (!m->blobs || !m->packs || !m->chunks || !m->refs || !m->ref_off) {
		refuse(why, why_size, "out of memory");
		ret = -ENOMEM;
		goto fail;
	}
	p += MANIFEST_HEADER_SIZE;
	ret = parse_blobs(m, p, why, why_size);
	if (ret)
		goto fail;
	p += (size_t)MANIFEST_BLOB_SIZE * m->nblobs;
	ret = parse_packs(m, p, why, why_size);
	if (ret)
		goto fail;
	p += (size_t)MANIFEST_PACK_SIZE * m->npacks;
	ret = parse_chunks(m, p, why, why_size);
	if (ret)
		goto fail;
	p += (size_t)MANIFEST_CHUNK_SIZE * m->nchunks;
	ret = parse_refs(m, p, why, why_size);
	if (ret)
		goto fail;
	*out = m;
	return 0;
fail:
	manifest_free(m);
	return ret;
}

void manifest_free(struct manifest *m)
{
	if (!m)
		return;
	free(m->blobs);
	free(m->packs);
	free(m->chunks);
	free(m->refs);
	free(m->ref_off);
	free(m);
}

const struct manifest_blob *manifest_find_blob(const struct manifest *m,
					       const char *tag, size_t len)
{
	uint32_t i;

	if (len != SHA256_HEX_SIZE)
		return NULL;
	for (i = 0; i < m->nblobs; i++)
		if (!memcmp(m->blobs[i].tag, tag, len))
			return &m->blobs[i];
	return NULL;
}

uint32_t manifest_ref_at(const struct manifest *m,
			 const struct manifest_blob *b, uint64_t off)
{
	/* The last ref whose offset is <= @off; parse made ref_off sorted
	 * and ref_off[first_ref] == 0, so it always exists. */
	uint32_t lo = b->first_ref, hi = b->first_ref + b->nrefs - 1;

	while (lo < hi) {
		uint32_t mid = lo + (hi - lo + 1) / 2;

		if (m->ref_off[mid] <= off)
			lo = mid;
		else
			hi = mid - 1;
	}
	return lo;
}

int manifest_encode(const struct manifest *m, unsigned char **out,
		    size_t *len, char *why, size_t why_size)
{
	struct manifest *back;
	unsigned char *buf, *p;
	size_t size;
	uint32_t i;
	int ret;

	*out = NULL;
	*len = 0;
	/* Bound the buffer before sizing it from the caller's counts. */
	ret = check_counts(m, why, why_size);
	if (ret)
		return ret;
	size = encoded_size(m->nblobs, m->npacks, m->nchunks, m->nrefs);
	if (size > MANIFEST_MAX_SIZE)
		return refuse(why, why_size,
			      "length: %zu bytes, more than the %u allowed",
			      size, MANIFEST_MAX_SIZE);
	buf = calloc(1, size);
	if (!buf) {
		refuse(why, why_size, "out of memory");
		return -ENOMEM;
	}
	memcpy(buf, MANIFEST_MAGIC, 8);
	put_le32(buf + 8, MANIFEST_VERSION);
	put_le32(buf + 12, m->nblobs);
	put_le32(buf + 16, m->npacks);
	put_le32(buf + 20, m->nchunks);
	put_le32(buf + 24, m->nrefs);
	put_le32(buf + 28, m->chunk_max);
	p = buf + MANIFEST_HEADER_SIZE;
	for (i = 0; i < m->nblobs; i++, p += MANIFEST_BLOB_SIZE) {
		memcpy(p, m->blobs[i].tag, SHA256_HEX_SIZE);
		put_le64(p + 64, m->blobs[i].size);
		put_le32(p + 72, m->blobs[i].first_ref);
		put_le32(p + 76, m->blobs[i].nrefs);
	}
	for (i = 0; i < m->npacks; i++, p += MANIFEST_PACK_SIZE) {
		memcpy(p, m->packs[i].digest, SHA256_SIZE);
		put_le64(p + 32, m->packs[i].size);
	}
	for (i = 0; i < m->nchunks; i++, p += MANIFEST_CHUNK_SIZE) {
		const struct manifest_chunk *c = &m->chunks[i];

		memcpy(p, c->digest, SHA256_SIZE);
		put_le64(p + 32, c->offset);
		put_le32(p + 40, c->pack);
		put_le32(p + 44, c->stored_size);
		put_le32(p + 48, c->size);
		put_le32(p + 52, c->encoding);
	}
	for (i = 0; i < m->nrefs; i++, p += MANIFEST_REF_SIZE)
		put_le32(p, m->refs[i]);

	/* The daemon's own checks, so nothing it would refuse leaves here. */
	ret = manifest_parse(buf, size, &back, why, why_size);
	if (ret)
		goto fail;
	/* Only the tag is encoded: a digest saying otherwise is a bug. */
	for (i = 0; i < m->nblobs; i++) {
		if (memcmp(back->blobs[i].digest, m->blobs[i].digest,
			   SHA256_SIZE)) {
			ret = refuse(why, why_size,
				     "blob %u: digest does not match the tag",
				     i);
			break;
		}
	}
	manifest_free(back);
	if (ret)
		goto fail;
	*out = buf;
	*len = size;
	return 0;
fail:
	free(buf);
	return ret;
}
