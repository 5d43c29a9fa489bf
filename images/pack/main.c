// SPDX-License-Identifier: MIT
/*
 * lazyroot-pack: turns an EROFS image made by mkfs.erofs --blobdev into a
 * verified image (docs/format.md): a manifest, and content-addressed packs
 * of zstd frames that later versions of the image share.
 *
 *   lazyroot-pack [OPTIONS] OUTDIR BOOTSTRAP [BLOB]...
 *   lazyroot-pack --unpack OUTDIR MANIFEST DESTDIR
 *
 * Everything it reads is checked as if hostile: the bootstrap's superblock,
 * the manifests and packs of --previous directories (a chunk is reused only
 * once its old frame decodes to the same bytes), and in --unpack every
 * chunk, blob and pack.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <zstd.h>

#include "chunk.h"
#include "io.h"
#include "le.h"
#include "manifest.h"
#include "sha256.h"

#define PROG "lazyroot-pack"
#define NONE UINT32_MAX

/*
 * The writer's chunking rule (informative in docs/format.md): cut after a
 * page once the chunk has CHUNK_MIN_PAGES and the page's hash ends in four
 * 1 bits, or at CHUNK_MAX_PAGES. Cuts depend on the page itself, not its
 * position, so a page inserted or removed moves only the chunks near it.
 */
#define PAGE MANIFEST_PAGE
#define CHUNK_MIN_PAGES 4
#define CHUNK_MAX_PAGES 64
#define CHUNK_MAX (CHUNK_MAX_PAGES * PAGE)
#define CUT_MASK 15

/* About 8 s for 100 MB of a Debian /usr on one core, within 1% of the
 * size level 19 gives in twice to three times the time (docs/format.md). */
#define DEFAULT_LEVEL 15

/* The EROFS superblock (fs/erofs/erofs_fs.h) and its device table. */
#define EROFS_SB_OFF 1024
#define EROFS_MAGIC 0xE0F5E1E2u
#define EROFS_COMPAT_SB_CHKSUM 0x1
#define EROFS_SLOT_SIZE 128
#define EROFS_TAG_SIZE 64
/* kernel: crc32c over the rest of block 0, the checksum field zeroed */
#define EROFS_CSUM_LEN (PAGE - EROFS_SB_OFF)

static volatile sig_atomic_t interrupted;

/* Temporary files that are removed if the run ends early. */
static char *tmp_files[4];

/* One line on stderr, after the program's name. */
static void vsay(const char *fmt, va_list ap)
{
	fprintf(stderr, "%s: ", PROG);
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
}

static __attribute__((format(printf, 1, 2))) int error(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsay(fmt, ap);
	va_end(ap);
	return -1;
}

static __attribute__((format(printf, 1, 2))) void say(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsay(fmt, ap);
	va_end(ap);
}

static __attribute__((format(printf, 1, 2))) char *xasprintf(const char *fmt, ...)
{
	va_list ap;
	char *s;
	int n;

	va_start(ap, fmt);
	n = vasprintf(&s, fmt, ap);
	va_end(ap);
	if (n < 0) {
		error("out of memory");
		exit(1);
	}
	return s;
}

static void *xrealloc(void *p, size_t n, size_t size)
{
	if (size && n > SIZE_MAX / size) {
		error("out of memory");
		exit(1);
	}
	p = realloc(p, n && size ? n * size : 1);
	if (!p) {
		error("out of memory");
		exit(1);
	}
	return p;
}

/* Grows *@p (of *@cap elements) to hold at least @need. */
static void grow(void **p, size_t *cap, size_t need, size_t size)
{
	size_t n = *cap ? *cap : 64;

	if (need <= *cap)
		return;
	while (n < need)
		n *= 2;
	*p = xrealloc(*p, n, size);
	*cap = n;
}

static void on_signal(int sig)
{
	(void)sig;
	interrupted = 1;
}

static void remove_tmp_files(void)
{
	size_t i;

	for (i = 0; i < sizeof(tmp_files) / sizeof(tmp_files[0]); i++)
		if (tmp_files[i])
			unlink(tmp_files[i]);
}

static void tmp_forget(const char *path)
{
	size_t i;

	for (i = 0; i < sizeof(tmp_files) / sizeof(tmp_files[0]); i++)
		if (tmp_files[i] == path)
			tmp_files[i] = NULL;
}

/* Removes temporary file @path unless it was published, and frees it. */
static void tmp_drop(char *path)
{
	size_t i;

	for (i = 0; path && i < sizeof(tmp_files) / sizeof(tmp_files[0]); i++)
		if (tmp_files[i] == path) {
			unlink(path);
			tmp_files[i] = NULL;
		}
	free(path);
}

/*
 * Creates an empty file in @dir, mode 0644 whatever the umask (it is to be
 * published), removed at exit unless tmp_forget(). Returns the fd or -1.
 */
