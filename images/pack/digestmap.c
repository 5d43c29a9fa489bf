// SPDX-License-Identifier: MIT
#include <stdlib.h>
#include <string.h>

#include "digestmap.h"
#include "le.h"
#include "sha256.h"
#include "xalloc.h"

static size_t home(const struct digest_map *m, const unsigned char *d)
{
	return (size_t)get_le64(d) & m->mask;
}

uint32_t digest_map_find(const struct digest_map *m, const unsigned char *d,
			 const void *base, size_t stride)
{
	size_t i;

	if (!m->slot)
		return NO_INDEX;
	for (i = home(m, d); m->slot[i] != NO_INDEX; i = (i + 1) & m->mask)
		if (!memcmp((const char *)base + m->slot[i] * stride, d,
			    SHA256_SIZE))
			return m->slot[i];
	return NO_INDEX;
}

static void put(struct digest_map *m, uint32_t idx, const void *base,
		size_t stride)
{
	const unsigned char *d = (const unsigned char *)base + idx * stride;
	size_t i;

	for (i = home(m, d); m->slot[i] != NO_INDEX; i = (i + 1) & m->mask)
		;
	m->slot[i] = idx;
}

void digest_map_add(struct digest_map *m, uint32_t idx, const void *base,
		    size_t stride)
{
	/* At most half full, so probes stay short. */
	if (2 * (m->count + 1) > m->mask + 1 || !m->slot) {
		uint32_t *old = m->slot;
		size_t i, n = m->slot ? m->mask + 1 : 0;

		m->mask = n ? 2 * n - 1 : 1023;
		m->slot = xrealloc(NULL, m->mask + 1, sizeof(*m->slot));
		memset(m->slot, 0xff, (m->mask + 1) * sizeof(*m->slot));
		for (i = 0; i < n; i++)
			if (old[i] != NO_INDEX)
				put(m, old[i], base, stride);
		free(old);
	}
	put(m, idx, base, stride);
	m->count++;
}

void digest_map_free(struct digest_map *m)
{
	free(m->slot);
	m->slot = NULL;
	m->mask = m->count = 0;
}
