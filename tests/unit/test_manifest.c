// SPDX-License-Identifier: MIT
/* The verified-image manifest: a valid one round trips; each rule refuses. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "le.h"
#include "manifest.h"

/* Where the sections of the sample start (2 blobs, 2 packs, 5 chunks). */
#define BLOB(i)		(64 + 96 * (i))
#define PACK(i)		(BLOB(2) + 48 * (i))
#define CHUNK(i)	(PACK(2) + 56 * (i))
#define REF(i)		(CHUNK(5) + 4 * (i))
#define SAMPLE_LEN	REF(8)

static struct manifest_blob blobs[2];
static struct manifest_pack packs[2];
/*
 * Blob 0 is chunks 0 1 2 3, blob 1 is chunks 1 2 1 4: chunks 1 and 2
 * are shared, and chunk 1 appears twice in blob 1.
 */
static struct manifest_chunk chunks[5] = {
	{ .pack = 0, .offset = 0, .stored_size = 3000, .size = 8192,
	  .encoding = MANIFEST_ZSTD },
	{ .pack = 0, .offset = 3000, .stored_size = 4096, .size = 4096,
	  .encoding = MANIFEST_STORED },
	{ .pack = 1, .offset = 0, .stored_size = 16384, .size = 16384,
	  .encoding = MANIFEST_STORED },
	{ .pack = 1, .offset = 16384, .stored_size = 500, .size = 1000,
	  .encoding = MANIFEST_ZSTD },
	{ .pack = 0, .offset = 7096, .stored_size = 100, .size = 100,
	  .encoding = MANIFEST_STORED },
};
static uint32_t refs[8] = { 0, 1, 2, 3, 1, 2, 1, 4 };
static struct manifest sample = {
	.nblobs = 2, .npacks = 2, .nchunks = 5, .nrefs = 8,
	.chunk_max = 16384,
	.blobs = blobs, .packs = packs, .chunks = chunks, .refs = refs,
};

static void make_sample(void)
{
	unsigned int i;

	for (i = 0; i < 2; i++) {
		char name[] = "blob0";

		name[4] += i;
		sha256(name, 5, blobs[i].digest);
		sha256_to_hex(blobs[i].digest, blobs[i].tag);
		memset(packs[i].digest, 0xa0 + i, SHA256_SIZE);
	}
	blobs[0].size = 8192 + 4096 + 16384 + 1000;
	blobs[0].first_ref = 0;
	blobs[0].nrefs = 4;
	blobs[1].size = 4096 + 16384 + 4096 + 100;
	blobs[1].first_ref = 4;
	blobs[1].nrefs = 4;
	packs[0].size = 10000;
	packs[1].size = 30000;
	for (i = 0; i < 5; i++)
		memset(chunks[i].digest, 0x10 + i, SHA256_SIZE);
}

static unsigned char *good;	/* the sample, encoded */
static size_t good_len;
static unsigned char bad[SAMPLE_LEN + 1];

/* A fresh copy of the good encoding to mutate. */
static unsigned char *copy(void)
{
	memcpy(bad, good, good_len);
	return bad;
}

/* @buf (@len bytes) is refused, and the reason contains @word. */
static int refused(const unsigned char *buf, size_t len, const char *word)
{
	struct manifest *m = (struct manifest *)1;
	char why[256] = "";
	int ret = manifest_parse(buf, len, &m, why, sizeof(why));

	if (ret != -EINVAL || m || !strstr(why, word)) {
		fprintf(stderr, "want a refusal naming \"%s\": ret %d, why \"%s\"\n",
			word, ret, why);
		return 0;
	}
	return 1;
}

static int bad_refused(const char *word)
{
	return refused(bad, good_len, word);
}

static int accepted(const unsigned char *buf, size_t len)
{
	struct manifest *m = NULL;
	char why[256] = "";
	int ret = manifest_parse(buf, len, &m, why, sizeof(why));

	if (ret)
		fprintf(stderr, "refused: %s\n", why);
	manifest_free(m);
	return ret == 0;
}

