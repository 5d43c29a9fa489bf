// SPDX-License-Identifier: MIT
/*
 * lazyrootd: serves the blobs of an EROFS image to the kernel (cachefiles
 * on-demand, or NBD block devices) from HTTPS range requests, so a root
 * filesystem is fetched block by block as it is read.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include "config.h"
#include "backend.h"
#include "control.h"
#include "fetch.h"
#include "frontend.h"
#include "log.h"
#include "manifest.h"
#include "nbd.h"
#include "serve.h"
#include "signature.h"
#include "trust.h"
#include "verified.h"

static volatile sig_atomic_t want_stats, want_exit;

static void on_signal(int sig)
{
	if (sig == SIGUSR1)
		want_stats = 1;
	else
		want_exit = 1;
}

/* A root storage daemon must outlive memory pressure. */
static void protect_self(void)
{
	int fd = open("/proc/self/oom_score_adj", O_WRONLY | O_CLOEXEC);

	if (fd >= 0) {
		if (write(fd, "-1000", 5) < 0)
			log_warn("cannot exempt from the OOM killer: %s",
				 strerror(errno));
		close(fd);
	}
	if (mlockall(MCL_CURRENT | MCL_FUTURE))
		log_warn("cannot lock memory: %s", strerror(errno));
	/* Reclaim may wait on the root's writeback: never on our own I/O. */
	if (nbd_set_io_flusher())
		log_warn("cannot mark as an I/O flusher (PR_SET_IO_FLUSHER, 5.6+): %s",
			 strerror(errno));
}

static void setup_signals(void)
{
	struct sigaction sa = { .sa_handler = on_signal };

	/* No SA_RESTART: a signal must wake the poll. */
	sigemptyset(&sa.sa_mask);
	sigaction(SIGUSR1, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);
	signal(SIGHUP, SIG_IGN);
}

/* The network: mirrors resolved and pinned, the CA bundle in memory. */
static int setup_engine(const struct config *cfg, struct fetch_engine **engine,
			unsigned char **ca, const char **ca_used)
{
	struct fetch_options fo = {
		.base_url = cfg->url,
		.timeout_s = cfg->timeout_s,
		.wait = config_waits(cfg),
		.connections = cfg->connections,
		.verbose = cfg->verbose,
	};
	ssize_t n = trust_load_ca(cfg, ca, ca_used);

	if (n < 0)
		return (int)n;
	fo.ca_pem = *ca;
	fo.ca_pem_len = (size_t)n;
	return fetch_engine_new(engine, &fo);
}

/* Forks into the background once ready: the caller may mount then. */
static int detach(void)
{
	pid_t pid = fork();

	if (pid < 0) {
		log_err("fork: %s", strerror(errno));
		return -errno;
	}
	if (pid > 0)
		_exit(0);
	setsid();
	log_detach();
	return 0;
}

/* The stats, and the daemon's own memory: it is locked and never swapped. */
static void log_stats(const struct server *server)
{
	struct rusage ru;

	server_log_stats(server);
	if (!getrusage(RUSAGE_SELF, &ru))
		log_info("stats: peak RSS %ld KiB", ru.ru_maxrss);
}

static void serve_until_signalled(struct fetch_engine *engine,
				  struct server *server, struct frontend *fe,
				  struct control *ctl)
{
	struct fetch_waitfd fds[1 + 1 + CONTROL_CLIENTS_MAX];
	unsigned int n;

	while (!want_exit) {
		if (want_stats) {
			want_stats = 0;
			log_stats(server);
		}
		fds[0] = (struct fetch_waitfd){ .fd = fe->fd, .want_in = 1 };
		n = 1 + control_wait_fds(ctl, fds + 1, sizeof(fds) / sizeof(fds[0]) - 1);
		if (fetch_engine_wait_fds(engine, fds, n, 1000)) {
			if (fds[0].in)
				fe->drain(fe);
			control_run(ctl, fds + 1, n - 1);
		}
		fetch_engine_run(engine);
	}
	log_stats(server);
}

int main(int argc, char **argv)
{
	struct config cfg;
	struct fetch_engine *engine = NULL;
	struct manifest *manifest = NULL;
	struct server *server = NULL;
	struct frontend *fe = NULL;
	struct control *ctl = NULL;
	struct signature_key *key = NULL;
	unsigned char *ca = NULL;
	const char *ca_used = NULL;
	int ret;

	log_open();
	ret = config_load(&cfg, argc, argv);
	if (ret <= 0)
		return ret ? 2 : 0;
	log_set_verbose(cfg.verbose);

	ret = setup_engine(&cfg, &engine, &ca, &ca_used);
	if (ret)
		return ca ? 1 : 2;
	if (cfg.digest[0] || cfg.key_file[0]) {
		if (cfg.key_file[0] && trust_load_key(cfg.key_file, &key))
			return 2;
		ret = verified_setup(engine, &cfg, key, &manifest);
		signature_key_free(key);
		if (ret)
			return 1;
	}
	if (server_new(&server, &cfg, engine, manifest)) {
		log_err("out of memory");
		return 1;
	}
	setup_signals();
	if (config_prefetches(&cfg))
		server_prefetch(server);
	if (backend_start(&cfg, server, engine, manifest, &want_exit, &fe))
		return 1;
	if (chdir("/"))
		log_warn("chdir /: %s", strerror(errno));
	if (!cfg.foreground && detach())
		return 1;
	protect_self();
	/* Without it the daemon serves as well: control_new said why. */
	if (control_new(&ctl, CONTROL_NAME, server))
		ctl = NULL;
	log_info("serving %s through %s (CA %s, cache %s, timeout %us, on error %s, %u connections)",
		 cfg.url, fe->name, ca_used,
		 cfg.cache_dir[0] ? cfg.cache_dir : "none", cfg.timeout_s,
		 config_waits(&cfg) ? "wait" : "fail", cfg.connections);

	serve_until_signalled(engine, server, fe, ctl);
	control_free(ctl);
	log_info("exiting: the cache is withdrawn and pending reads fail");
	fe->destroy(fe);
	server_free(server);
	manifest_free(manifest);
	fetch_engine_free(engine);
	free(ca);
	return 0;
}
