// SPDX-License-Identifier: MIT
/*
 * The manifest of a verified image: every field comes from the network,
 * so every one is checked before the daemon indexes anything with it.
 */
#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <zstd.h>

#include "le.h"
#include "manifest.h"
#include "page.h"
#include "refuse.h"

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
			     uint64_t nchunks, uint64_t nrefs,
			     uint64_t nprefetch)
{
	return sizeof(struct manifest_disk_header) +
	       sizeof(struct manifest_disk_blob) * nblobs +
	       sizeof(struct manifest_disk_pack) * npacks +
	       sizeof(struct manifest_disk_chunk) * nchunks +
	       sizeof(struct manifest_disk_ref) * (nrefs + nprefetch);
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
			return format_refuse(why, why_size,
					     "header: %s %u out of range 1..%u",
					     name[i], v[i], max[i]);
	if (m->chunk_max < PAGE_SIZE_4K || m->chunk_max > MANIFEST_CHUNK_MAX ||
	    !page_aligned(m->chunk_max))
		return format_refuse(why, why_size,
				     "header: chunk_max %u is not a multiple of %u in %u..%u",
				     m->chunk_max, PAGE_SIZE_4K, PAGE_SIZE_4K,
				     MANIFEST_CHUNK_MAX);
	if (m->nprefetch > m->nrefs)
		return format_refuse(why, why_size,
				     "header: nprefetch %u out of range 0..%u (nrefs)",
				     m->nprefetch, m->nrefs);
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

	for (i = 0; i < m->nblobs; i++, p += sizeof(struct manifest_disk_blob)) {
		struct manifest_blob *b = &m->blobs[i];
		struct manifest_disk_blob d;

		memcpy(&d, p, sizeof(d));
		if (!is_tag((const unsigned char *)d.tag))
			return format_refuse(why, why_size,
					     "blob %u: tag is not 64 lower-case hex digits",
					     i);
		memcpy(b->tag, d.tag, SHA256_HEX_SIZE);
		b->tag[SHA256_HEX_SIZE] = '\0';
		if (sha256_from_hex(b->tag, SHA256_HEX_SIZE, b->digest))
			return format_refuse(why, why_size, "blob %u: bad tag", i);
		for (j = 0; j < i; j++)
			if (!memcmp(m->blobs[j].digest, b->digest,
				    SHA256_SIZE))
				return format_refuse(why, why_size,
						     "blob %u: same tag as blob %u",
						     i, j);
		b->size = le64_to_cpu(d.size);
		if (b->size < 1 || b->size > MANIFEST_BLOB_SIZE_MAX)
			return format_refuse(why, why_size,
					     "blob %u: size %llu out of range 1..2^47",
					     i, (unsigned long long)b->size);
		b->first_ref = le32_to_cpu(d.first_ref);
		b->nrefs = le32_to_cpu(d.nrefs);
		z = nonzero_at(d.reserved, sizeof(d.reserved));
		if (z >= 0)
			return format_refuse(why, why_size,
					     "blob %u: reserved byte %zu is not zero",
					     i, offsetof(struct manifest_disk_blob,
							 reserved) + z);
		/* The blobs take the refs in order, each at least one. */
		if (b->first_ref != next_ref)
			return format_refuse(why, why_size,
					     "blob %u: first ref %u, expected %llu",
					     i, b->first_ref,
					     (unsigned long long)next_ref);
		if (!b->nrefs)
			return format_refuse(why, why_size, "blob %u: no refs", i);
		next_ref += b->nrefs;
		if (next_ref > m->nrefs)
			return format_refuse(why, why_size,
					     "blob %u: refs %u..%llu past the %u refs",
					     i, b->first_ref,
					     (unsigned long long)next_ref - 1,
					     m->nrefs);
	}
	if (next_ref != m->nrefs)
		return format_refuse(why, why_size,
				     "blobs: only %llu of the %u refs belong to a blob",
				     (unsigned long long)next_ref, m->nrefs);
	return 0;
}