static void check_parsed(const struct manifest *m)
{
	static const uint64_t off[8] = {
		0, 8192, 12288, 28672, 0, 4096, 20480, 24576
	};
	unsigned int i;

	CHECK(m->nblobs == 2 && m->npacks == 2 && m->nchunks == 5 &&
	      m->nrefs == 8 && m->chunk_max == 16384);
	for (i = 0; i < 2; i++) {
		CHECK_STR(m->blobs[i].tag, blobs[i].tag);
		CHECK(!memcmp(m->blobs[i].digest, blobs[i].digest,
			      SHA256_SIZE));
		CHECK(m->blobs[i].size == blobs[i].size);
		CHECK(m->blobs[i].first_ref == blobs[i].first_ref);
		CHECK(m->blobs[i].nrefs == blobs[i].nrefs);
		CHECK(!memcmp(m->packs[i].digest, packs[i].digest,
			      SHA256_SIZE));
		CHECK(m->packs[i].size == packs[i].size);
	}
	for (i = 0; i < 5; i++)
		CHECK(!memcmp(&m->chunks[i], &chunks[i], sizeof(chunks[i])));
	for (i = 0; i < 8; i++) {
		CHECK(m->refs[i] == refs[i]);
		CHECK(m->ref_off[i] == off[i]);
	}
}

static void check_lookups(const struct manifest *m)
{
	static const struct {
		unsigned int blob;
		uint64_t off;
		uint32_t ref;
	} at[] = {
		{ 0, 0, 0 }, { 0, 8191, 0 }, { 0, 8192, 1 }, { 0, 12287, 1 },
		{ 0, 12288, 2 }, { 0, 28671, 2 }, { 0, 28672, 3 },
		{ 0, 29671, 3 },
		{ 1, 0, 4 }, { 1, 4095, 4 }, { 1, 4096, 5 }, { 1, 20479, 5 },
		{ 1, 20480, 6 }, { 1, 24575, 6 }, { 1, 24576, 7 },
		{ 1, 24675, 7 },
	};
	const struct manifest_blob *b;
	unsigned int i;
	char tag[SHA256_HEX_SIZE + 1];
	uint64_t off;

	b = manifest_find_blob(m, blobs[1].tag, SHA256_HEX_SIZE);
	CHECK(b == &m->blobs[1]);
	CHECK(manifest_find_blob(m, blobs[0].tag, SHA256_HEX_SIZE) ==
	      &m->blobs[0]);
	CHECK(!manifest_find_blob(m, blobs[1].tag, SHA256_HEX_SIZE - 1));
	CHECK(!manifest_find_blob(m, blobs[1].tag, 0));
	memcpy(tag, blobs[1].tag, sizeof(tag));
	tag[63] = tag[63] == '0' ? '1' : '0';
	CHECK(!manifest_find_blob(m, tag, SHA256_HEX_SIZE));

	for (i = 0; i < sizeof(at) / sizeof(at[0]); i++) {
		uint32_t r = manifest_ref_at(m, &m->blobs[at[i].blob],
					     at[i].off);

		if (r != at[i].ref)
			fprintf(stderr, "blob %u byte %llu: ref %u, want %u\n",
				at[i].blob, (unsigned long long)at[i].off, r,
				at[i].ref);
		CHECK(r == at[i].ref);
	}
	/* every byte lands in the ref that holds it */
	for (i = 0; i < 2; i++) {
		const struct manifest_blob *mb = &m->blobs[i];
		int ok = 1;

		for (off = 0; off < mb->size; off++) {
			uint32_t r = manifest_ref_at(m, mb, off);

			ok &= r >= mb->first_ref &&
			      r < mb->first_ref + mb->nrefs &&
			      m->ref_off[r] <= off &&
			      off < m->ref_off[r] + m->chunks[m->refs[r]].size;
		}
		CHECK(ok);
	}
}

