/* SPDX-License-Identifier: MIT */
/*
 * --unpack: checks a published image as lazyrootd would (every chunk, blob
 * and pack) and writes each blob as DESTDIR/<tag>.
 */
#ifndef LAZYROOT_PACK_UNPACK_H
#define LAZYROOT_PACK_UNPACK_H

/* Returns 0 or -1 (said why). */
int unpack(const char *outdir, const char *manifest_path,
	   const char *destdir);

#endif