static int parse_packs(struct manifest *m, const unsigned char *p,
		       char *why, size_t why_size)
{
	uint32_t i;
	int z;

	for (i = 0; i < m->npacks; i++, p += sizeof(struct manifest_disk_pack)) {
		struct manifest_pack *k = &m->packs[i];
		struct manifest_disk_pack d;

		memcpy(&d, p, sizeof(d));
		memcpy(k->digest, d.digest, SHA256_SIZE);
		k->size = le64_to_cpu(d.size);
		z = nonzero_at(d.reserved, sizeof(d.reserved));
		if (z >= 0)
			return format_refuse(why, why_size,
					     "pack %u: reserved byte %zu is not zero",
					     i, offsetof(struct manifest_disk_pack,
							 reserved) + z);
	}
	return 0;
}

static int parse_chunks(struct manifest *m, const unsigned char *p,
			char *why, size_t why_size)
{
	uint32_t i;

	for (i = 0; i < m->nchunks; i++, p += sizeof(struct manifest_disk_chunk)) {
		struct manifest_chunk *c = &m->chunks[i];
		struct manifest_disk_chunk d;
		uint64_t psize;

		memcpy(&d, p, sizeof(d));
		memcpy(c->digest, d.digest, SHA256_SIZE);
		c->offset = le64_to_cpu(d.offset);
		c->pack = le32_to_cpu(d.pack);
		c->stored_size = le32_to_cpu(d.stored_size);
		c->size = le32_to_cpu(d.size);
		c->encoding = le32_to_cpu(d.encoding);
		if (c->pack >= m->npacks)
			return format_refuse(why, why_size,
					     "chunk %u: pack index %u out of range (%u packs)",
					     i, c->pack, m->npacks);
		psize = m->packs[c->pack].size;
		/* offset + stored <= psize, written so it cannot wrap */
		if (!c->stored_size || c->stored_size > psize ||
		    c->offset > psize - c->stored_size)
			return format_refuse(why, why_size,
					     "chunk %u: offset %llu + stored size %u is past the end of pack %u (%llu bytes)",
					     i, (unsigned long long)c->offset,
					     c->stored_size, c->pack,
					     (unsigned long long)psize);
		if (c->size < 1 || c->size > m->chunk_max)
			return format_refuse(why, why_size,
					     "chunk %u: plain size %u out of range 1..%u (chunk_max)",
					     i, c->size, m->chunk_max);
		if (c->encoding != MANIFEST_ZSTD &&
		    c->encoding != MANIFEST_STORED)
			return format_refuse(why, why_size,
					     "chunk %u: unknown encoding %u", i,
					     c->encoding);
		if (c->encoding == MANIFEST_STORED &&
		    c->stored_size != c->size)
			return format_refuse(why, why_size,
					     "chunk %u: stored as is, but stored size %u is not plain size %u",
					     i, c->stored_size, c->size);
		/*
		 * The daemon holds a chunk's frame in memory (mlock'ed): no
		 * larger than zstd can make one of its plain size.
		 */
		if (c->encoding == MANIFEST_ZSTD &&
		    c->stored_size > ZSTD_COMPRESSBOUND(c->size))
			return format_refuse(why, why_size,
					     "chunk %u: stored size %u is more than a zstd frame of %u bytes can be (%llu)",
					     i, c->stored_size, c->size,
					     (unsigned long long)ZSTD_COMPRESSBOUND(c->size));
	}
	return 0;
}

/* Refs, then each blob's layout; fills ref_off. */
static int parse_refs(struct manifest *m, const unsigned char *p,
		      char *why, size_t why_size)
{
	uint32_t i, r;

	for (r = 0; r < m->nrefs; r++, p += sizeof(struct manifest_disk_ref)) {
		struct manifest_disk_ref d;

		memcpy(&d, p, sizeof(d));
		m->refs[r] = le32_to_cpu(d.chunk);
		if (m->refs[r] >= m->nchunks)
			return format_refuse(why, why_size,
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
			if (r + 1 < end && !page_aligned(c->size))
				return format_refuse(why, why_size,
						     "blob %u: chunk %u (ref %u) is not the last, but its size %u is not a multiple of %u",
						     i, m->refs[r], r, c->size,
						     PAGE_SIZE_4K);
			m->ref_off[r] = off;
			off += c->size;
		}
		if (off != b->size)
			return format_refuse(why, why_size,
					     "blob %u: chunk sizes add up to %llu, blob size is %llu",
					     i, (unsigned long long)off,
					     (unsigned long long)b->size);
	}
	return 0;
}

