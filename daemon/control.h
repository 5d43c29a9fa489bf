/* SPDX-License-Identifier: MIT */
/*
 * The daemon's one local control interface: an abstract unix socket
 * (@lazyrootd; abstract, so it is there after switch_root and needs no
 * file system), for root only, served from the daemon's event loop.
 *
 * The protocol, one exchange per connection: the client sends one line,
 * a command and its arguments ("record\n"), at most CONTROL_REQUEST_MAX
 * bytes of printable ASCII; the daemon answers "ok\n" and the command's
 * output, or "error REASON\n", and closes. `lazyrootctl` is the client.
 */
#ifndef LAZYROOT_CONTROL_H
#define LAZYROOT_CONTROL_H

#include "fetch.h"

#define CONTROL_NAME "lazyrootd"
#define CONTROL_REQUEST_MAX 256
#define CONTROL_CLIENTS_MAX 4
/* A client that has not finished its exchange by then is dropped. */
#define CONTROL_TIMEOUT_MS 10000

struct control;
struct server;

/*
 * Listens on the abstract socket @name for @s. Returns 0 or -errno after
 * one line saying why (the daemon goes on without it).
 */
int control_new(struct control **out, const char *name, struct server *s);
void control_free(struct control *c);

/* Adds the fds to wait for to @fds (room for @max); returns how many. */
unsigned int control_wait_fds(struct control *c, struct fetch_waitfd *fds,
			      unsigned int max);

/* Handles what the wait found on the fds control_wait_fds() gave. */
void control_run(struct control *c, const struct fetch_waitfd *fds,
		 unsigned int n);

#endif
