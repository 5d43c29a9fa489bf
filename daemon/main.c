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
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include "config.h"
#include "backend.h"
#include "control.h"
#include "fetch.h"
#include "fill.h"
#include "frontend.h"
#include "log.h"
#include "manifest.h"
#include "nbd.h"
#include "serve.h"
#include "signature.h"
#include "store.h"
#include "supervise.h"
#include "trust.h"
#include "verified.h"

static volatile sig_atomic_t want_stats, want_exit, orphaned;

static void on_signal(int sig)
{
	if (sig == SIGUSR1)
		want_stats = 1;
	else if (sig == SIGUSR2)
		orphaned = 1;
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
	sigaction(SIGUSR2, &sa, NULL);
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

/*
 * Into the background: the caller's process waits for the supervisor's
 * word that the first worker is ready (the caller may mount then), and
 * exits 0, or with the worker's status if it failed. Returns the fd for
 * that word in the supervisor, or -1.
 */
static int background(void)
{
	unsigned char code = 1;
	int p[2];
	pid_t pid;

	if (pipe2(p, O_CLOEXEC)) {
		log_err("pipe: %s", strerror(errno));
		return -1;
	}
	pid = fork();
	if (pid < 0) {
		log_err("fork: %s", strerror(errno));
		return -1;
	}
	if (pid > 0) {
		close(p[1]);
		while (read(p[0], &code, 1) < 0 && errno == EINTR)
			;
		_exit(code);
	}
	close(p[0]);
	setsid();
	return p[1];
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
		if (orphaned == 1) {
			orphaned = 2;
			log_err("the supervisor is gone: this worker serves on, but if it ends nothing takes over and the root's reads fail");
		}
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
		/* the rate limit's credit grows with time: at least once a second */
		server_fill_pump(server);
	}
	log_stats(server);
}

/* What every worker starts from: set up once, in the supervisor. */
struct daemon {
	struct config cfg;
	struct fetch_engine *engine;	/* resolved, no connection yet */
	struct manifest *manifest;	/* vouched for */
	struct server *server;		/* nothing open yet */
	struct backend bk;
	const char *ca_used;
	pid_t supervisor;
};

/* A worker: the front end, then serving until a signal. */
static int worker_run(void *ctx, int ready_fd, unsigned int restarts)
{
	struct daemon *d = ctx;
	struct frontend *fe = NULL;
	struct control *ctl = NULL;
	char line[SUPERVISE_READY_MAX];
	size_t len;
	unsigned int i;

	setup_signals();
	/* SIGUSR2 when the supervisor dies (kill -9): say what that costs. */
	if (prctl(PR_SET_PDEATHSIG, SIGUSR2) || getppid() != d->supervisor)
		orphaned = 1;
	/* Memory locks are not inherited across fork. */
	protect_self();
	/*
	 * The first worker streams the prefetch list; one that takes over
	 * finds the kernel holding what was read and fetches on demand.
	 */
	if (!restarts && config_prefetches(&d->cfg))
		server_prefetch(d->server);
	/* One that takes over fills too: it skips what the stores hold. */
	if (config_fills(&d->cfg))
		server_fill(d->server, d->cfg.fill_rate, FILL_QUIET_MS);
	if (backend_start(&d->cfg, &d->bk, d->server, d->engine, d->manifest,
			  restarts > 0, &want_exit, &fe))
		return 1;
	len = (size_t)snprintf(line, sizeof(line), "ready %d %u",
			       d->bk.restartable, d->bk.ndevs);
	for (i = 0; i < d->bk.ndevs && len < sizeof(line); i++)
		len += (size_t)snprintf(line + len, sizeof(line) - len, " %d",
					d->bk.index[i]);
	if (len < sizeof(line) - 1) {
		line[len++] = '\n';
		if (write(ready_fd, line, len) != (ssize_t)len)
			log_warn("telling the supervisor: %s", strerror(errno));
	}
	close(ready_fd);
	if (!restarts && !d->cfg.foreground)
		log_detach();
	if (restarts)
		log_info("serving %s through %s again (worker %d took over)",
			 d->cfg.url, fe->name, (int)getpid());
	else
		log_info("serving %s through %s (CA %s, cache %s, timeout %us, on error %s, %u connections, fill %s)",
			 d->cfg.url, fe->name, d->ca_used,
			 d->cfg.cache_dir[0] ? d->cfg.cache_dir : "none",
			 d->cfg.timeout_s, config_waits(&d->cfg) ? "wait" : "fail",
			 d->cfg.connections, config_fills(&d->cfg) ? "on" : "off");
	server_set_frontend(d->server, fe->name, d->bk.nbd ? d->bk.index : NULL,
			    d->bk.ndevs);
	/* Without it the daemon serves as well: control_new said why. */
	if (control_new(&ctl, CONTROL_NAME, d->server))
		ctl = NULL;
	serve_until_signalled(d->engine, d->server, fe, ctl);
	control_free(ctl);
	log_info("worker exiting");
	fe->destroy(fe);
	return 0;
}