static int make_tmp(const char *dir, char **path)
{
	static unsigned int seq;
	size_t i;
	int fd;

	for (i = 0; tmp_files[i]; i++)
		if (i + 1 == sizeof(tmp_files) / sizeof(tmp_files[0]))
			return error("too many temporary files");
	*path = xasprintf("%s/.%s.%ld.%u.tmp", dir, PROG, (long)getpid(),
			  seq++);
	fd = open(*path, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
	if (fd < 0)
		return error("cannot create a file in %s: %s", dir,
			     strerror(errno));
	tmp_files[i] = *path;
	if (fchmod(fd, 0644)) {
		close(fd);
		return error("%s: %s", *path, strerror(errno));
	}
	return fd;
}

/* Reads up to @len bytes at @off: the count (short only at EOF) or -errno. */
static ssize_t pread_full(int fd, void *buf, size_t len, uint64_t off)
{
	size_t done = 0;

	while (done < len) {
		ssize_t n = pread(fd, (char *)buf + done, len - done,
				  (off_t)(off + done));

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		if (!n)
			break;
		done += n;
	}
	return done;
}

static int write_full(int fd, const void *buf, size_t len)
{
	while (len) {
		ssize_t n = write(fd, buf, len);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		buf = (const char *)buf + n;
		len -= n;
	}
	return 0;
}

/* The sha256 of the whole file @path into @out. Returns 0 or -errno. */
static int file_sha256(const char *path, unsigned char out[SHA256_SIZE])
{
	static unsigned char buf[1 << 16];
	struct sha256_ctx c;
	uint64_t off = 0;
	ssize_t n;
	int fd = open(path, O_RDONLY | O_CLOEXEC);

	if (fd < 0)
		return -errno;
	sha256_init(&c);
	while ((n = pread_full(fd, buf, sizeof(buf), off)) > 0) {
		sha256_update(&c, buf, n);
		off += n;
	}
	close(fd);
	if (n < 0)
		return n;
	sha256_final(&c, out);
	return 0;
}

/* 1 if files @a and @b hold the same bytes, 0 if not, -errno. */
static int same_content(const char *a, const char *b)
{
	static unsigned char ba[1 << 16], bb[1 << 16];
	struct stat sa, sb;
	uint64_t off = 0;
	int fa, fb, ret = 1;

	fa = open(a, O_RDONLY | O_CLOEXEC);
	if (fa < 0)
		return -errno;
	fb = open(b, O_RDONLY | O_CLOEXEC);
	if (fb < 0) {
		ret = -errno;
		close(fa);
		return ret;
	}
	if (fstat(fa, &sa) || fstat(fb, &sb)) {
		ret = -errno;
		goto out;
	}
	if (!S_ISREG(sb.st_mode) || sa.st_size != sb.st_size) {
		ret = 0;
		goto out;
	}
	for (;;) {
		ssize_t na = pread_full(fa, ba, sizeof(ba), off);
		ssize_t nb = pread_full(fb, bb, sizeof(bb), off);

		if (na < 0 || nb < 0) {
			ret = na < 0 ? na : nb;
			break;
		}
		if (na != nb || memcmp(ba, bb, na)) {
			ret = 0;
			break;
		}
		if (!na)
			break;
		off += na;
	}
out:
	close(fa);
	close(fb);
	return ret;
}

/*
 * Puts the complete file @tmp in place as @final unless it is already
 * there. A hard link makes the name appear complete and never replaces a
 * file another run put there meanwhile; rename() is for filesystems
 * without hard links. Returns 0 (written), 1 (already there with the same
 * bytes) or -1 (said why).
 */
static int publish(char *tmp, const char *final)
{
	struct stat st;
	int ret;

	if (!link(tmp, final)) {
		unlink(tmp);
		tmp_forget(tmp);
		return 0;
	}
	if (errno == EPERM || errno == EOPNOTSUPP || errno == EMLINK) {
		if (lstat(final, &st) && errno == ENOENT) {
			if (rename(tmp, final))
				return error("cannot write %s: %s", final,
					     strerror(errno));
			tmp_forget(tmp);
			return 0;
		}
	} else if (errno != EEXIST) {
		return error("cannot write %s: %s", final, strerror(errno));
	}
	ret = same_content(tmp, final);
	if (ret < 0)
		return error("%s: %s", final, strerror(-ret));
	if (!ret)
		return error("%s already exists with other content; not replacing it",
			     final);
	unlink(tmp);
	tmp_forget(tmp);
	return 1;
}

/* ---- the EROFS superblock and device table ---- */

/* CRC-32C (Castagnoli, reflected), as the kernel's crc32c(): no final ~. */
static uint32_t crc32c(uint32_t crc, const unsigned char *p, size_t len)
{
	int k;

	while (len--) {
		crc ^= *p++;
		for (k = 0; k < 8; k++)
			crc = crc >> 1 ^ (0x82F63B78u & -(crc & 1));
	}
	return crc;
}

/* The checksum the kernel expects for block 0 @blk. */
static uint32_t sb_checksum(const unsigned char *blk)
{
	unsigned char sb[EROFS_CSUM_LEN];

	memcpy(sb, blk + EROFS_SB_OFF, sizeof(sb));
	memset(sb + 4, 0, 4);
	return crc32c(~0u, sb, sizeof(sb));
}

struct erofs_sb {
	uint32_t feature_compat;
	unsigned int extra_devices;
	uint64_t devt_off;		/* byte offset of the device table */
};

/*
 * Reads and checks the superblock of the image @path, open as @fd, into
 * @sb and its first block into @blk. Returns 0 or -1 (said why).
 */
static int sb_read(int fd, const char *path, unsigned char *blk,
		   struct erofs_sb *sb)
{
	unsigned int sbsize;
	struct stat st;
	uint64_t end;
	ssize_t n;

	if (fstat(fd, &st))
		return error("%s: %s", path, strerror(errno));
	n = pread_full(fd, blk, PAGE, 0);
	if (n < 0)
		return error("%s: %s", path, strerror(-n));
	if (n < PAGE)
		return error("%s: %zd bytes, too small for an EROFS image",
			     path, n);
	if (get_le32(blk + EROFS_SB_OFF) != EROFS_MAGIC)
		return error("%s: not an EROFS image (no superblock magic at byte %u)",
			     path, EROFS_SB_OFF);
	if (blk[EROFS_SB_OFF + 12] != 12)
		return error("%s: EROFS blocks of 2^%u bytes; only 4096-byte blocks are supported",
			     path, blk[EROFS_SB_OFF + 12]);
	sbsize = 128 + blk[EROFS_SB_OFF + 13] * 16;
	if (sbsize > EROFS_CSUM_LEN)
		return error("%s: malformed superblock (%u bytes, more than its block)",
			     path, sbsize);
	sb->feature_compat = get_le32(blk + EROFS_SB_OFF + 8);
	if (sb->feature_compat & EROFS_COMPAT_SB_CHKSUM) {
		uint32_t want = get_le32(blk + EROFS_SB_OFF + 4);
		uint32_t got = sb_checksum(blk);

		if (got != want)
			return error("%s: superblock checksum is 0x%08x, the superblock says 0x%08x (damaged?)",
				     path, got, want);
	}
	sb->extra_devices = get_le16(blk + EROFS_SB_OFF + 0x56);
	sb->devt_off = (uint64_t)get_le16(blk + EROFS_SB_OFF + 0x58) *
		       EROFS_SLOT_SIZE;
	if (!sb->extra_devices)
		return 0;
	end = sb->devt_off + (uint64_t)sb->extra_devices * EROFS_SLOT_SIZE;
	if (sb->devt_off < EROFS_SB_OFF + sbsize && end > EROFS_SB_OFF)
		return error("%s: malformed superblock (the device table, bytes %llu-%llu, overlaps it)",
			     path, (unsigned long long)sb->devt_off,
			     (unsigned long long)end - 1);
	if (end > (uint64_t)st.st_size)
		return error("%s: malformed superblock (the device table, bytes %llu-%llu, is past the end of the image, %llu bytes)",
			     path, (unsigned long long)sb->devt_off,
			     (unsigned long long)end - 1,
			     (unsigned long long)st.st_size);
	return 0;
}

/*
 * Writes @n tags (hex sha256 digests, no NUL: the slot holds exactly 64
 * bytes) into the device table of @path, then the superblock checksum,
 * which covers the table when it lies in block 0.
 */
static int sb_write_tags(int fd, const char *path, const struct erofs_sb *sb,
			 char (*tags)[SHA256_HEX_SIZE + 1], unsigned int n)
{
	unsigned char blk[PAGE], sum[4];
	unsigned int i;
	uint32_t crc;
	int ret;

	for (i = 0; i < n; i++) {
		ret = io_pwrite_all(fd, tags[i], EROFS_TAG_SIZE,
				  sb->devt_off + (uint64_t)i * EROFS_SLOT_SIZE);
		if (ret)
			return error("cannot write %s: %s", path,
				     strerror(-ret));
	}
	if (sb->feature_compat & EROFS_COMPAT_SB_CHKSUM) {
		ret = pread_full(fd, blk, PAGE, 0);
		if (ret != PAGE)
			return error("cannot read %s back: %s", path,
				     ret < 0 ? strerror(-ret) : "truncated");
		crc = sb_checksum(blk);
		put_le32(sum, crc);
		ret = io_pwrite_all(fd, sum, 4, EROFS_SB_OFF + 4);
		if (ret)
			return error("cannot write %s: %s", path,
				     strerror(-ret));
	}
	if (fsync(fd))
		return error("cannot write %s: %s", path, strerror(errno));
	return 0;
}

/* ---- chunks ---- */

/* The page hash of the chunking rule: FNV-1a over little-endian 64-bit
 * words, then MurmurHash3's fmix64, since the low bits of FNV's products
 * depend only on the low bits of the words. */
static uint64_t page_hash(const unsigned char *p)
{
	uint64_t h = 0xcbf29ce484222325ull;
	size_t i;

	for (i = 0; i < PAGE; i += 8)
		h = (h ^ get_le64(p + i)) * 0x100000001b3ull;
	h ^= h >> 33;
	h *= 0xff51afd7ed558ccdull;
	h ^= h >> 33;
	h *= 0xc4ceb9fe1a85ec53ull;
	h ^= h >> 33;
	return h;
}

static ZSTD_DCtx *dctx_new(void)
{
	ZSTD_DCtx *d = chunk_dctx_new();

	if (!d) {
		error("out of memory");
		exit(1);
	}
	return d;
}

/* Digest -> index of an element that starts with its digest. */
struct dmap {
	uint32_t *slot;
	size_t mask, count;
};

static size_t dmap_home(const struct dmap *m, const unsigned char *d)
{
	return (size_t)get_le64(d) & m->mask;
}

static uint32_t dmap_find(const struct dmap *m, const unsigned char *d,
			  const void *base, size_t stride)
{
	size_t i;

	if (!m->slot)
		return NONE;
	for (i = dmap_home(m, d); m->slot[i] != NONE; i = (i + 1) & m->mask)
		if (!memcmp((const char *)base + m->slot[i] * stride, d,
			    SHA256_SIZE))
			return m->slot[i];
	return NONE;
}

static void dmap_put(struct dmap *m, uint32_t idx, const void *base,
		     size_t stride)
{
	const unsigned char *d = (const unsigned char *)base + idx * stride;
	size_t i;

	for (i = dmap_home(m, d); m->slot[i] != NONE; i = (i + 1) & m->mask)
		;
	m->slot[i] = idx;
}

/* Adds element @idx of @base, which must not be in @m yet. */
static void dmap_add(struct dmap *m, uint32_t idx, const void *base,
		     size_t stride)
{
	if (2 * (m->count + 1) > m->mask + 1 || !m->slot) {
		uint32_t *old = m->slot;
		size_t i, n = m->slot ? m->mask + 1 : 0;

		m->mask = n ? 2 * n - 1 : 1023;
		m->slot = xrealloc(NULL, m->mask + 1, sizeof(*m->slot));
		memset(m->slot, 0xff, (m->mask + 1) * sizeof(*m->slot));
		for (i = 0; i < n; i++)
			if (old[i] != NONE)
				dmap_put(m, old[i], base, stride);
		free(old);
	}
	dmap_put(m, idx, base, stride);
	m->count++;
}

struct pack {
	unsigned char digest[SHA256_SIZE];
	uint64_t size;
	const char *dir;		/* its --previous DIR; NULL: the new pack */
	uint32_t index;			/* in the new manifest */
};

/* A manifest chunk first (so the element starts with its digest, as dmap wants). */
struct chunk {
	struct manifest_chunk m;	/* m.pack: in packer.packs */
	uint32_t index;			/* in the new manifest */
};

struct blob {
	const char *path;
	char tag[SHA256_HEX_SIZE + 1];
	unsigned char digest[SHA256_SIZE];
	uint64_t size;
	uint32_t *refs;			/* in packer.chunks */
	size_t nrefs, cap;
};

struct packer {
	const char *outdir;
	char *packdir;
	int level;
	struct pack *packs;		/* reused and new */
	size_t npacks, packs_cap;
	struct dmap pack_map;
	struct chunk *old;		/* every chunk of the --previous manifests */
	size_t nold, old_cap;
	struct dmap old_map;
	struct chunk *chunks;		/* this image's distinct chunks */
	size_t nchunks, chunks_cap;
	struct dmap chunk_map;
	struct blob blobs[MANIFEST_BLOBS_MAX];
	unsigned int nblobs;
	size_t nrefs, reused;
	uint32_t new_pack;		/* in packs, NONE until a new chunk */
	int pack_fd;
	char *pack_tmp;
	uint64_t pack_size;
	struct sha256_ctx pack_sha;
	ZSTD_CCtx *cctx;
	ZSTD_DCtx *dctx;
	unsigned char *buf, *zbuf, *vbuf;
	size_t zcap;
	int old_fd;			/* the old pack last read */
	uint32_t old_fd_pack;
};

static char *pack_path(const char *dir, const unsigned char *digest)
{
	char hex[SHA256_HEX_SIZE + 1];

	sha256_to_hex(digest, hex);
	return xasprintf("%s/packs/%s.pack", dir, hex);
}

/* Reads the manifest file @path: 0 and *@out, or -1 (said why). */
static int read_manifest(const char *path, struct manifest **out,
			 unsigned char digest[SHA256_SIZE])
{
	unsigned char *buf;
	char why[256];
	struct stat st;
	ssize_t n;
	int fd, ret;

	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return error("%s: %s", path, strerror(errno));
	if (fstat(fd, &st)) {
		ret = errno;
		close(fd);
		return error("%s: %s", path, strerror(ret));
	}
	if (!S_ISREG(st.st_mode) || st.st_size > MANIFEST_MAX_SIZE) {
		close(fd);
		return error("%s: not a manifest (%s)", path,
			     S_ISREG(st.st_mode) ? "larger than 64 MiB" :
						   "not a regular file");
	}
	buf = xrealloc(NULL, st.st_size, 1);
	n = pread_full(fd, buf, st.st_size, 0);
	close(fd);
	if (n != st.st_size) {
		free(buf);
		return error("%s: %s", path, n < 0 ? strerror(-n) :
			     "changed while being read");
	}
	if (digest)
		sha256(buf, n, digest);
	ret = manifest_parse(buf, n, out, why, sizeof(why));
	free(buf);
	if (ret)
		return error("%s: not a valid manifest: %s", path, why);
	return 0;
}

static int cmp_names(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Adds the packs and chunks of the manifest @name in @dir. */
static int load_manifest(struct packer *p, const char *dir, const char *name)
{
	char *path = xasprintf("%s/%s", dir, name);
	struct manifest *m = NULL;
	uint32_t *pidx = NULL;
	uint32_t i;
	int ret = -1;

	if (read_manifest(path, &m, NULL))
		goto out;
	pidx = xrealloc(NULL, m->npacks, sizeof(*pidx));
	for (i = 0; i < m->npacks; i++) {
		const struct manifest_pack *mp = &m->packs[i];
		char *pp = pack_path(dir, mp->digest);
		struct stat st;
		uint32_t k;

		if (stat(pp, &st)) {
			error("--previous %s: %s, pack %u of %s: %s", dir, pp, i,
			      name, strerror(errno));
			free(pp);
			goto out;
		}
		if (!S_ISREG(st.st_mode) || (uint64_t)st.st_size != mp->size) {
			error("--previous %s: %s, pack %u of %s: %llu bytes, the manifest says %llu",
			      dir, pp, i, name,
			      (unsigned long long)st.st_size,
			      (unsigned long long)mp->size);
			free(pp);
			goto out;
		}
		free(pp);
		k = dmap_find(&p->pack_map, mp->digest, p->packs,
			      sizeof(*p->packs));
		if (k == NONE) {
			grow((void **)&p->packs, &p->packs_cap, p->npacks + 1,
			     sizeof(*p->packs));
			k = p->npacks++;
			memcpy(p->packs[k].digest, mp->digest, SHA256_SIZE);
			p->packs[k].size = mp->size;
			p->packs[k].dir = dir;
			p->packs[k].index = NONE;
			dmap_add(&p->pack_map, k, p->packs, sizeof(*p->packs));
		} else if (p->packs[k].size != mp->size) {
			char hex[SHA256_HEX_SIZE + 1];

			sha256_to_hex(mp->digest, hex);
			error("--previous %s: pack %s is %llu bytes in %s, %llu in %s/packs",
			      dir, hex, (unsigned long long)mp->size, name,
			      (unsigned long long)p->packs[k].size,
			      p->packs[k].dir);
			goto out;
		}
		pidx[i] = k;
	}
	for (i = 0; i < m->nchunks; i++) {
		const struct manifest_chunk *mc = &m->chunks[i];
		struct chunk *c;

		if (dmap_find(&p->old_map, mc->digest, p->old,
			      sizeof(*p->old)) != NONE)
			continue;
		if (p->nold >= UINT32_MAX - 1) {
			error("--previous: too many chunks");
			goto out;
		}
		grow((void **)&p->old, &p->old_cap, p->nold + 1,
		     sizeof(*p->old));
		c = &p->old[p->nold];
		c->m = *mc;
		c->m.pack = pidx[mc->pack];
		c->index = NONE;
		dmap_add(&p->old_map, p->nold++, p->old, sizeof(*p->old));
	}
	ret = 0;
out:
	free(pidx);
	manifest_free(m);
	free(path);
	return ret;
}

/* Every *.manifest in @dir, in name order so the result is reproducible. */
static int load_previous(struct packer *p, const char *dir)
{
	char **names = NULL;
	size_t n = 0, cap = 0, i;
	struct dirent *de;
	int ret = 0;
	DIR *d;

	d = opendir(dir);
	if (!d)
		return error("--previous %s: %s", dir, strerror(errno));
	while ((errno = 0, de = readdir(d))) {
		size_t len = strlen(de->d_name);

		if (de->d_name[0] == '.' || len <= 9 ||
		    strcmp(de->d_name + len - 9, ".manifest"))
			continue;
		grow((void **)&names, &cap, n + 1, sizeof(*names));
		names[n++] = xasprintf("%s", de->d_name);
	}
	if (errno)
		ret = error("--previous %s: %s", dir, strerror(errno));
	closedir(d);
	if (!ret && !n)
		say("--previous %s: no *.manifest there, nothing to reuse", dir);
	qsort(names, n, sizeof(*names), cmp_names);
	for (i = 0; i < n && !ret; i++)
		ret = load_manifest(p, dir, names[i]);
	for (i = 0; i < n; i++)
		free(names[i]);
	free(names);
	return ret;
}

/*
 * Checks that old chunk @c, which has the digest of the new @data, really
 * decodes to @data: a damaged --previous pack must not enter a new image.
 */
static int check_old(struct packer *p, const struct manifest_chunk *c,
		     const unsigned char *data)
{
	const struct pack *k = &p->packs[c->pack];
	char why[128], *path = pack_path(k->dir, k->digest);
	ssize_t n;
	int ret = -1;

	if (p->old_fd < 0 || p->old_fd_pack != c->pack) {
		if (p->old_fd >= 0)
			close(p->old_fd);
		p->old_fd = open(path, O_RDONLY | O_CLOEXEC);
		p->old_fd_pack = c->pack;
		if (p->old_fd < 0) {
			error("--previous %s: %s", path, strerror(errno));
			goto out;
		}
	}
	if (c->stored_size > p->zcap) {
		error("--previous %s: the chunk at offset %llu claims %u stored bytes for %u",
		      path, (unsigned long long)c->offset, c->stored_size,
		      c->size);
		goto out;
	}
	n = pread_full(p->old_fd, p->zbuf, c->stored_size, c->offset);
	if (n != c->stored_size) {
		error("--previous %s: %s", path,
		      n < 0 ? strerror(-n) : "shorter than its manifest says");
		goto out;
	}
	if (chunk_decode(p->dctx, c, p->zbuf, p->vbuf, why, sizeof(why))) {
		error("--previous %s: the chunk at offset %llu (%u bytes): %s",
		      path, (unsigned long long)c->offset, c->stored_size, why);
		goto out;
	}
	if (memcmp(p->vbuf, data, c->size)) {
		error("--previous %s: the chunk at offset %llu (%u bytes) is not the one its manifest names",
		      path, (unsigned long long)c->offset, c->stored_size);
		goto out;
	}
	ret = 0;
out:
	free(path);
	return ret;
}

/* Appends @data to the new pack as chunk @c, compressed if that helps. */
static int pack_append(struct packer *p, struct manifest_chunk *c,
		       const unsigned char *data, size_t len)
{
	const unsigned char *out = data;
	size_t n;
	int ret;

	if (p->new_pack == NONE) {
		p->pack_fd = make_tmp(p->packdir, &p->pack_tmp);
		if (p->pack_fd < 0)
			return -1;
		sha256_init(&p->pack_sha);
		grow((void **)&p->packs, &p->packs_cap, p->npacks + 1,
		     sizeof(*p->packs));
		p->new_pack = p->npacks++;
		memset(&p->packs[p->new_pack], 0, sizeof(*p->packs));
		p->packs[p->new_pack].index = NONE;
	}
	n = ZSTD_compressCCtx(p->cctx, p->zbuf, p->zcap, data, len, p->level);
	if (ZSTD_isError(n))
		return error("zstd: %s", ZSTD_getErrorName(n));
	c->encoding = MANIFEST_STORED;
	c->stored_size = len;
	if (n < len) {
		out = p->zbuf;
		c->encoding = MANIFEST_ZSTD;
		c->stored_size = n;
	}
	ret = write_full(p->pack_fd, out, c->stored_size);
	if (ret)
		return error("cannot write %s: %s", p->pack_tmp, strerror(-ret));
	sha256_update(&p->pack_sha, out, c->stored_size);
	c->pack = p->new_pack;
	c->offset = p->pack_size;
	p->pack_size += c->stored_size;
	return 0;
}

static int add_chunk(struct packer *p, struct blob *b,
		     const unsigned char *data, size_t len)
{
	unsigned char d[SHA256_SIZE];
	uint32_t i, o;

	if (p->nrefs >= MANIFEST_CHUNKS_MAX)
		return error("more than %u chunks: too large for one manifest",
			     MANIFEST_CHUNKS_MAX);
	sha256(data, len, d);
	i = dmap_find(&p->chunk_map, d, p->chunks, sizeof(*p->chunks));
	if (i == NONE) {
		struct chunk c;

		o = dmap_find(&p->old_map, d, p->old, sizeof(*p->old));
		if (o != NONE && p->old[o].m.size == len) {
			if (check_old(p, &p->old[o].m, data))
				return -1;
			c = p->old[o];
			p->reused++;
		} else {
			memcpy(c.m.digest, d, SHA256_SIZE);
			c.m.size = len;
			if (pack_append(p, &c.m, data, len))
				return -1;
		}
		c.index = NONE;
		grow((void **)&p->chunks, &p->chunks_cap, p->nchunks + 1,
		     sizeof(*p->chunks));
		i = p->nchunks++;
		p->chunks[i] = c;
		dmap_add(&p->chunk_map, i, p->chunks, sizeof(*p->chunks));
	}
	grow((void **)&b->refs, &b->cap, b->nrefs + 1, sizeof(*b->refs));
	b->refs[b->nrefs++] = i;
	p->nrefs++;
	return 0;
}

/* Cuts blob @b into chunks (the rule above) and hashes it whole. */
static int chunk_blob(struct packer *p, struct blob *b)
{
	struct sha256_ctx whole;
	size_t have = 0;
	struct stat st;
	int fd, eof = 0, ret = -1;

	fd = open(b->path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return error("%s: %s", b->path, strerror(errno));
	if (fstat(fd, &st)) {
		error("%s: %s", b->path, strerror(errno));
		goto out;
	}
	if (!S_ISREG(st.st_mode) || !st.st_size ||
	    (uint64_t)st.st_size > MANIFEST_BLOB_SIZE_MAX) {
		error("%s: %s", b->path, !S_ISREG(st.st_mode) ?
		      "not a regular file" : !st.st_size ? "empty" :
		      "larger than 2^47 bytes");
		goto out;
	}
	sha256_init(&whole);
	b->size = 0;
	for (;;) {
		size_t len, pg;

		while (!eof && have < CHUNK_MAX) {
			ssize_t n = read(fd, p->buf + have, CHUNK_MAX - have);

			if (n < 0 && errno == EINTR)
				continue;
			if (n < 0) {
				error("%s: %s", b->path, strerror(errno));
				goto out;
			}
			if (!n)
				eof = 1;
			have += n;
		}
		if (!have)
			break;
		/* The buffer is short only at the end: the last page cuts. */
		for (pg = 0;; pg++) {
			len = (pg + 1) * PAGE;
			if (len >= have) {
				len = have;
				break;
			}
			if (pg + 1 >= CHUNK_MIN_PAGES &&
			    (page_hash(p->buf + pg * PAGE) & CUT_MASK) ==
			    CUT_MASK)
				break;
		}
		sha256_update(&whole, p->buf, len);
		if (add_chunk(p, b, p->buf, len))
			goto out;
		b->size += len;
		have -= len;
		memmove(p->buf, p->buf + len, have);
		if (interrupted) {
			error("interrupted");
			goto out;
		}
	}
	if (b->size != (uint64_t)st.st_size) {
		error("%s: changed while being read", b->path);
		goto out;
	}
	sha256_final(&whole, b->digest);
	sha256_to_hex(b->digest, b->tag);
	ret = 0;
out:
	close(fd);
	return ret;
}

/*
 * Makes OUTDIR/packs/<hex>.pack of reused pack @k: a hard link to the
 * --previous copy (a copy where links cannot be made), unless it is there.
 */
static int link_pack(struct packer *p, const struct pack *k)
{
	char *src = pack_path(k->dir, k->digest);
	char *dst = pack_path(p->outdir, k->digest);
	unsigned char got[SHA256_SIZE], buf[1 << 16];
	struct sha256_ctx c;
	struct stat ss, ds;
	char *tmp = NULL;
	int fd = -1, in = -1, ret = -1;
	uint64_t off = 0;
	ssize_t n;

	if (stat(src, &ss)) {
		error("%s: %s", src, strerror(errno));
		goto out;
	}
	if (!stat(dst, &ds)) {
		if (ds.st_dev == ss.st_dev && ds.st_ino == ss.st_ino) {
			ret = 0;
			goto out;
		}
		/* A pack's name is its sha256: the same name, the same bytes. */
		n = file_sha256(dst, got);
		if (n) {
			error("%s: %s", dst, strerror(-n));
			goto out;
		}
		if (memcmp(got, k->digest, SHA256_SIZE)) {
			error("%s already exists with other content (its sha256 is not its name); not replacing it",
			      dst);
			goto out;
		}
		ret = 0;
		goto out;
	}
	if (errno != ENOENT) {
		error("%s: %s", dst, strerror(errno));
		goto out;
	}
	if (!link(src, dst)) {
		ret = 0;
		goto out;
	}
	if (errno != EXDEV && errno != EPERM && errno != EOPNOTSUPP &&
	    errno != EMLINK) {
		error("cannot link %s to %s: %s", src, dst, strerror(errno));
		goto out;
	}
	in = open(src, O_RDONLY | O_CLOEXEC);
	if (in < 0) {
		error("%s: %s", src, strerror(errno));
		goto out;
	}
	fd = make_tmp(p->packdir, &tmp);
	if (fd < 0)
		goto out;
	sha256_init(&c);
	while ((n = pread_full(in, buf, sizeof(buf), off)) > 0) {
		int w = write_full(fd, buf, n);

		if (w) {
			n = w;
			break;
		}
		sha256_update(&c, buf, n);
		off += n;
	}
	if (!n && fsync(fd))
		n = -errno;
	if (n < 0) {
		error("cannot copy %s to %s: %s", src, tmp, strerror((int)-n));
		goto out;
	}
	sha256_final(&c, got);
	if (off != k->size || memcmp(got, k->digest, SHA256_SIZE)) {
		error("%s: its sha256 is not its name (damaged?)", src);
		goto out;
	}
	ret = publish(tmp, dst) < 0 ? -1 : 0;
out:
	if (fd >= 0)
		close(fd);
	if (in >= 0)
		close(in);
	tmp_drop(tmp);
	free(src);
	free(dst);
	return ret;
}

/* Numbers chunks and packs by first use and encodes the manifest. */
static int build_manifest(struct packer *p, unsigned char **out, size_t *len)
{
	struct manifest m = { 0 };
	uint32_t next_chunk = 0, next_pack = 0, r = 0;
	char why[256];
	unsigned int i;
	size_t j;
	int ret;

	m.nblobs = p->nblobs;
	m.nrefs = p->nrefs;
	m.nchunks = p->nchunks;
	m.blobs = xrealloc(NULL, p->nblobs, sizeof(*m.blobs));
	m.refs = xrealloc(NULL, p->nrefs, sizeof(*m.refs));
	m.chunks = xrealloc(NULL, p->nchunks, sizeof(*m.chunks));
	m.packs = xrealloc(NULL, p->npacks, sizeof(*m.packs));
	m.chunk_max = PAGE;
	for (i = 0; i < p->nblobs; i++) {
		struct blob *b = &p->blobs[i];

		memcpy(m.blobs[i].tag, b->tag, sizeof(b->tag));
		memcpy(m.blobs[i].digest, b->digest, SHA256_SIZE);
		m.blobs[i].size = b->size;
		m.blobs[i].first_ref = r;
		m.blobs[i].nrefs = b->nrefs;
		for (j = 0; j < b->nrefs; j++) {
			struct chunk *c = &p->chunks[b->refs[j]];
			struct manifest_chunk *mc;
			struct pack *k = &p->packs[c->m.pack];

			if (c->index == NONE) {
				c->index = next_chunk++;
				if (k->index == NONE) {
					k->index = next_pack++;
					memcpy(m.packs[k->index].digest,
					       k->digest, SHA256_SIZE);
					m.packs[k->index].size = k->size;
				}
				mc = &m.chunks[c->index];
				*mc = c->m;
				mc->pack = k->index;
				if (mc->size > m.chunk_max)
					m.chunk_max = (mc->size + PAGE - 1) /
						      PAGE * PAGE;
			}
			m.refs[r++] = c->index;
		}
	}
	m.npacks = next_pack;
	ret = manifest_encode(&m, out, len, why, sizeof(why));
	free(m.blobs);
	free(m.refs);
	free(m.chunks);
	free(m.packs);
	if (ret)
		return error("cannot encode the manifest: %s", why);
	return 0;
}

/* "a/b" -> "a", "b" -> "." */
static char *dir_of(const char *path)
{
	const char *s = strrchr(path, '/');

	if (!s)
		return xasprintf(".");
	if (s == path)
		return xasprintf("/");
	return xasprintf("%.*s", (int)(s - path), path);
}

/* Makes OUTDIR/packs unless it is there. */
static int make_packdir(const char *dir)
{
	struct stat st;

	if (!mkdir(dir, 0755)) {
		/* readable by the web server, whatever the umask */
		if (chmod(dir, 0755))
			return error("%s: %s", dir, strerror(errno));
		return 0;
	}
	if (errno != EEXIST)
		return error("cannot make %s: %s", dir, strerror(errno));
	if (stat(dir, &st))
		return error("%s: %s", dir, strerror(errno));
	if (!S_ISDIR(st.st_mode))
		return error("%s is not a directory", dir);
	return 0;
}

/* Writes @len bytes of @buf as @path, complete or not at all. */
static int write_manifest(const unsigned char *buf, size_t len,
			  const char *path)
{
	char *dir = dir_of(path), *tmp = NULL;
	int fd, ret = -1;

	fd = make_tmp(dir, &tmp);
	if (fd < 0)
		goto out;
	ret = write_full(fd, buf, len);
	if (!ret && fsync(fd))
		ret = -errno;
	close(fd);
	if (ret) {
		ret = error("cannot write %s: %s", tmp, strerror(-ret));
		goto out;
	}
	ret = publish(tmp, path) < 0 ? -1 : 0;
out:
	tmp_drop(tmp);
	free(dir);
	return ret;
}

static int pack_image(struct packer *p, const char *manifest_path)
{
	char tags[MANIFEST_BLOBS_MAX][SHA256_HEX_SIZE + 1];
	uint64_t plain = 0, stored = 0, total = 0, fresh = 0;
	unsigned char digest[SHA256_SIZE], *mbuf = NULL;
	char hex[SHA256_HEX_SIZE + 1], *path = NULL;
	unsigned char blk[PAGE];
	unsigned int i, npacks = 0;
	struct erofs_sb sb;
	size_t mlen, j;
	int fd, ret = -1;

	/* The bootstrap is checked before any blob is read. */
	fd = open(p->blobs[0].path, (p->nblobs > 1 ? O_RDWR : O_RDONLY) |
		  O_CLOEXEC);
	if (fd < 0)
		return error("%s: %s", p->blobs[0].path, strerror(errno));
	if (sb_read(fd, p->blobs[0].path, blk, &sb))
		goto out;
	if (sb.extra_devices != p->nblobs - 1) {
		error("%s: the image has %u extra device%s, but %u blob file%s given",
		      p->blobs[0].path, sb.extra_devices,
		      sb.extra_devices == 1 ? "" : "s", p->nblobs - 1,
		      p->nblobs == 2 ? " was" : "s were");
		goto out;
	}
	if (make_packdir(p->packdir))
		goto out;

	/* The extra devices first: the bootstrap names them by sha256. */
	for (i = 1; i < p->nblobs; i++) {
		if (chunk_blob(p, &p->blobs[i]))
			goto out;
		memcpy(tags[i - 1], p->blobs[i].tag, sizeof(tags[0]));
	}
	if (p->nblobs > 1 && sb_write_tags(fd, p->blobs[0].path, &sb, tags,
					   p->nblobs - 1))
		goto out;
	close(fd);
	fd = -1;
	if (chunk_blob(p, &p->blobs[0]))
		goto out;

	if (p->new_pack != NONE) {
		struct pack *k = &p->packs[p->new_pack];

		if (fsync(p->pack_fd)) {
			error("cannot write %s: %s", p->pack_tmp,
			      strerror(errno));
			goto out;
		}
		close(p->pack_fd);
		p->pack_fd = -1;
		sha256_final(&p->pack_sha, k->digest);
		k->size = p->pack_size;
		fresh = k->size;
		path = pack_path(p->outdir, k->digest);
		if (publish(p->pack_tmp, path) < 0)
			goto out;
		free(path);
		path = NULL;
	}
	if (build_manifest(p, &mbuf, &mlen))
		goto out;
	/* Only the old packs the new manifest uses come along. */
	for (j = 0; j < p->npacks; j++) {
		const struct pack *k = &p->packs[j];

		if (k->index == NONE)
			continue;
		npacks++;
		total += k->size;
		if (k->dir && link_pack(p, k))
			goto out;
	}

	sha256(mbuf, mlen, digest);
	sha256_to_hex(digest, hex);
	if (!manifest_path)
		manifest_path = path = xasprintf("%s/%s.manifest", p->outdir,
						 hex);
	if (write_manifest(mbuf, mlen, manifest_path))
		goto out;

	for (j = 0; j < p->nchunks; j++)
		stored += p->chunks[j].m.stored_size;
	for (i = 0; i < p->nblobs; i++)
		plain += p->blobs[i].size;
	say("%zu chunks (%zu distinct, %zu of them reused), %llu bytes plain, %llu stored, ratio %.2f",
	    p->nrefs, p->nchunks, p->reused, (unsigned long long)plain,
	    (unsigned long long)stored, (double)plain / (double)stored);
	say("new bytes %llu of %llu (%.1f%%) in %u pack%s",
	    (unsigned long long)fresh, (unsigned long long)total,
	    100.0 * (double)fresh / (double)total, npacks,
	    npacks == 1 ? "" : "s");
	printf("%s\n", hex);
	if (fflush(stdout) || ferror(stdout)) {
		error("cannot write to stdout");
		goto out;
	}
	ret = 0;
out:
	if (fd >= 0)
		close(fd);
	free(mbuf);
	free(path);
	return ret;
}

/* ---- --unpack ---- */

/* Tag @t (64 bytes, untrusted) for a message. */
static const char *printable_tag(const unsigned char *t, char *out)
{
	int i;

	for (i = 0; i < EROFS_TAG_SIZE && t[i]; i++)
		out[i] = t[i] >= 0x20 && t[i] < 0x7f ? t[i] : '?';
	out[i] = '\0';
	return out;
}

/* The bootstrap names the other blobs, in order, by their tags. */
static int check_device_tags(const struct manifest *m, const char *path)
{
	unsigned char blk[PAGE], tag[EROFS_TAG_SIZE];
	char shown[EROFS_TAG_SIZE + 1];
	struct erofs_sb sb;
	unsigned int i;
	int fd, ret = -1;

	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return error("%s: %s", path, strerror(errno));
	if (sb_read(fd, path, blk, &sb))
		goto out;
	if (sb.extra_devices != m->nblobs - 1) {
		error("blob 0 (the bootstrap, %s) has %u extra devices, the manifest %u blobs",
		      path, sb.extra_devices, m->nblobs);
		goto out;
	}
	for (i = 1; i < m->nblobs; i++) {
		if (pread_full(fd, tag, sizeof(tag), sb.devt_off +
			       (uint64_t)(i - 1) * EROFS_SLOT_SIZE) !=
		    sizeof(tag)) {
			error("%s: cannot read the device table", path);
			goto out;
		}
		if (memcmp(tag, m->blobs[i].tag, EROFS_TAG_SIZE)) {
			error("blob 0 (the bootstrap, %s): device %u's tag is '%s', not blob %u's sha256",
			      path, i, printable_tag(tag, shown), i);
			goto out;
		}
	}
	ret = 0;
out:
	close(fd);
	return ret;
}

struct unpacker {
	const struct manifest *m;
	const char *destdir;
	char **paths;			/* of each pack */
	ZSTD_DCtx *dctx;
	unsigned char *stored, *plain;
	int pfd;			/* the pack last read */
	uint32_t pfd_pack;
};

/* Reads chunk @r of the refs into u->plain, checked. */
static int unpack_chunk(struct unpacker *u, uint32_t b, uint32_t r)
{
	const struct manifest *m = u->m;
	uint32_t ci = m->refs[r];
	const struct manifest_chunk *c = &m->chunks[ci];
	char why[160];
	ssize_t n;

	if (u->pfd < 0 || u->pfd_pack != c->pack) {
		if (u->pfd >= 0)
			close(u->pfd);
		u->pfd = open(u->paths[c->pack], O_RDONLY | O_CLOEXEC);
		u->pfd_pack = c->pack;
		if (u->pfd < 0)
			return error("pack %u, %s: %s", c->pack,
				     u->paths[c->pack], strerror(errno));
	}
	n = pread_full(u->pfd, u->stored, c->stored_size, c->offset);
	if (n != c->stored_size)
		return error("chunk %u in pack %u, %s, offset %llu: %s", ci,
			     c->pack, u->paths[c->pack],
			     (unsigned long long)c->offset,
			     n < 0 ? strerror(-n) : "the pack ends before it");
	if (!chunk_decode_checked(u->dctx, c, u->stored, u->plain, why,
				  sizeof(why)))
		return 0;
	return error("chunk %u (blob %u, bytes %llu-%llu) in pack %u, %s, offset %llu, %u bytes: %s",
		     ci, b, (unsigned long long)m->ref_off[r],
		     (unsigned long long)m->ref_off[r] + c->size - 1, c->pack,
		     u->paths[c->pack], (unsigned long long)c->offset,
		     c->stored_size, why);
}

/* Writes blob @b as DESTDIR/<tag>, every chunk checked, or nothing. */
static int unpack_blob(struct unpacker *u, uint32_t b)
{
	const struct manifest_blob *blob = &u->m->blobs[b];
	char hex[SHA256_HEX_SIZE + 1], *tmp = NULL, *final = NULL;
	unsigned char got[SHA256_SIZE];
	struct sha256_ctx whole;
	int fd, n, ret = -1;
	uint32_t r;

	fd = make_tmp(u->destdir, &tmp);
	if (fd < 0)
		goto out;
	sha256_init(&whole);
	for (r = blob->first_ref; r < blob->first_ref + blob->nrefs; r++) {
		uint32_t size = u->m->chunks[u->m->refs[r]].size;

		if (unpack_chunk(u, b, r))
			goto out;
		n = write_full(fd, u->plain, size);
		if (n) {
			error("cannot write %s: %s", tmp, strerror(-n));
			goto out;
		}
		sha256_update(&whole, u->plain, size);
		if (interrupted) {
			error("interrupted");
			goto out;
		}
	}
	sha256_final(&whole, got);
	/* Cannot differ when every chunk matched, but the tag is what the
	 * kernel asks for, so check what it names. */
	if (memcmp(got, blob->digest, SHA256_SIZE)) {
		sha256_to_hex(got, hex);
		error("blob %u: its chunks make sha256 %s, not its tag %s", b,
		      hex, blob->tag);
		goto out;
	}
	final = xasprintf("%s/%s", u->destdir, blob->tag);
	if (rename(tmp, final)) {
		error("cannot write %s: %s", final, strerror(errno));
		goto out;
	}
	tmp_forget(tmp);
	ret = b ? 0 : check_device_tags(u->m, final);
out:
	if (fd >= 0)
		close(fd);
	tmp_drop(tmp);
	free(final);
	return ret;
}

static int unpack(const char *outdir, const char *mpath, const char *destdir)
{
	struct unpacker u = { .destdir = destdir, .pfd = -1,
			      .pfd_pack = NONE };
	unsigned char mdigest[SHA256_SIZE], got[SHA256_SIZE];
	char hex[SHA256_HEX_SIZE + 1];
	struct manifest *m;
	struct stat st;
	size_t zmax;
	uint32_t i;
	int ret = -1;

	if (read_manifest(mpath, &m, mdigest))
		return -1;
	u.m = m;
	/* Frames are never much larger than their plain bytes. */
	zmax = ZSTD_compressBound(m->chunk_max);
	for (i = 0; i < m->nchunks; i++)
		if (m->chunks[i].stored_size > zmax) {
			error("%s: chunk %u: %u stored bytes for %u plain",
			      mpath, i, m->chunks[i].stored_size,
			      m->chunks[i].size);
			goto out;
		}
	u.paths = xrealloc(NULL, m->npacks, sizeof(*u.paths));
	memset(u.paths, 0, m->npacks * sizeof(*u.paths));
	for (i = 0; i < m->npacks; i++) {
		u.paths[i] = pack_path(outdir, m->packs[i].digest);
		if (stat(u.paths[i], &st)) {
			error("pack %u, %s: %s", i, u.paths[i], strerror(errno));
			goto out;
		}
		if (!S_ISREG(st.st_mode) || (uint64_t)st.st_size !=
		    m->packs[i].size) {
			error("pack %u, %s: %llu bytes, the manifest says %llu%s",
			      i, u.paths[i], (unsigned long long)st.st_size,
			      (unsigned long long)m->packs[i].size,
			      (uint64_t)st.st_size < m->packs[i].size ?
			      " (truncated?)" : "");
			goto out;
		}
	}
	if (mkdir(destdir, 0755) && errno != EEXIST) {
		error("cannot make %s: %s", destdir, strerror(errno));
		goto out;
	}
	u.dctx = dctx_new();
	u.stored = xrealloc(NULL, zmax, 1);
	u.plain = xrealloc(NULL, m->chunk_max, 1);
	for (i = 0; i < m->nblobs; i++)
		if (unpack_blob(&u, i))
			goto out;
	/* Last: bytes of a pack that no chunk here uses. */
	for (i = 0; i < m->npacks; i++) {
		int n = file_sha256(u.paths[i], got);

		if (n) {
			error("pack %u, %s: %s", i, u.paths[i], strerror(-n));
			goto out;
		}
		if (memcmp(got, m->packs[i].digest, SHA256_SIZE)) {
			error("pack %u, %s: its sha256 is not its name (damaged outside the chunks of this manifest)",
			      i, u.paths[i]);
			goto out;
		}
	}
	sha256_to_hex(mdigest, hex);
	say("%s (sha256 %s): %u blob%s, %u chunks in %u pack%s, all as the manifest says; written to %s",
	    mpath, hex, m->nblobs, m->nblobs == 1 ? "" : "s", m->nchunks,
	    m->npacks, m->npacks == 1 ? "" : "s", destdir);
	ret = 0;
out:
	if (u.pfd >= 0)
		close(u.pfd);
	if (u.paths)
		for (i = 0; i < m->npacks; i++)
			free(u.paths[i]);
	free(u.paths);
	free(u.stored);
	free(u.plain);
	ZSTD_freeDCtx(u.dctx);
	manifest_free(m);
	return ret;
}

/* ---- command line ---- */

static void usage(FILE *f)
{
	fprintf(f,
"usage: %s [--previous DIR]... [--level N] [--manifest FILE] OUTDIR BOOTSTRAP [BLOB]...\n"
"       %s --unpack OUTDIR MANIFEST DESTDIR\n"
"\n"
"Publishes an EROFS image made by mkfs.erofs --chunksize=65536 --blobdev=BLOB\n"
"as a verified image in OUTDIR (docs/format.md): packs/<sha256>.pack files of\n"
"zstd frames, and a manifest naming every chunk's sha256.\n"
"\n"
"  BOOTSTRAP        the metadata image; its device table must have one slot per\n"
"                   BLOB. Each BLOB's sha256 is written into its slot's tag (the\n"
"                   name the kernel opens it by) and the superblock checksum\n"
"                   updated: BOOTSTRAP is modified in place.\n"
"  --previous DIR   reuse chunks of the images published in DIR (every\n"
"                   DIR/*.manifest; their packs must be in DIR/packs). Reused\n"
"                   packs are hard-linked (or copied) into OUTDIR/packs; only new\n"
"                   chunks go into one new pack. Repeatable; earlier DIRs first.\n"
"  --level N        zstd level, 1..%d (default %d).\n"
"  --manifest FILE  where to write the manifest (default OUTDIR/<sha256>.manifest);\n"
"                   publish it as OUTDIR/<fsid>.manifest.\n"
"\n"
"Prints the manifest's sha256 (for erofs.digest=sha256:<hex>) on stdout and a\n"
"summary on stderr. Files appear under their names only when complete; an\n"
"existing file with other content is never replaced. The same inputs, --previous\n"
"directories and libzstd version give byte-identical output.\n"
"\n"
"  --unpack         checks the image MANIFEST describes against the packs in\n"
"                   OUTDIR/packs (every chunk, blob and pack) and writes each\n"
"                   blob as DESTDIR/<tag>.\n"
"\n"
"Exit status: 0 on success, 1 on any error (one line on stderr says why).\n",
		PROG, PROG, ZSTD_maxCLevel(), DEFAULT_LEVEL);
}

static const char **arg_previous;
static int arg_nprevious;
static const char *arg_manifest;
static int arg_level = DEFAULT_LEVEL;
static int arg_unpack;

/* Drops trailing slashes of directory @d, so that names joined to it read well. */
static char *trim_dir(char *d)
{
	size_t n = strlen(d);

	while (n > 1 && d[n - 1] == '/')
		d[--n] = '\0';
	return d;
}

/* Returns <0 on a usage error (said why), 0 to exit, >0 to go on. */
static int parse_argv(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "previous", required_argument, NULL, 'p' },
		{ "level", required_argument, NULL, 'l' },
		{ "manifest", required_argument, NULL, 'm' },
		{ "unpack", no_argument, NULL, 'u' },
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, 'V' },
		{ NULL, 0, NULL, 0 },
	};
	char *end;
	long v;
	int c;

	arg_previous = xrealloc(NULL, argc, sizeof(*arg_previous));
	opterr = 0;
	while ((c = getopt_long(argc, argv, ":h", opts, NULL)) != -1) {
		switch (c) {
		case 'p':
			arg_previous[arg_nprevious++] = trim_dir(optarg);
			break;
		case 'l':
			errno = 0;
			v = strtol(optarg, &end, 10);
			if (errno || end == optarg || *end || v < 1 ||
			    v > ZSTD_maxCLevel())
				return error("--level %s: use 1..%d", optarg,
					     ZSTD_maxCLevel());
			arg_level = v;
			break;
		case 'm':
			arg_manifest = optarg;
			break;
		case 'u':
			arg_unpack = 1;
			break;
		case 'h':
			usage(stdout);
			return 0;
		case 'V':
			printf("%s %s\n", PROG, LAZYROOT_VERSION);
			return 0;
		case ':':
			return error("%s needs an argument (try --help)",
				     argv[optind - 1]);
		default:
			return error("unknown option '%s' (try --help)",
				     argv[optind - 1]);
		}
	}
	argc -= optind;
	if (arg_unpack) {
		if (arg_nprevious || arg_manifest)
			return error("--unpack takes no --previous or --manifest");
		if (argc != 3)
			return error("--unpack needs OUTDIR MANIFEST DESTDIR, got %d argument%s (try --help)",
				     argc, argc == 1 ? "" : "s");
	} else if (argc < 2 || argc > MANIFEST_BLOBS_MAX + 1) {
		return error("expected OUTDIR, BOOTSTRAP and up to %d BLOBs, got %d argument%s (try --help)",
			     MANIFEST_BLOBS_MAX - 1, argc,
			     argc == 1 ? "" : "s");
	}
	return 1;
}