/* The smallest manifest: one blob of one chunk of one page. */
static void check_minimal(void)
{
	struct manifest_blob b = { .size = 1, .first_ref = 0, .nrefs = 1 };
	struct manifest_pack p = { .size = 1 };
	struct manifest_chunk c = { .stored_size = 1, .size = 1,
				    .encoding = MANIFEST_STORED };
	uint32_t r = 0;
	struct manifest m = {
		.nblobs = 1, .npacks = 1, .nchunks = 1, .nrefs = 1,
		.chunk_max = 4096, .blobs = &b, .packs = &p, .chunks = &c,
		.refs = &r,
	};
	struct manifest *back = NULL;
	unsigned char *buf = NULL;
	size_t len = 0;
	char why[256] = "";

	sha256("", 0, b.digest);
	sha256_to_hex(b.digest, b.tag);
	CHECK(manifest_encode(&m, &buf, &len, why, sizeof(why)) == 0);
	CHECK(len == 64 + 96 + 48 + 56 + 4);
	CHECK(buf && manifest_parse(buf, len, &back, why, sizeof(why)) == 0);
	if (back) {
		CHECK(back->ref_off[0] == 0);
		CHECK(manifest_ref_at(back, &back->blobs[0], 0) == 0);
	}
	manifest_free(back);
	free(buf);
}

/* Version 2: the prefetch table after the refs, covered like the rest. */
static void check_prefetch_table(void)
{
	struct manifest m = sample, *back = NULL;
	uint32_t table[3] = { 4, 0, 2 };
	unsigned char *buf = NULL, *t;
	size_t len = 0;
	char why[256] = "";

	m.nprefetch = 3;
	m.prefetch = table;
	CHECK(manifest_encode(&m, &buf, &len, why, sizeof(why)) == 0);
	CHECK(len == SAMPLE_LEN + 12);
	CHECK(buf && get_le32(buf + 8) == MANIFEST_VERSION_PREFETCH);
	CHECK(buf && get_le32(buf + 32) == 3);
	CHECK(buf && manifest_parse(buf, len, &back, why, sizeof(why)) == 0);
	CHECK(back && back->nprefetch == 3 && back->prefetch[0] == 4 &&
	      back->prefetch[2] == 2);
	manifest_free(back);
	/* without a table: version 1, as before */
	CHECK(get_le32(good + 8) == MANIFEST_VERSION);
	t = malloc(len);
	/* a ref past the refs */
	memcpy(t, buf, len);
	put_le32(t + len - 4, 99);
	CHECK(manifest_parse(t, len, &back, why, sizeof(why)) == -EINVAL);
	CHECK(strstr(why, "prefetch 2: ref 99 out of range"));
	/* version 1 with a count, version 2 without */
	memcpy(t, buf, len);
	put_le32(t + 8, MANIFEST_VERSION);
	CHECK(manifest_parse(t, len, &back, why, sizeof(why)) == -EINVAL);
	CHECK(strstr(why, "version 1 with nprefetch 3"));
	memcpy(t, good, good_len);
	put_le32(t + 8, MANIFEST_VERSION_PREFETCH);
	CHECK(manifest_parse(t, good_len, &back, why, sizeof(why)) == -EINVAL);
	CHECK(strstr(why, "version 2 with nprefetch 0"));
	/* more entries than refs; a table cut short */
	memcpy(t, buf, len);
	put_le32(t + 32, 1000);
	CHECK(manifest_parse(t, len, &back, why, sizeof(why)) == -EINVAL);
	CHECK(strstr(why, "nprefetch 1000 out of range"));
	CHECK(manifest_parse(buf, len - 4, &back, why, sizeof(why)) == -EINVAL);
	CHECK(strstr(why, "length:"));
	free(t);
	free(buf);
}

