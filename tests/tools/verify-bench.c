// SPDX-License-Identifier: MIT
/*
 * make bench: the CPU cost of what lazyrootd does to each chunk of a
 * verified image (zstd decompression + sha256), per MiB of plain bytes,
 * against copying the same bytes, measured in one run.
 *   verify-bench PUBLISH_DIR FSID
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "manifest.h"
#include "chunk.h"
#include "verified.h"

static unsigned char *slurp(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	unsigned char *buf = NULL;
	long n;

	if (!f)
		return NULL;
	if (!fseek(f, 0, SEEK_END) && (n = ftell(f)) >= 0 &&
	    !fseek(f, 0, SEEK_SET) && (buf = malloc((size_t)n + 1)) &&
	    fread(buf, 1, (size_t)n, f) == (size_t)n) {
		*len = (size_t)n;
	} else {
		free(buf);
		buf = NULL;
	}
	fclose(f);
	return buf;
}

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

int main(int argc, char **argv)
{
	struct manifest *m;
	unsigned char **packs, *plain, *out;
	uint64_t total = 0;
	char path[4096], why[256], hex[SHA256_HEX_SIZE + 1];
	double best[3] = { 1e9, 1e9, 1e9 };
	ZSTD_DCtx *d = chunk_dctx_new();
	size_t len, off;
	uint32_t i;
	int pass, k;

	if (argc != 3) {
		fprintf(stderr, "usage: verify-bench PUBLISH_DIR FSID\n");
		return 2;
	}
	snprintf(path, sizeof(path), "%s/%s.manifest", argv[1], argv[2]);
	plain = slurp(path, &len);
	if (!plain || manifest_parse(plain, len, &m, why, sizeof(why))) {
		fprintf(stderr, "verify-bench: %s: %s\n", path,
			plain ? why : strerror(errno));
		return 1;
	}
	free(plain);
	packs = calloc(m->npacks, sizeof(*packs));
	for (i = 0; i < m->npacks; i++) {
		sha256_to_hex(m->packs[i].digest, hex);
		snprintf(path, sizeof(path), "%s/packs/%s.pack", argv[1], hex);
		packs[i] = slurp(path, &len);
		if (!packs[i] || len != m->packs[i].size) {
			fprintf(stderr, "verify-bench: %s: missing or wrong size\n",
				path);
			return 1;
		}
	}
	for (i = 0; i < m->nchunks; i++)
		total += m->chunks[i].size;
	plain = malloc(total);
	out = malloc(MANIFEST_CHUNK_MAX);
	if (!plain || !out || !d)
		return 1;
	for (pass = 0; pass < 5; pass++) {
		double t;

		/* 0: decompress and check, as lazyrootd does */
		t = now();
		for (i = 0, off = 0; i < m->nchunks; off += m->chunks[i++].size) {
			const struct manifest_chunk *c = &m->chunks[i];

			if (chunk_decode_checked(d, c, packs[c->pack] + c->offset,
					    plain + off, why, sizeof(why))) {
				fprintf(stderr, "verify-bench: chunk %u: %s\n", i, why);
				return 1;
			}
		}
		t = now() - t;
		best[0] = t < best[0] ? t : best[0];
		/* 1: sha256 alone */
		t = now();
		for (i = 0, off = 0; i < m->nchunks; off += m->chunks[i++].size)
			sha256(plain + off, m->chunks[i].size, (unsigned char *)why);
		t = now() - t;
		best[1] = t < best[1] ? t : best[1];
		/* 2: the baseline: copying the plain bytes once */
		t = now();
		for (i = 0, off = 0; i < m->nchunks; off += m->chunks[i++].size)
			memcpy(out, plain + off, m->chunks[i].size);
		t = now() - t;
		best[2] = t < best[2] ? t : best[2];
	}
	printf("bench: %u chunks, %.1f MiB plain\n", m->nchunks, total / 1048576.0);
	for (k = 0; k < 2; k++)
		printf("bench: %s: %.2f ms per MiB (%.0f MiB/s), %.1f x the cost of copying the bytes\n",
		       k ? "sha256 alone" : "decompress + sha256 check",
		       best[k] * 1000 / (total / 1048576.0),
		       total / 1048576.0 / best[k], best[k] / best[2]);
	for (i = 0; i < m->npacks; i++)
		free(packs[i]);
	free(packs);
	free(plain);
	free(out);
	ZSTD_freeDCtx(d);
	manifest_free(m);
	return 0;
}