/* Sets up @p for OUTDIR and the image files in @args. */
static int packer_init(struct packer *p, int nargs, char **args)
{
	struct stat st;
	int i, j;

	p->outdir = trim_dir(args[0]);
	if (stat(p->outdir, &st))
		return error("OUTDIR %s: %s", p->outdir, strerror(errno));
	if (!S_ISDIR(st.st_mode))
		return error("OUTDIR %s is not a directory", p->outdir);
	p->packdir = xasprintf("%s/packs", p->outdir);
	p->nblobs = nargs - 1;
	for (i = 0; i < (int)p->nblobs; i++) {
		struct stat a, b;

		p->blobs[i].path = args[i + 1];
		if (stat(args[i + 1], &a))
			return error("%s: %s", args[i + 1], strerror(errno));
		/* Writing the tags would change a blob already hashed. */
		for (j = 0; j < i; j++)
			if (!stat(args[j + 1], &b) && a.st_dev == b.st_dev &&
			    a.st_ino == b.st_ino)
				return error("%s and %s are the same file",
					     args[j + 1], args[i + 1]);
	}
	p->level = arg_level;
	p->cctx = ZSTD_createCCtx();
	if (!p->cctx)
		return error("out of memory");
	p->dctx = dctx_new();
	p->zcap = ZSTD_compressBound(MANIFEST_CHUNK_MAX);
	p->buf = xrealloc(NULL, CHUNK_MAX, 1);
	p->zbuf = xrealloc(NULL, p->zcap, 1);
	p->vbuf = xrealloc(NULL, MANIFEST_CHUNK_MAX, 1);
	return 0;
}

