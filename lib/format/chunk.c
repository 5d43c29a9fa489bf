// SPDX-License-Identifier: MIT
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "chunk.h"

ZSTD_DCtx *chunk_dctx_new(void)
{
	/*
	 * Frames are decoded in one shot into the chunk's own buffer (at most
	 * MANIFEST_CHUNK_MAX): whatever window a frame declares, it cannot
	 * make the decoder allocate more or write past the chunk.
	 */
	return ZSTD_createDCtx();
}

int chunk_decode(ZSTD_DCtx *dctx, const struct manifest_chunk *c,
		 const unsigned char *stored, unsigned char *out, char *why,
		 size_t why_size)
{
	unsigned long long csize;
	size_t n;

	if (c->encoding == MANIFEST_STORED) {
		if (c->stored_size != c->size) {
			snprintf(why, why_size, "stored as is, but %u bytes for %u",
				 c->stored_size, c->size);
			return -EBADMSG;
		}
		memcpy(out, stored, c->size);
		return 0;
	}
	/* Exactly one frame, exactly the chunk's size, nothing after it. */
	n = ZSTD_findFrameCompressedSize(stored, c->stored_size);
	if (ZSTD_isError(n) || n != c->stored_size) {
		snprintf(why, why_size, "not one zstd frame of %u bytes",
			 c->stored_size);
		return -EBADMSG;
	}
	csize = ZSTD_getFrameContentSize(stored, c->stored_size);
	if (csize != c->size) {
		snprintf(why, why_size,
			 "the zstd frame does not say it holds %u bytes",
			 c->size);
		return -EBADMSG;
	}
	n = ZSTD_decompressDCtx(dctx, out, c->size, stored, c->stored_size);
	if (ZSTD_isError(n) || n != c->size) {
		snprintf(why, why_size, "zstd: %s",
			 ZSTD_isError(n) ? ZSTD_getErrorName(n) : "short frame");
		return -EBADMSG;
	}
	return 0;
}

int chunk_decode_checked(ZSTD_DCtx *dctx, const struct manifest_chunk *c,
			 const unsigned char *stored, unsigned char *out,
			 char *why, size_t why_size)
{
	unsigned char got[SHA256_SIZE];
	char hex[SHA256_HEX_SIZE + 1];
	int ret = chunk_decode(dctx, c, stored, out, why, why_size);

	if (ret)
		return ret;
	sha256(out, c->size, got);
	if (memcmp(got, c->digest, SHA256_SIZE)) {
		sha256_to_hex(got, hex);
		snprintf(why, why_size, "sha256 %.16s…, not the manifest's",
			 hex);
		return -EBADMSG;
	}
	return 0;
}
