/* SPDX-License-Identifier: MIT */
/*
 * A published directory (OUTDIR, or a --previous DIR): <sha256>.manifest
 * files and packs/<sha256>.pack, each file named by its own sha256.
 */
#ifndef LAZYROOT_PACK_OUTDIR_H
#define LAZYROOT_PACK_OUTDIR_H

#include <stddef.h>
#include <stdint.h>

#include "manifest.h"
#include "sha256.h"

/* "@dir/packs/<hex>.pack", to free(). */
char *pack_path(const char *dir, const unsigned char digest[SHA256_SIZE]);

/* The sha256 of the whole file @path into @out. Returns 0 or -errno. */
int file_sha256(const char *path, unsigned char out[SHA256_SIZE]);

/* Makes @dir (OUTDIR/packs) unless it is there. Returns 0 or -1 (said why). */
int make_packdir(const char *dir);

/*
 * Reads and checks the manifest file @path: 0, *@out (manifest_free()) and
 * its sha256 into @digest unless NULL, or -1 (said why).
 */
int read_manifest(const char *path, struct manifest **out,
		  unsigned char digest[SHA256_SIZE]);

/* Writes @len bytes of @buf as @path, complete or not at all. */
int write_manifest(const unsigned char *buf, size_t len, const char *path);

/*
 * Makes @outdir/packs/<hex>.pack of the pack @digest (@size bytes) of
 * --previous @from: a hard link (a checked copy where links cannot be
 * made), unless it is there already. Returns 0 or -1 (said why).
 */
int link_pack(const char *outdir, const char *from,
	      const unsigned char digest[SHA256_SIZE], uint64_t size);

#endif
