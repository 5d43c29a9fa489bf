/* SPDX-License-Identifier: MIT */
/*
 * The NBD front end: each blob of the image becomes a read-only
 * /dev/nbdN, for kernels without EROFS fscache mode.
 */
#ifndef LAZYROOT_FE_NBD_H
#define LAZYROOT_FE_NBD_H

#include "frontend.h"
#include "nbd.h"

struct fe_nbd_options {
	/* Where to write "NAME /dev/nbdN" lines once all are up; or NULL. */
	const char *map_file;
	/* How long the kernel waits for a new socket if ours dies. */
	unsigned int dead_conn_timeout_s;
	/* Hands the kernel its end: nbd_connect(), or a test's stand-in. */
	int (*connect)(const struct nbd_setup *su);
	/*
	 * After a restart: the device index of each blob, which gets a new
	 * socket through @reconnect (nbd_reconnect() if NULL) instead of a
	 * new device; no map is written then. NULL: connect new devices.
	 */
	const int *reattach;
	int (*reconnect)(int index, int sock);
};

/*
 * Opens @blobs (names as serve_open() takes them: the fsid first, then
 * extra devices) and connects one NBD device to each as its size is
 * known. Returns 0 (then poll fe_nbd_ready()) or -errno after one line.
 */
int fe_nbd_new(struct frontend **out, struct server *s,
	       const struct fe_nbd_options *opt, const char *const *blobs,
	       unsigned int nblobs);

/*
 * 1 once every device is connected and the map file written, 0 while
 * waiting for the sizes, or -errno when one failed (logged).
 */
int fe_nbd_ready(const struct frontend *fe);

/* The index N of /dev/nbdN serving blob @i, or -1 if not connected. */
int fe_nbd_index(const struct frontend *fe, unsigned int i);

#endif
