// SPDX-License-Identifier: MIT
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <unistd.h>

#include "io.h"

ssize_t io_pread_upto(int fd, void *buf, size_t len, uint64_t off)
{
	unsigned char *p = buf;
	size_t done = 0;

	while (done < len) {
		ssize_t n = pread(fd, p + done, len - done,
				  (off_t)(off + done));

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		if (n == 0)
			break;
		done += (size_t)n;
	}
	return (ssize_t)done;
}

int io_pread_all(int fd, void *buf, size_t len, uint64_t off)
{
	ssize_t n = io_pread_upto(fd, buf, len, off);

	if (n < 0)
		return (int)n;
	return (size_t)n == len ? 0 : -EIO;
}

int io_pwrite_all(int fd, const void *buf, size_t len, uint64_t off)
{
	const unsigned char *p = buf;

	while (len) {
		ssize_t n = pwrite(fd, p, len, (off_t)off);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		if (n == 0)
			return -EIO;
		p += n;
		len -= (size_t)n;
		off += (uint64_t)n;
	}
	return 0;
}

ssize_t io_read_file(const char *path, unsigned char **out, size_t max)
{
	unsigned char *buf = NULL;
	size_t len = 0, cap = 0;
	int err, fd = open(path, O_RDONLY | O_CLOEXEC);

	if (fd < 0)
		return -errno;
	/*
	 * Grown as the file turns out to be, never to @max at once: what the
	 * daemon keeps (a CA bundle of a few KiB, bounded at 4 MiB) is locked
	 * in its memory for as long as it runs.
	 */
	for (;;) {
		ssize_t n;

		if (len == cap) {
			size_t ncap = cap ? 2 * cap : 16384;
			unsigned char *nbuf;

			if (ncap > max + 1)
				ncap = max + 1;
			if (ncap == cap) {
				err = -EFBIG;
				goto fail;
			}
			nbuf = realloc(buf, ncap + 1);
			if (!nbuf) {
				err = -ENOMEM;
				goto fail;
			}
			buf = nbuf;
			cap = ncap;
		}
		n = read(fd, buf + len, cap - len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			err = -errno;
			goto fail;
		}
		if (n == 0)
			break;
		len += (size_t)n;
		if (len > max) {
			err = -EFBIG;
			goto fail;
		}
	}
	close(fd);
	buf[len] = '\0';
	*out = buf;
	return (ssize_t)len;
fail:
	free(buf);
	close(fd);
	return err;
}