static void packer_free(struct packer *p)
{
	unsigned int i;

	if (p->pack_fd >= 0)
		close(p->pack_fd);
	if (p->old_fd >= 0)
		close(p->old_fd);
	for (i = 0; i < p->nblobs; i++)
		free(p->blobs[i].refs);
	tmp_drop(p->pack_tmp);
	free(p->packdir);
	free(p->packs);
	free(p->old);
	free(p->chunks);
	free(p->pack_map.slot);
	free(p->old_map.slot);
	free(p->chunk_map.slot);
	free(p->buf);
	free(p->zbuf);
	free(p->vbuf);
	ZSTD_freeCCtx(p->cctx);
	ZSTD_freeDCtx(p->dctx);
}

int main(int argc, char **argv)
{
	struct sigaction sa = { .sa_handler = on_signal };
	struct packer p = { .new_pack = NONE, .pack_fd = -1, .old_fd = -1 };
	int i, ret;

	ret = parse_argv(argc, argv);
	if (ret <= 0)
		goto out;
	argc -= optind;
	argv += optind;

	atexit(remove_tmp_files);
	/* The work loops stop at a flag, and the temporary files go. */
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGHUP, &sa, NULL);

	if (arg_unpack) {
		ret = unpack(trim_dir(argv[0]), argv[1], trim_dir(argv[2]));
		goto out;
	}
	ret = packer_init(&p, argc, argv);
	for (i = 0; i < arg_nprevious && !ret; i++)
		ret = load_previous(&p, arg_previous[i]);
	if (!ret)
		ret = pack_image(&p, arg_manifest);
	packer_free(&p);
out:
	free(arg_previous);
	return ret < 0 ? 1 : 0;
}
