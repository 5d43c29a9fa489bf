/* SPDX-License-Identifier: MIT */
/*
 * The bootstrap (blob 0): the EROFS metadata image whose device table
 * names the other blobs, in order, by their sha256 in hex.
 */
#ifndef LAZYROOT_PACK_BOOTSTRAP_H
#define LAZYROOT_PACK_BOOTSTRAP_H

#include "erofs_sb.h"
#include "manifest.h"
#include "sha256.h"

/* Reads and checks the superblock of @path, open as @fd. 0 or -1 (said why). */
int bootstrap_read_sb(int fd, const char *path, struct erofs_sb_info *sbi);

/*
 * Writes @n tags into the device table of @path (open as @fd), then the
 * superblock checksum, which covers the table when it lies in block 0.
 * Returns 0 or -1 (said why).
 */
int bootstrap_write_tags(int fd, const char *path,
			 const struct erofs_sb_info *sbi,
			 char (*tags)[SHA256_HEX_SIZE + 1], unsigned int n);

/*
 * Checks that the bootstrap @path names the other blobs of @m, in order.
 * Returns 0 or -1 (said why).
 */
int bootstrap_check_tags(const struct manifest *m, const char *path);

#endif
