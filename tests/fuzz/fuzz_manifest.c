// SPDX-License-Identifier: MIT
/* libFuzzer target: manifests of verified images, as a server sends them. */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "manifest.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* @r is a ref of @b and holds byte @off of it. */
static int holds(const struct manifest *m, const struct manifest_blob *b,
		 uint32_t r, uint64_t off)
{
	return r >= b->first_ref && r - b->first_ref < b->nrefs &&
	       m->ref_off[r] <= off &&
	       off - m->ref_off[r] < m->chunks[m->refs[r]].size;
}

static void check(const struct manifest *m, const uint8_t *buf, size_t size)
{
	unsigned char *again;
	size_t len;
	char why[256];
	uint32_t i, r;

	for (i = 0; i < m->nblobs; i++) {
		const struct manifest_blob *b = &m->blobs[i];
		uint64_t sum = 0;

		for (r = b->first_ref; r < b->first_ref + b->nrefs; r++) {
			if (m->refs[r] >= m->nchunks || m->ref_off[r] != sum)
				abort();
			sum += m->chunks[m->refs[r]].size;
		}
		if (sum != b->size ||
		    manifest_find_blob(m, b->tag, SHA256_HEX_SIZE) != b ||
		    !holds(m, b, manifest_ref_at(m, b, 0), 0) ||
		    !holds(m, b, manifest_ref_at(m, b, b->size / 2),
			   b->size / 2) ||
		    !holds(m, b, manifest_ref_at(m, b, b->size - 1),
			   b->size - 1))
			abort();
	}
	/* Nothing is accepted that does not encode back to itself. */
	if (manifest_encode(m, &again, &len, why, sizeof(why)))
		abort();
	if (len != size || memcmp(again, buf, size))
		abort();
	free(again);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	/* A private copy: the parser must not read past what it was given. */
	uint8_t *buf = malloc(size ? size : 1);
	struct manifest *m;
	char why[256] = "";
	int ret;

	memcpy(buf, data, size);
	ret = manifest_parse(buf, size, &m, why, sizeof(why));
	if (!ret) {
		if (!m)
			abort();
		check(m, buf, size);
		manifest_free(m);
	} else if ((ret != -EINVAL && ret != -ENOMEM) || m || !why[0]) {
		abort(); /* every refusal says why */
	}
	free(buf);
	return 0;
}