/* The first worker's line tells the NBD devices it connected. */
static int worker_ready(void *ctx, const char *line)
{
	struct daemon *d = ctx;
	struct backend *bk = &d->bk;
	unsigned int n, i;
	int restartable, used;

	if (sscanf(line, "ready %d %u%n", &restartable, &n, &used) != 2 ||
	    n > BACKEND_DEVS_MAX || (restartable != 0 && restartable != 1))
		return -1;
	line += used;
	for (i = 0; i < n; i++) {
		int index;

		if (sscanf(line, " %d%n", &index, &used) != 1 || index < 0)
			return -1;
		bk->index[i] = index;
		line += used;
	}
	if (*line)
		return -1;
	bk->ndevs = n;
	bk->restartable = restartable;
	return 0;
}

static int worker_restartable(void *ctx)
{
	return ((struct daemon *)ctx)->bk.restartable;
}

/*
 * A netlink NBD device waits a day for a new connection: with no worker to
 * come, disconnect it so that its readers get errors now, not then.
 */
static const char *worker_withdraw(void *ctx)
{
	struct backend *bk = &((struct daemon *)ctx)->bk;
	unsigned int i, gone = 0;

	if (!bk->ndevs)
		return "the cache is withdrawn and the root's reads fail from now on";
	for (i = 0; i < bk->ndevs; i++) {
		int ret = nbd_disconnect(bk->index[i]);

		if (!ret)
			gone++;
		else if (ret != -ENOENT)
			log_err("nbd%d: netlink NBD_CMD_DISCONNECT: %s: its readers wait for a new connection until the dead-connection timeout",
				bk->index[i], strerror(-ret));
	}
	return gone ? "the NBD devices are disconnected and the root's reads fail from now on" :
		      "the root's reads fail from now on";
}

int main(int argc, char **argv)
{
	static struct daemon d;
	struct supervisor sv = {
		.run = worker_run,
		.ready = worker_ready,
		.restartable = worker_restartable,
		.withdraw = worker_withdraw,
		.ctx = &d,
		.notify_fd = -1,
		.detach = log_detach,
	};
	struct signature_key *key = NULL;
	unsigned char *ca = NULL;
	int ret;

	log_open();
	ret = config_load(&d.cfg, argc, argv);
	if (ret <= 0)
		return ret ? 2 : 0;
	log_set_verbose(d.cfg.verbose);

	ret = setup_engine(&d.cfg, &d.engine, &ca, &d.ca_used);
	if (ret)
		return ca ? 1 : 2;
	if (d.cfg.digest[0] || d.cfg.key_file[0]) {
		if (d.cfg.key_file[0] && trust_load_key(d.cfg.key_file, &key))
			return 2;
		ret = verified_setup(d.engine, &d.cfg, key, &d.manifest);
		signature_key_free(key);
		if (ret)
			return 1;
	}
	/* Each worker starts with no connection of another's. */
	ret = fetch_engine_forget(d.engine);
	if (ret) {
		log_err("fetch engine: %s", strerror(-ret));
		return 1;
	}
	if (d.cfg.store_dir[0]) {
		ret = store_hold_dir(d.cfg.store_dir);
		if (ret)
			log_warn("store %s: cannot open it: %s", d.cfg.store_dir,
				 strerror(-ret));
	}
	if (server_new(&d.server, &d.cfg, d.engine, d.manifest)) {
		log_err("out of memory");
		return 1;
	}
	if (backend_choose(&d.cfg, &d.bk))
		return 1;
	if (chdir("/"))
		log_warn("chdir /: %s", strerror(errno));
	signal(SIGPIPE, SIG_IGN);
	signal(SIGHUP, SIG_IGN);
	if (!d.cfg.foreground) {
		sv.notify_fd = background();
		if (sv.notify_fd < 0)
			return 1;
	} else {
		sv.detach = NULL;
	}
	protect_self();
	d.supervisor = getpid();
	(void)ca; /* kept: the engine reads the CA bundle from it */
	return supervise(&sv);
}
