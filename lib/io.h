/* SPDX-License-Identifier: MIT */
/* Whole-buffer I/O: short transfers and EINTR are retried. */
#ifndef LAZYROOT_IO_H
#define LAZYROOT_IO_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/* Return 0, or -errno (-EIO when the file ends or takes nothing). */
int io_pread_all(int fd, void *buf, size_t len, uint64_t off);
int io_pwrite_all(int fd, const void *buf, size_t len, uint64_t off);

/* Reads up to @len bytes at @off: the count (short only at end of file) or -errno. */
ssize_t io_pread_upto(int fd, void *buf, size_t len, uint64_t off);

/*
 * Reads the whole of a small file into a NUL-terminated buffer (free()
 * it). Returns its length, or -errno: -EFBIG when it is larger than @max.
 */
ssize_t io_read_file(const char *path, unsigned char **out, size_t max);

#endif
