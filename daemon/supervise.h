/* SPDX-License-Identifier: MIT */
/*
 * The supervisor: the process that holds what the kernel must not lose
 * (the bound /dev/cachefiles; for NBD the devices stay the kernel's) and
 * starts a worker, a fork of itself, that serves. Whenever the worker
 * exits, however, it logs the exit and starts another that takes over,
 * until too many exit in a short time or the kernel cannot take a new one.
 */
#ifndef LAZYROOT_SUPERVISE_H
#define LAZYROOT_SUPERVISE_H

#include <stddef.h>

/* More exits than this within SUPERVISE_WINDOW_S seconds: give up. */
#define SUPERVISE_MAX_EXITS 10
#define SUPERVISE_WINDOW_S 60
/* The longest ready line a worker may send. */
#define SUPERVISE_READY_MAX 256

struct supervisor {
	/*
	 * In the child: serves, and returns the exit status. It writes one
	 * line to @ready_fd once the kernel can be served, then closes it.
	 * @restarts: 0 for the first worker.
	 */
	int (*run)(void *ctx, int ready_fd, unsigned int restarts);
	/* In the supervisor: a worker's ready line; 0, or -1 if bad. */
	int (*ready)(void *ctx, const char *line);
	/* Whether the kernel can take a new worker now. */
	int (*restartable)(void *ctx);
	/*
	 * Before the supervisor exits with no worker to follow: undoes what
	 * the kernel would otherwise hold for a worker that will not come.
	 * Returns what the root's readers get, for the last line.
	 */
	const char *(*withdraw)(void *ctx);
	void *ctx;
	/*
	 * One byte is written here once the first worker is ready (0) or
	 * has failed (its exit status), then it is closed; -1: none.
	 */
	int notify_fd;
	/* Called once the first worker is ready (the supervisor detaches). */
	void (*detach)(void);
};

/*
 * Runs workers until told to stop (SIGTERM, SIGINT: passed on to the
 * worker), the first fails before it is ready, or the restarts give out.
 * SIGUSR1 is passed on. Returns the exit status for main().
 */
int supervise(struct supervisor *sv);

#endif