/* manifest_encode() refuses what manifest_parse() would. */
static void check_encode_refusals(void)
{
	struct manifest m = sample;
	struct manifest_chunk c[5];
	struct manifest_blob b[2];
	unsigned char *buf = (unsigned char *)1;
	size_t len = 1;
	char why[256] = "";

	memcpy(c, chunks, sizeof(c));
	m.chunks = c;
	c[3].pack = 7;
	CHECK(manifest_encode(&m, &buf, &len, why, sizeof(why)) == -EINVAL);
	CHECK(!buf && !len && strstr(why, "chunk 3: pack index 7"));
	m.chunks = chunks;

	memcpy(b, blobs, sizeof(b));
	m.blobs = b;
	b[1].digest[5] ^= 1;
	CHECK(manifest_encode(&m, &buf, &len, why, sizeof(why)) == -EINVAL);
	CHECK(!buf && strstr(why, "blob 1: digest"));
	memcpy(b, blobs, sizeof(b));
	b[0].tag[10] = '\0';
	CHECK(manifest_encode(&m, &buf, &len, why, sizeof(why)) == -EINVAL);
	CHECK(!buf && strstr(why, "blob 0: tag"));
	m.blobs = blobs;

	/* counts are checked before anything is read or allocated */
	m.nblobs = 0;
	CHECK(manifest_encode(&m, &buf, &len, why, sizeof(why)) == -EINVAL);
	CHECK(!buf && strstr(why, "nblobs"));
	m.nblobs = 2;
	m.nchunks = MANIFEST_CHUNKS_MAX;
	m.nrefs = MANIFEST_CHUNKS_MAX;
	CHECK(manifest_encode(&m, &buf, &len, why, sizeof(why)) == -EINVAL);
	CHECK(!buf && strstr(why, "length"));

	/* a NULL reason buffer is fine */
	m = sample;
	m.chunk_max = 100;
	CHECK(manifest_encode(&m, &buf, &len, NULL, 0) == -EINVAL);
}