static int parse_prefetch(struct manifest *m, const unsigned char *p,
			  char *why, size_t why_size)
{
	uint32_t i;

	for (i = 0; i < m->nprefetch; i++, p += sizeof(struct manifest_disk_ref)) {
		struct manifest_disk_ref d;

		memcpy(&d, p, sizeof(d));
		m->prefetch[i] = le32_to_cpu(d.chunk);
		if (m->prefetch[i] >= m->nrefs)
			return format_refuse(why, why_size,
					     "prefetch %u: ref %u out of range (%u refs)",
					     i, m->prefetch[i], m->nrefs);
	}
	return 0;
}

int manifest_parse(const void *buf, size_t len, struct manifest **out,
		   char *why, size_t why_size)
{
	const unsigned char *p = buf;
	struct manifest_disk_header h;
	struct manifest *m;
	uint64_t need;
	uint32_t version;
	int z, ret;

	*out = NULL;
	if (len < sizeof(h))
		return format_refuse(why, why_size,
				     "header: truncated, %zu of %zu bytes", len,
				     sizeof(h));
	memcpy(&h, p, sizeof(h));
	if (memcmp(h.magic, MANIFEST_MAGIC, sizeof(h.magic)))
		return format_refuse(why, why_size,
				     "header: magic is not " MANIFEST_MAGIC);
	version = le32_to_cpu(h.version);
	if (version != MANIFEST_VERSION && version != MANIFEST_VERSION_PREFETCH)
		return format_refuse(why, why_size,
				     "header: version %u, only %u and %u are known",
				     version, MANIFEST_VERSION,
				     MANIFEST_VERSION_PREFETCH);
	if ((version == MANIFEST_VERSION) != !le32_to_cpu(h.nprefetch))
		return format_refuse(why, why_size,
				     "header: version %u with nprefetch %u (version 1 has none, version 2 at least one)",
				     version, le32_to_cpu(h.nprefetch));
	m = calloc(1, sizeof(*m));
	if (!m) {
		format_refuse(why, why_size, "out of memory");
		return -ENOMEM;
	}
	m->nblobs = le32_to_cpu(h.nblobs);
	m->npacks = le32_to_cpu(h.npacks);
	m->nchunks = le32_to_cpu(h.nchunks);
	m->nrefs = le32_to_cpu(h.nrefs);
	m->chunk_max = le32_to_cpu(h.chunk_max);
	m->nprefetch = le32_to_cpu(h.nprefetch);
	ret = check_counts(m, why, why_size);
	if (ret)
		goto fail;
	z = nonzero_at(h.reserved, sizeof(h.reserved));
	if (z >= 0) {
		ret = format_refuse(why, why_size,
				    "header: reserved byte %zu is not zero",
				    offsetof(struct manifest_disk_header, reserved) + z);
		goto fail;
	}
	need = encoded_size(m->nblobs, m->npacks, m->nchunks, m->nrefs,
			    m->nprefetch);
	if (len != need) {
		ret = format_refuse(why, why_size,
				    "length: %zu bytes, the counts in the header make %llu",
				    len, (unsigned long long)need);
		goto fail;
	}
	if (need > MANIFEST_MAX_SIZE) {
		ret = format_refuse(why, why_size,
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
	m->prefetch = calloc(m->nprefetch ? m->nprefetch : 1, sizeof(*m->prefetch));
	if (!m->blobs || !m->packs || !m->chunks || !m->refs || !m->ref_off ||
	    !m->prefetch) {
		format_refuse(why, why_size, "out of memory");
		ret = -ENOMEM;
		goto fail;
	}
	p += sizeof(h);
	ret = parse_blobs(m, p, why, why_size);
	if (ret)
		goto fail;
	p += sizeof(struct manifest_disk_blob) * m->nblobs;
	ret = parse_packs(m, p, why, why_size);
	if (ret)
		goto fail;
	p += sizeof(struct manifest_disk_pack) * m->npacks;
	ret = parse_chunks(m, p, why, why_size);
	if (ret)
		goto fail;
	p += sizeof(struct manifest_disk_chunk) * m->nchunks;
	ret = parse_refs(m, p, why, why_size);
	if (ret)
		goto fail;
	p += sizeof(struct manifest_disk_ref) * m->nrefs;
	ret = parse_prefetch(m, p, why, why_size);
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
	free(m->prefetch);
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

/* Each record is built whole, reserved bytes zero, then copied out. */
static void encode_header(const struct manifest *m, unsigned char *p)
{
	struct manifest_disk_header d = {
		.version = cpu_to_le32(m->nprefetch ? MANIFEST_VERSION_PREFETCH :
						      MANIFEST_VERSION),
		.nblobs = cpu_to_le32(m->nblobs),
		.npacks = cpu_to_le32(m->npacks),
		.nchunks = cpu_to_le32(m->nchunks),
		.nrefs = cpu_to_le32(m->nrefs),
		.chunk_max = cpu_to_le32(m->chunk_max),
		.nprefetch = cpu_to_le32(m->nprefetch),
	};

	memcpy(d.magic, MANIFEST_MAGIC, sizeof(d.magic));
	memcpy(p, &d, sizeof(d));
}

static void encode_blob(const struct manifest_blob *b, unsigned char *p)
{
	struct manifest_disk_blob d = {
		.size = cpu_to_le64(b->size),
		.first_ref = cpu_to_le32(b->first_ref),
		.nrefs = cpu_to_le32(b->nrefs),
	};

	memcpy(d.tag, b->tag, sizeof(d.tag));
	memcpy(p, &d, sizeof(d));
}

static void encode_pack(const struct manifest_pack *k, unsigned char *p)
{
	struct manifest_disk_pack d = { .size = cpu_to_le64(k->size) };

	memcpy(d.digest, k->digest, sizeof(d.digest));
	memcpy(p, &d, sizeof(d));
}

static void encode_chunk(const struct manifest_chunk *c, unsigned char *p)
{
	struct manifest_disk_chunk d = {
		.offset = cpu_to_le64(c->offset),
		.pack = cpu_to_le32(c->pack),
		.stored_size = cpu_to_le32(c->stored_size),
		.size = cpu_to_le32(c->size),
		.encoding = cpu_to_le32(c->encoding),
	};

	memcpy(d.digest, c->digest, sizeof(d.digest));
	memcpy(p, &d, sizeof(d));
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
	size = encoded_size(m->nblobs, m->npacks, m->nchunks, m->nrefs,
			    m->nprefetch);
	if (size > MANIFEST_MAX_SIZE)
		return format_refuse(why, why_size,
				     "length: %zu bytes, more than the %u allowed",
				     size, MANIFEST_MAX_SIZE);
	buf = calloc(1, size);
	if (!buf) {
		format_refuse(why, why_size, "out of memory");
		return -ENOMEM;
	}
	encode_header(m, buf);
	p = buf + sizeof(struct manifest_disk_header);
	for (i = 0; i < m->nblobs; i++, p += sizeof(struct manifest_disk_blob))
		encode_blob(&m->blobs[i], p);
	for (i = 0; i < m->npacks; i++, p += sizeof(struct manifest_disk_pack))
		encode_pack(&m->packs[i], p);
	for (i = 0; i < m->nchunks; i++,
	     p += sizeof(struct manifest_disk_chunk))
		encode_chunk(&m->chunks[i], p);
	for (i = 0; i < m->nrefs; i++, p += sizeof(struct manifest_disk_ref)) {
		struct manifest_disk_ref d = { .chunk = cpu_to_le32(m->refs[i]) };

		memcpy(p, &d, sizeof(d));
	}
	for (i = 0; i < m->nprefetch; i++, p += sizeof(struct manifest_disk_ref)) {
		struct manifest_disk_ref d = { .chunk = cpu_to_le32(m->prefetch[i]) };

		memcpy(p, &d, sizeof(d));
	}

	/* The daemon's own checks, so nothing it would refuse leaves here. */
	ret = manifest_parse(buf, size, &back, why, why_size);
	if (ret)
		goto fail;
	/* Only the tag is encoded: a digest saying otherwise is a bug. */
	for (i = 0; i < m->nblobs; i++) {
		if (memcmp(back->blobs[i].digest, m->blobs[i].digest,
			   SHA256_SIZE)) {
			ret = format_refuse(why, why_size,
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
