/* SPDX-License-Identifier: MIT */
/*
 * A stand-in for /dev/cachefiles around the daemon's request loop: a
 * SOCK_SEQPACKET pair carries one kernel message per read one way and the
 * copen replies the other; memfds stand in for the kernel's anon fds.
 */
#ifndef LAZYROOT_FAKE_CACHEFILES_H
#define LAZYROOT_FAKE_CACHEFILES_H

#include <stddef.h>
#include <stdint.h>

#include "config.h"
#include "fetch.h"
#include "serve.h"

extern struct server *fk_srv;
extern struct fetch_engine *fk_engine;

/*
 * Makes the socket pair, the server around @engine (for the verified image
 * @m, or a plain one when NULL) and its cachefiles front end. Returns 0 or -1.
 */
struct manifest;
int fk_start(const struct config *cfg, struct fetch_engine *engine,
	     const struct manifest *m);
void fk_stop(void);

void fk_send_msg(uint32_t id, uint32_t op, uint32_t obj, const void *payload,
		 size_t plen);
void fk_send_open(uint32_t id, uint32_t obj, const char *name, int fd);
void fk_send_read(uint32_t id, uint32_t obj, uint64_t off, uint64_t len);

/* Runs the daemon's loop once. */
void fk_pump(void);
/* Pumps until a copen arrives (returns it) or 15 s pass (returns ""). */
const char *fk_await_copen(void);
/* Pumps until the written+error counters move past @w/@e, or 15 s. */
void fk_await_progress(unsigned long long w, unsigned long long e);

#endif
