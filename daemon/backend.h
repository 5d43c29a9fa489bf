/* SPDX-License-Identifier: MIT */
/*
 * The kernel front end for this kernel (erofs.backend=auto|fscache|nbd):
 * auto takes cachefiles on-demand where /dev/cachefiles binds it, else NBD,
 * and says which and why in one line; a kernel with neither gets one line
 * naming what it lacks.
 */
#ifndef LAZYROOT_BACKEND_H
#define LAZYROOT_BACKEND_H

#include <signal.h>

#include "config.h"
#include "frontend.h"

struct fetch_engine;
struct manifest;

#define BACKEND_DEVS_MAX 16
/* NBD: how long the kernel keeps reads for a restarted worker (1 day). */
#define BACKEND_NBD_DEAD_CONN_S 86400

/* What the supervisor keeps for every worker it starts. */
struct backend {
	int nbd;		/* 1: NBD devices, 0: cachefiles on-demand */
	int devfd;		/* fscache: /dev/cachefiles, bound */
	/*
	 * A restarted worker can take over: cachefiles has "restore", or
	 * the devices were connected through netlink.
	 */
	int restartable;
	unsigned int ndevs;	/* NBD: the device of each blob */
	int index[BACKEND_DEVS_MAX];
};

/*
 * In the supervisor: chooses the front end (one line saying which and
 * why); for fscache binds /dev/cachefiles and asks whether the kernel can
 * take a restarted worker. Returns 0, or -1 after one line saying why.
 */
int backend_choose(const struct config *cfg, struct backend *bk);

/*
 * In a worker: starts the front end @bk names. For NBD every device is
 * connected (the map written) before it returns, unless *@stop is set
 * meanwhile, and @bk learns the devices; @restarted: a worker took over
 * (cachefiles "restore", NBD reattached). Returns 0, or -1 after one line.
 */
int backend_start(const struct config *cfg, struct backend *bk,
		  struct server *s, struct fetch_engine *engine,
		  const struct manifest *m, int restarted,
		  const volatile sig_atomic_t *stop, struct frontend **fe);

#endif