static void check_refusals(void)
{
	struct manifest *m = (struct manifest *)1;
	char why[256];
	size_t len;
	int all;

	/* header */
	copy()[0] = 'X';
	CHECK(bad_refused("magic"));
	put_le32(copy() + 8, 2);
	CHECK(bad_refused("version 2"));
	put_le32(copy() + 8, 0);
	CHECK(bad_refused("version 0"));
	copy()[40] = 1;
	CHECK(bad_refused("header: reserved byte 40"));
	copy()[63] = 0x80;
	CHECK(bad_refused("header: reserved byte 63"));

	/* every truncation, and one byte too many */
	all = 1;
	for (len = 0; len < good_len; len++) {
		m = (struct manifest *)1;
		why[0] = '\0';
		all &= manifest_parse(good, len, &m, why, sizeof(why)) ==
		       -EINVAL && !m && why[0];
	}
	CHECK(all);
	CHECK(refused(good, 10, "truncated"));
	CHECK(refused(good, good_len - 1, "length"));
	copy()[good_len] = 0;
	CHECK(refused(bad, good_len + 1, "length"));
	/* a count that asks for more than is there */
	put_le32(copy() + 24, 9);
	CHECK(bad_refused("length"));
	put_le32(copy() + 20, MANIFEST_CHUNKS_MAX);
	CHECK(bad_refused("length"));

	/* count limits */
	put_le32(copy() + 12, 0);
	CHECK(bad_refused("nblobs 0"));
	put_le32(copy() + 12, MANIFEST_BLOBS_MAX + 1);
	CHECK(bad_refused("nblobs 17"));
	put_le32(copy() + 16, 0);
	CHECK(bad_refused("npacks 0"));
	put_le32(copy() + 16, MANIFEST_PACKS_MAX + 1);
	CHECK(bad_refused("npacks 65537"));
	put_le32(copy() + 20, 0);
	CHECK(bad_refused("nchunks 0"));
	put_le32(copy() + 20, MANIFEST_CHUNKS_MAX + 1);
	CHECK(bad_refused("nchunks"));
	put_le32(copy() + 24, 0);
	CHECK(bad_refused("nrefs 0"));
	put_le32(copy() + 24, 0xffffffff);
	CHECK(bad_refused("nrefs"));
	put_le32(copy() + 28, 0);
	CHECK(bad_refused("chunk_max 0"));
	put_le32(copy() + 28, 4095);
	CHECK(bad_refused("chunk_max 4095"));
	put_le32(copy() + 28, 20000);
	CHECK(bad_refused("chunk_max 20000"));
	put_le32(copy() + 28, MANIFEST_CHUNK_MAX + 4096);
	CHECK(bad_refused("chunk_max"));
	put_le32(copy() + 28, MANIFEST_CHUNK_MAX);
	CHECK(accepted(bad, good_len));

	/* blobs */
	copy()[BLOB(1) + 5] = 'A';
	CHECK(bad_refused("blob 1: tag"));
	copy()[BLOB(0) + 63] = 'g';
	CHECK(bad_refused("blob 0: tag"));
	copy()[BLOB(1)] = '\0';
	CHECK(bad_refused("blob 1: tag"));
	memcpy(copy() + BLOB(1), good + BLOB(0), 64);
	CHECK(bad_refused("blob 1: same tag as blob 0"));
	put_le64(copy() + BLOB(0) + 64, 0);
	CHECK(bad_refused("blob 0: size 0"));
	put_le64(copy() + BLOB(1) + 64, MANIFEST_BLOB_SIZE_MAX + 1);
	CHECK(bad_refused("blob 1: size"));
	copy()[BLOB(1) + 95] = 1;
	CHECK(bad_refused("blob 1: reserved byte 95"));
	copy()[BLOB(0) + 80] = 1;
	CHECK(bad_refused("blob 0: reserved byte 80"));

	/* the blobs take the refs in order, all of them */
	put_le32(copy() + BLOB(0) + 72, 1);
	CHECK(bad_refused("blob 0: first ref 1"));
	put_le32(copy() + BLOB(1) + 72, 3);
	CHECK(bad_refused("blob 1: first ref 3"));
	put_le32(copy() + BLOB(1) + 72, 5);
	CHECK(bad_refused("blob 1: first ref 5"));
	put_le32(copy() + BLOB(1) + 76, 3);
	CHECK(bad_refused("7 of the 8 refs"));
	put_le32(copy() + BLOB(1) + 76, 5);
	CHECK(bad_refused("blob 1: refs"));
	put_le32(copy() + BLOB(1) + 76, 0xffffffff);
	CHECK(bad_refused("blob 1: refs"));
	put_le32(copy() + BLOB(0) + 76, 0);
	CHECK(bad_refused("blob 0: no refs"));

	/* packs */
	copy()[PACK(1) + 40] = 1;
	CHECK(bad_refused("pack 1: reserved byte 40"));

	/* chunks */
	put_le32(copy() + CHUNK(1) + 40, 2);
	CHECK(bad_refused("chunk 1: pack index 2 out of range (2 packs)"));
	put_le32(copy() + CHUNK(4) + 40, 0xffffffff);
	CHECK(bad_refused("chunk 4: pack index"));
	put_le64(copy() + CHUNK(2) + 32, UINT64_MAX - 100);
	CHECK(bad_refused("chunk 2: offset"));
	put_le64(copy() + CHUNK(3) + 32, 30000 - 499);	/* one past the end */
	CHECK(bad_refused("chunk 3: offset"));
	put_le64(copy() + CHUNK(3) + 32, 30000 - 500);	/* ends at the end */
	CHECK(accepted(bad, good_len));
	put_le64(copy() + PACK(0) + 32, 7195);	/* chunk 4 ends at 7196 */
	CHECK(bad_refused("chunk 4: offset"));
	put_le64(copy() + PACK(1) + 32, 0);
	CHECK(bad_refused("chunk 2: offset"));
	put_le32(copy() + CHUNK(0) + 44, 0);
	CHECK(bad_refused("chunk 0: offset 0 + stored size 0"));
	put_le32(copy() + CHUNK(3) + 48, 0);
	CHECK(bad_refused("chunk 3: plain size 0"));
	put_le32(copy() + CHUNK(3) + 48, 16385);
	CHECK(bad_refused("chunk 3: plain size 16385"));
	put_le32(copy() + CHUNK(0) + 52, 2);
	CHECK(bad_refused("chunk 0: unknown encoding 2"));
	put_le32(copy() + CHUNK(1) + 44, 4095);
	CHECK(bad_refused("chunk 1: stored as is"));
	put_le32(copy() + CHUNK(0) + 52, MANIFEST_STORED);
	CHECK(bad_refused("chunk 0: stored as is"));
	/* a frame larger than zstd makes for the plain size (1000 + 66) */
	put_le32(copy() + CHUNK(3) + 44, 1067);
	CHECK(bad_refused("chunk 3: stored size 1067 is more than a zstd frame of 1000 bytes can be (1066)"));
	put_le32(copy() + CHUNK(3) + 44, 1066);
	CHECK(accepted(bad, good_len));

	/* refs */
	put_le32(copy() + REF(3), 5);
	CHECK(bad_refused("ref 3: chunk 5 out of range (5 chunks)"));
	put_le32(copy() + REF(7), 0xffffffff);
	CHECK(bad_refused("ref 7:"));

	/* blob layout: whole pages but the last chunk, sizes add up */
	put_le32(copy() + CHUNK(0) + 48, 8000);
	CHECK(bad_refused("blob 0: chunk 0 (ref 0) is not the last"));
	put_le32(copy() + REF(7), 3);	/* blob 1 ends in chunk 3: sum differs */
	CHECK(bad_refused("blob 1: chunk sizes add up to 25576, blob size is 24676"));
	put_le32(copy() + REF(5), 4);	/* a 100-byte chunk mid-blob */
	CHECK(bad_refused("blob 1: chunk 4 (ref 5)"));
	put_le64(copy() + BLOB(1) + 64, 24677);
	CHECK(bad_refused("blob 1: chunk sizes add up to 24676, blob size is 24677"));
	put_le64(copy() + BLOB(0) + 64, 29671);
	CHECK(bad_refused("blob 0: chunk sizes add up to 29672"));
	/* the shared chunk (a whole page) last in blob 1: fine */
	put_le32(copy() + REF(7), 1);
	put_le64(bad + BLOB(1) + 64, 4096 + 16384 + 4096 + 4096);
	CHECK(accepted(bad, good_len));
}

int main(void)
{
	struct manifest *m = NULL;
	char why[256] = "";
	int ret;

	make_sample();
	CHECK(manifest_encode(&sample, &good, &good_len, why,
			      sizeof(why)) == 0);
	if (!good) {
		fprintf(stderr, "sample refused: %s\n", why);
		return check_report("test_manifest");
	}
	CHECK(good_len == SAMPLE_LEN);
	CHECK(!memcmp(good, MANIFEST_MAGIC, 8));
	ret = manifest_parse(good, good_len, &m, why, sizeof(why));
	CHECK(ret == 0);
	if (!ret) {
		unsigned char *again = NULL;
		size_t len = 0;

		check_parsed(m);
		check_lookups(m);
		/* parse then encode gives back the same bytes */
		CHECK(manifest_encode(m, &again, &len, why, sizeof(why)) == 0);
		CHECK(len == good_len && again &&
		      !memcmp(again, good, good_len));
		free(again);
	}
	manifest_free(m);
	manifest_free(NULL);

	check_minimal();
	check_encode_refusals();
	check_prefetch_table();
	check_refusals();
	free(good);
	return check_report("test_manifest");
}
