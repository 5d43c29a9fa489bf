// SPDX-License-Identifier: MIT
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "io.h"
#include "msg.h"
#include "outdir.h"
#include "packwriter.h"
#include "tmpfile.h"
#include "xalloc.h"

int pack_writer_init(struct pack_writer *w, int level)
{
	w->fd = -1;
	w->level = level;
	w->cctx = ZSTD_createCCtx();
	if (!w->cctx)
		return pack_err("out of memory");
	w->zcap = ZSTD_compressBound(MANIFEST_CHUNK_MAX);
	w->zbuf = xrealloc(NULL, w->zcap, 1);
	return 0;
}

void pack_writer_free(struct pack_writer *w)
{
	pack_writer_discard(w);
	free(w->zbuf);
	w->zbuf = NULL;
	ZSTD_freeCCtx(w->cctx);
	w->cctx = NULL;
}

int pack_writer_open(struct pack_writer *w, const char *packdir)
{
	w->fd = tmp_create(packdir, &w->tmp);
	if (w->fd < 0)
		return -1;
	w->size = 0;
	sha256_init(&w->sha);
	return 0;
}

int pack_writer_append(struct pack_writer *w, struct manifest_chunk *c,
		       const unsigned char *data, size_t len)
{
	const unsigned char *out = data;
	size_t n;

	n = ZSTD_compressCCtx(w->cctx, w->zbuf, w->zcap, data, len, w->level);
	if (ZSTD_isError(n))
		return pack_err("zstd: %s", ZSTD_getErrorName(n));
	c->encoding = MANIFEST_STORED;
	c->stored_size = (uint32_t)len;
	if (n < len) {
		out = w->zbuf;
		c->encoding = MANIFEST_ZSTD;
		c->stored_size = (uint32_t)n;
	}
	return pack_writer_copy(w, c, out);
}

int pack_writer_copy(struct pack_writer *w, struct manifest_chunk *c,
		     const unsigned char *stored)
{
	int ret = io_pwrite_all(w->fd, stored, c->stored_size, w->size);

	if (ret)
		return pack_err("cannot write %s: %s", w->tmp, strerror(-ret));
	sha256_update(&w->sha, stored, c->stored_size);
	c->offset = w->size;
	w->size += c->stored_size;
	return 0;
}

void pack_writer_discard(struct pack_writer *w)
{
	if (w->fd >= 0)
		close(w->fd);
	w->fd = -1;
	tmp_drop(w->tmp);
	w->tmp = NULL;
}

int pack_writer_publish(struct pack_writer *w, const char *outdir,
			unsigned char digest[SHA256_SIZE])
{
	char *path;
	int ret;

	if (fsync(w->fd))
		return pack_err("cannot write %s: %s", w->tmp, strerror(errno));
	close(w->fd);
	w->fd = -1;
	sha256_final(&w->sha, digest);
	path = pack_path(outdir, digest);
	ret = tmp_publish(w->tmp, path) < 0 ? -1 : 0;
	free(path);
	return ret;
}
