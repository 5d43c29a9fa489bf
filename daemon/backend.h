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

/*
 * Chooses and starts the front end; for NBD every device is connected (and
 * the map written) before it returns, unless *@stop is set meanwhile.
 * Returns 0, or -1 after one line saying why.
 */
int backend_start(const struct config *cfg, struct server *s,
		  struct fetch_engine *engine, const struct manifest *m,
		  const volatile sig_atomic_t *stop, struct frontend **fe);

#endif
