// SPDX-License-Identifier: MIT
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "io.h"
#include "msg.h"
#include "outdir.h"
#include "tmpfile.h"
#include "xalloc.h"

char *pack_path(const char *dir, const unsigned char digest[SHA256_SIZE])
{
	char hex[SHA256_HEX_SIZE + 1];

	sha256_to_hex(digest, hex);
	return xasprintf("%s/packs/%s.pack", dir, hex);
}

int file_sha256(const char *path, unsigned char out[SHA256_SIZE])
{
	static unsigned char buf[1 << 16];
	struct sha256_ctx c;
	uint64_t off = 0;
	ssize_t n;
	int fd = open(path, O_RDONLY | O_CLOEXEC);

	if (fd < 0)
		return -errno;
	sha256_init(&c);
	while ((n = io_pread_upto(fd, buf, sizeof(buf), off)) > 0) {
		sha256_update(&c, buf, (size_t)n);
		off += (uint64_t)n;
	}
	close(fd);
	if (n < 0)
		return (int)n;
	sha256_final(&c, out);
	return 0;
}

int make_packdir(const char *dir)
{
	struct stat st;

	if (!mkdir(dir, 0755)) {
		/* readable by the web server, whatever the umask */
		if (chmod(dir, 0755))
			return pack_err("%s: %s", dir, strerror(errno));
		return 0;
	}
	if (errno != EEXIST)
		return pack_err("cannot make %s: %s", dir, strerror(errno));
	if (stat(dir, &st))
		return pack_err("%s: %s", dir, strerror(errno));
	if (!S_ISDIR(st.st_mode))
		return pack_err("%s is not a directory", dir);
	return 0;
}

int read_manifest(const char *path, struct manifest **out,
		  unsigned char digest[SHA256_SIZE])
{
	unsigned char *buf;
	char why[256];
	struct stat st;
	ssize_t n;
	int fd, ret;

	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return pack_err("%s: %s", path, strerror(errno));
	if (fstat(fd, &st)) {
		ret = errno;
		close(fd);
		return pack_err("%s: %s", path, strerror(ret));
	}
	if (!S_ISREG(st.st_mode) || st.st_size > MANIFEST_MAX_SIZE) {
		close(fd);
		return pack_err("%s: not a manifest (%s)", path,
				S_ISREG(st.st_mode) ? "larger than 64 MiB" :
						      "not a regular file");
	}
	buf = xrealloc(NULL, (size_t)st.st_size, 1);
	n = io_pread_upto(fd, buf, (size_t)st.st_size, 0);
	close(fd);
	if (n != st.st_size) {
		free(buf);
		return pack_err("%s: %s", path, n < 0 ? strerror((int)-n) :
				"changed while being read");
	}
	if (digest)
		sha256(buf, (size_t)n, digest);
	ret = manifest_parse(buf, (size_t)n, out, why, sizeof(why));
	free(buf);
	if (ret)
		return pack_err("%s: not a valid manifest: %s", path, why);
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

int write_manifest(const unsigned char *buf, size_t len, const char *path)
{
	char *dir = dir_of(path), *tmp = NULL;
	int fd, ret = -1;

	fd = tmp_create(dir, &tmp);
	if (fd < 0)
		goto out;
	ret = io_pwrite_all(fd, buf, len, 0);
	if (!ret && fsync(fd))
		ret = -errno;
	close(fd);
	if (ret) {
		ret = pack_err("cannot write %s: %s", tmp, strerror(-ret));
		goto out;
	}
	ret = tmp_publish(tmp, path) < 0 ? -1 : 0;
out:
	tmp_drop(tmp);
	free(dir);
	return ret;
}

/* Copies @src (fd @in) into a new file in @packdir, published as @dst. */
static int copy_pack(int in, const char *src, const char *packdir,
		     const char *dst, const unsigned char digest[SHA256_SIZE],
		     uint64_t size)
{
	static unsigned char buf[1 << 16];
	unsigned char got[SHA256_SIZE];
	struct sha256_ctx c;
	uint64_t off = 0;
	char *tmp = NULL;
	int fd, ret = -1;
	ssize_t n;

	fd = tmp_create(packdir, &tmp);
	if (fd < 0)
		goto out;
	sha256_init(&c);
	while ((n = io_pread_upto(in, buf, sizeof(buf), off)) > 0) {
		int w = io_pwrite_all(fd, buf, (size_t)n, off);

		if (w) {
			n = w;
			break;
		}
		sha256_update(&c, buf, (size_t)n);
		off += (uint64_t)n;
	}
	if (!n && fsync(fd))
		n = -errno;
	if (n < 0) {
		pack_err("cannot copy %s to %s: %s", src, tmp,
			 strerror((int)-n));
		goto out;
	}
	sha256_final(&c, got);
	if (off != size || memcmp(got, digest, SHA256_SIZE)) {
		pack_err("%s: its sha256 is not its name (damaged?)", src);
		goto out;
	}
	ret = tmp_publish(tmp, dst) < 0 ? -1 : 0;
out:
	if (fd >= 0)
		close(fd);
	tmp_drop(tmp);
	return ret;
}

int link_pack(const char *outdir, const char *from,
	      const unsigned char digest[SHA256_SIZE], uint64_t size)
{
	char *src = pack_path(from, digest);
	char *dst = pack_path(outdir, digest);
	char *packdir = NULL;
	unsigned char got[SHA256_SIZE];
	struct stat ss, ds;
	int in = -1, ret = -1, n;

	if (stat(src, &ss)) {
		pack_err("%s: %s", src, strerror(errno));
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
			pack_err("%s: %s", dst, strerror(-n));
			goto out;
		}
		if (memcmp(got, digest, SHA256_SIZE)) {
			pack_err("%s already exists with other content (its sha256 is not its name); not replacing it",
				 dst);
			goto out;
		}
		ret = 0;
		goto out;
	}
	if (errno != ENOENT) {
		pack_err("%s: %s", dst, strerror(errno));
		goto out;
	}
	if (!link(src, dst)) {
		ret = 0;
		goto out;
	}
	if (errno != EXDEV && errno != EPERM && errno != EOPNOTSUPP &&
	    errno != EMLINK) {
		pack_err("cannot link %s to %s: %s", src, dst, strerror(errno));
		goto out;
	}
	in = open(src, O_RDONLY | O_CLOEXEC);
	if (in < 0) {
		pack_err("%s: %s", src, strerror(errno));
		goto out;
	}
	packdir = xasprintf("%s/packs", outdir);
	ret = copy_pack(in, src, packdir, dst, digest, size);
out:
	if (in >= 0)
		close(in);
	free(packdir);
	free(src);
	free(dst);
	return ret;
}
