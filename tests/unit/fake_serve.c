// SPDX-License-Identifier: MIT
/*
 * The fake source and front end of fake_serve.h. No CHECK() here: check.h
 * counts per test file, so what a test wants checked it reads from the
 * records (or from on_write) and checks itself.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "fake_serve.h"
#include "serve.h"

unsigned char fake_byte(uint64_t off)
{
	/* differs from page to page, so a page at the wrong offset shows */
	return (unsigned char)(off * 7 + off / 4096);
}

void fake_bytes(unsigned char *buf, uint64_t off, uint64_t len)
{
	uint64_t k;

	for (k = 0; k < len; k++)
		buf[k] = fake_byte(off + k);
}

/* ---- the source ---- */

static struct fake_source *as_fake(struct source *src)
{
	return (struct fake_source *)src;
}

static void fk_open(struct source *src, struct blob *b, const char *store_dir)
{
	const struct fake_blob *fb;
	char why[sizeof(b->url) + 16];

	(void)store_dir;
	snprintf(b->url, sizeof(b->url), "https://x/%s", b->name);
	for (fb = as_fake(src)->blobs; fb->name; fb++) {
		if (!strcmp(fb->name, b->name)) {
			b->size = fb->size;
			blob_opened(b, 0, NULL);
			return;
		}
	}
	snprintf(why, sizeof(why), "%s: HTTP 404", b->url);
	blob_opened(b, -ENOENT, why);
}

static void fk_extent(const struct source *src, const struct blob *b,
		      uint64_t *off, uint64_t *end)
{
	(void)src, (void)b, (void)off, (void)end;
}

static int fk_fetch(struct source *src, struct job *j)
{
	struct fake_source *fs = as_fake(src);

	if (fs->at_once) {
		fake_bytes(j->buf, j->off, j->len);
		job_checked(j, j->off, j->len);
		job_done(j, 0, NULL);
		return 0;
	}
	if (fs->njobs == FAKE_JOBS_MAX)
		return -ENOMEM;
	fs->batch[fs->njobs] = fs->plugged ? fs->plugs : 0;
	fs->jobs[fs->njobs++] = j;
	return 0;
}

static void fk_plug(struct source *src)
{
	struct fake_source *fs = as_fake(src);

	fs->plugged = 1;
	fs->plugs++;
}

static void fk_unplug(struct source *src)
{
	as_fake(src)->plugged = 0;
}

static void fk_job_free(struct job *j)
{
	(void)j;
}

static void fk_destroy(struct source *src)
{
	(void)src;
}

static const struct source_ops fk_ops = {
	.open = fk_open, .extent = fk_extent, .fetch = fk_fetch,
	.job_free = fk_job_free, .destroy = fk_destroy,
};

static const struct source_ops fk_batch_ops = {
	.open = fk_open, .extent = fk_extent, .fetch = fk_fetch,
	.plug = fk_plug, .unplug = fk_unplug,
	.job_free = fk_job_free, .destroy = fk_destroy,
};

void fake_source_batches(struct fake_source *fs)
{
	fs->src.ops = &fk_batch_ops;
}

void fake_source_init(struct fake_source *fs, const struct fake_blob *blobs,
		      const char *fail_why)
{
	memset(fs, 0, sizeof(*fs));
	fs->src.ops = &fk_ops;
	fs->blobs = blobs;
	fs->fail_why = fail_why;
}

void fake_finish(struct fake_source *fs, unsigned int i, int ok)
{
	struct job *j = fs->jobs[i];

	if (ok) {
		fake_bytes(j->buf, j->off, j->len);
		job_checked(j, j->off, j->len);
	}
	job_done(j, ok ? 0 : -EIO, ok ? "" : fs->fail_why);
}

/* ---- the front end ---- */

static struct fake_fe *as_fe(struct fe_object *o)
{
	return (struct fake_fe *)o;
}

/* Bytes of [off, off + len) at @buf that are not what the blob holds there. */
static uint64_t bad_bytes(const struct fake_fe *fe, const unsigned char *buf,
			  uint64_t off, uint64_t len)
{
	uint64_t k, bad = 0;

	for (k = 0; k < len; k++) {
		uint64_t at = off + k;

		bad += buf[k] != ((int64_t)at < fe->size ? fake_byte(at) : 0);
	}
	return bad;
}

static void fe_opened(struct fe_object *o, struct blob *b, int64_t size)
{
	struct fake_fe *fe = as_fe(o);

	fe->opened++;
	fe->blob = b;
	fe->size = size;
}

static int fe_write(struct fe_object *o, const unsigned char *buf,
		    uint64_t off, uint64_t len)
{
	struct fake_fe *fe = as_fe(o);
	uint64_t bad = bad_bytes(fe, buf, off, len);

	fe->writes++;
	fe->written += len;
	fe->bad += bad;
	if (fe->on_write)
		fe->on_write(fe, off, len, bad);
	return 0;
}

static void fe_read_done(struct fe_object *o, uint64_t tag,
			 const unsigned char *data, int err)
{
	struct fake_fe *fe = as_fe(o);
	unsigned int n = fe->answers++, i = fe->nasked;
	int ok = 0;

	/* the latest read of that tag: tests ask with a tag again once answered */
	while (i && fe->asked[i - 1].tag != tag)
		i--;
	if (data && i)
		ok = !bad_bytes(fe, data, fe->asked[i - 1].off,
				fe->asked[i - 1].len);
	fe->errors += err != 0 || !ok;
	if (n < FAKE_ANSWERS_MAX) {
		fe->tag[n] = tag;
		fe->err[n] = err;
		fe->data_ok[n] = ok;
	}
}

static void fe_release(struct fe_object *o)
{
	as_fe(o)->released++;
}

static const struct frontend_ops fe_ops = {
	.opened = fe_opened, .write = fe_write, .read_done = fe_read_done,
	.release = fe_release,
};

void fake_fe_init(struct fake_fe *fe)
{
	memset(fe, 0, sizeof(*fe));
	fe->o.ops = &fe_ops;
}

void fake_read(struct server *s, struct fake_fe *fe, uint64_t off,
	       uint64_t len, uint64_t tag)
{
	/* full: the oldest goes (the tests have had it answered long since) */
	if (fe->nasked == FAKE_ASKED_MAX)
		memmove(fe->asked, fe->asked + 1,
			--fe->nasked * sizeof(fe->asked[0]));
	fe->asked[fe->nasked].tag = tag;
	fe->asked[fe->nasked].off = off;
	fe->asked[fe->nasked].len = len;
	fe->nasked++;
	serve_read(s, fe->blob, off, len, tag);
}
