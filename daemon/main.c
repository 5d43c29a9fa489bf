// SPDX-License-Identifier: MIT
/*
 * lazyrootd: answers the kernel's cachefiles on-demand requests for EROFS
 * blobs with HTTPS range requests, so a root filesystem is fetched block
 * by block as it is read.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "config.h"
#include "fe_nbd.h"
#include "fetch.h"
#include "frontend.h"
#include "io.h"
#include "log.h"
#include "manifest.h"
#include "nbd.h"
#include "serve.h"
#include "signature.h"
#include "verified.h"

#define CA_MAX (4 << 20)
#define CMDLINE_MAX 8192

static const char *const default_ca_files[] = {
	"/etc/lazyroot/ca.pem",
	"/etc/ssl/certs/ca-certificates.crt",
};

static volatile sig_atomic_t want_stats, want_exit;

static void on_signal(int sig)
{
	if (sig == SIGUSR1)
		want_stats = 1;
	else
		want_exit = 1;
}

/*
 * Loads the CA bundle into memory now: the initramfs holding it is gone
 * after switch_root, and the new root cannot be read without us.
 */
static ssize_t load_ca(const struct config *cfg, unsigned char **pem,
		       const char **used)
{
	ssize_t n;
	size_t i;

	if (cfg->ca_file[0]) {
		*used = cfg->ca_file;
	} else {
		*used = NULL;
		for (i = 0; i < sizeof(default_ca_files) / sizeof(*default_ca_files); i++) {
			if (!access(default_ca_files[i], R_OK)) {
				*used = default_ca_files[i];
				break;
			}
		}
		if (!*used) {
			log_err("no CA bundle: give erofs.ca= or --ca (none of /etc/lazyroot/ca.pem, /etc/ssl/certs/ca-certificates.crt exists)");
			return -ENOENT;
		}
	}
	n = io_read_file(*used, pem, CA_MAX);
	if (n < 0) {
		log_err("CA bundle %s: %s", *used,
			n == -EFBIG ? "larger than 4 MiB" : strerror((int)-n));
		return n;
	}
	if (!strstr((char *)*pem, "-----BEGIN CERTIFICATE-----")) {
		log_err("CA bundle %s: no PEM certificate in it", *used);
		free(*pem);
		return -EINVAL;
	}
	return n;
}

static int load_config(struct config *cfg, int argc, char **argv)
{
	unsigned char *cmdline = NULL;
	ssize_t n;
	int ret;

	config_init(cfg);
	ret = config_parse_args(cfg, argc, argv);
	if (ret <= 0)
		return ret;
	n = io_read_file(cfg->cmdline_file, &cmdline, CMDLINE_MAX);
	if (n < 0) {
		log_err("kernel command line %s: %s", cfg->cmdline_file,
			strerror((int)-n));
		return -EINVAL;
	}
	ret = config_apply_cmdline(cfg, (char *)cmdline);
	free(cmdline);
	if (ret)
		return ret;
	/* An initramfs built with an image key boots only images it signed. */
	if (!cfg->key_file[0] && !access(CONFIG_DEFAULT_KEY, F_OK))
		strcpy(cfg->key_file, CONFIG_DEFAULT_KEY);
	if (config_validate(cfg))
		return -EINVAL;
	return 1;
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

/*
 * erofs.backend=auto: fscache where /dev/cachefiles binds on-demand (the
 * kernel then has the EROFS side too in every kernel we know), else NBD.
 * Returns 1 for NBD, 0 with *fe bound for fscache, -1 after one line.
 */
static int choose_backend(const struct config *cfg, struct server *s,
			  struct frontend **fe)
{
	int nbd = !access("/sys/module/nbd", F_OK);
	int fd, ret;

	if (!strcmp(cfg->backend, "nbd"))
		return 1;
	if (!strcmp(cfg->backend, "fscache"))
		return fe_cachefiles_new(fe, s, cfg) ? -1 : 0;
	fd = open("/dev/cachefiles", O_RDWR | O_CLOEXEC);
	if (fd < 0 && errno != EBUSY) {
		if (nbd) {
			log_info("backend nbd: the kernel has no /dev/cachefiles (CONFIG_CACHEFILES), NBD is there");
			return 1;
		}
		log_err("the kernel can serve neither backend: it lacks CONFIG_CACHEFILES_ONDEMAND with CONFIG_EROFS_FS_ONDEMAND, and CONFIG_BLK_DEV_NBD (or the nbd module is not loaded)");
		return -1;
	}
	if (fd >= 0)
		close(fd);
	ret = fe_cachefiles_new(fe, s, cfg);
	if (!ret) {
		log_info("backend fscache: /dev/cachefiles binds on-demand");
		return 0;
	}
	if (ret == -EINVAL && nbd) {
		log_info("backend nbd: the kernel lacks CONFIG_CACHEFILES_ONDEMAND, NBD is there");
		return 1;
	}
	if (ret == -EINVAL)
		log_err("the kernel can serve neither backend: it lacks CONFIG_CACHEFILES_ONDEMAND, and CONFIG_BLK_DEV_NBD (or the nbd module is not loaded)");
	return -1;
}

/*
 * NBD: one device per blob (the fsid's, then a verified image's extra
 * devices), all connected before we report ready, since the mount names
 * them.
 */
static int start_nbd(const struct config *cfg, struct server *s,
		     struct fetch_engine *engine, const struct manifest *m,
		     struct frontend **fe)
{
	const char *names[16];
	struct fe_nbd_options opt = {
		.map_file = cfg->nbd_map[0] ? cfg->nbd_map : NULL,
		/* A restarted daemon has as long as a request may take. */
		.dead_conn_timeout_s = cfg->timeout_s,
	};
	unsigned int n = 0, i;
	int ready;

	if (!cfg->fsid[0]) {
		log_err("backend nbd: needs erofs.fsid= (or --fsid) to know which image to serve");
		return -1;
	}
	names[n++] = cfg->fsid;
	for (i = 1; m && i < m->nblobs; i++) {
		if (n == sizeof(names) / sizeof(*names)) {
			log_err("backend nbd: the manifest has more than %u devices",
				n);
			return -1;
		}
		names[n++] = m->blobs[i].tag;
	}
	if (fe_nbd_new(fe, s, &opt, names, n))
		return -1;
	while (!(ready = fe_nbd_ready(*fe)) && !want_exit) {
		if (fetch_engine_wait(engine, (*fe)->fd, 1000))
			(*fe)->drain(*fe);
		fetch_engine_run(engine);
	}
	if (ready != 1)
		return -1;
	for (i = 0; i < n; i++)
		log_info("blob %s on /dev/nbd%d", names[i],
			 fe_nbd_index(*fe, i));
	return 0;
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

int main(int argc, char **argv)
{
	struct config cfg;
	struct fetch_options fo = { 0 };
	struct fetch_engine *engine = NULL;
	struct server *server = NULL;
	struct frontend *fe = NULL;
	struct manifest *manifest = NULL;
	struct signature_key *key = NULL;
	unsigned char *ca = NULL;
	const char *ca_used;
	ssize_t ca_len;
	int ret;

	log_open();
	ret = load_config(&cfg, argc, argv);
	if (ret <= 0)
		return ret ? 2 : 0;
	log_set_verbose(cfg.verbose);

	ca_len = load_ca(&cfg, &ca, &ca_used);
	if (ca_len < 0)
		return 2;
	fo.base_url = cfg.url;
	fo.ca_pem = ca;
	fo.ca_pem_len = (size_t)ca_len;
	fo.timeout_s = cfg.timeout_s;
	fo.connections = cfg.connections;
	fo.verbose = cfg.verbose;
	if (fetch_engine_new(&engine, &fo))
		return 1;
	if (cfg.digest[0] || cfg.key_file[0]) {
		char why[2048];

		/* Read now: the initramfs holding it is gone after switch_root. */
		if (cfg.key_file[0]) {
			unsigned char *pem;
			ssize_t n = io_read_file(cfg.key_file, &pem,
					      SIGNATURE_KEY_FILE_MAX);

			if (n < 0) {
				log_err("image key %s: %s", cfg.key_file,
					n == -EFBIG ? "larger than 16 KiB, not a public key" :
					strerror((int)-n));
				return 2;
			}
			ret = signature_key_parse(pem, (size_t)n, cfg.key_file,
						  &key);
			free(pem);
			if (ret)
				return 2;
		}
		/* Before "ready": a manifest nobody vouches for stops the boot here. */
		if (verified_load_manifest(engine, cfg.fsid,
					   cfg.digest[0] ? cfg.digest +
					   strlen(CONFIG_DIGEST_PREFIX) : NULL,
					   key, &manifest, why, sizeof(why))) {
			log_err("cannot load the manifest of fsid %s: %s",
				cfg.fsid, why);
			return 1;
		}
		log_info("manifest of fsid %s: %u blobs, %u chunks in %u packs, %s%s%s",
			 cfg.fsid, manifest->nblobs, manifest->nchunks,
			 manifest->npacks,
			 cfg.digest[0] ? "sha256 matches erofs.digest" : "",
			 cfg.digest[0] && key ? ", " : "",
			 key ? "signed by the image key" : "");
		signature_key_free(key);
	}

	if (server_new(&server, &cfg, engine, manifest)) {
		log_err("out of memory");
		return 1;
	}
	setup_signals();
	ret = choose_backend(&cfg, server, &fe);
	if (ret < 0 || (ret && start_nbd(&cfg, server, engine, manifest, &fe)))
		return 1;
	if (chdir("/"))
		log_warn("chdir /: %s", strerror(errno));

	if (!cfg.foreground) {
		pid_t pid = fork();

		if (pid < 0) {
			log_err("fork: %s", strerror(errno));
			return 1;
		}
		if (pid > 0)
			_exit(0); /* ready: the caller may mount now */
		setsid();
		log_detach();
	}
	protect_self();
	log_info("serving %s through %s (CA %s, cache %s, timeout %us, %u connections)",
		 cfg.url, fe->name, ca_used,
		 cfg.cache_dir[0] ? cfg.cache_dir : "none", cfg.timeout_s,
		 cfg.connections);

	while (!want_exit) {
		if (want_stats) {
			want_stats = 0;
			server_log_stats(server);
		}
		if (fetch_engine_wait(engine, fe->fd, 1000))
			fe->drain(fe);
		fetch_engine_run(engine);
	}
	server_log_stats(server);
	log_info("exiting: the cache is withdrawn and pending reads fail");
	fe->destroy(fe);
	server_free(server);
	manifest_free(manifest);
	fetch_engine_free(engine);
	free(ca);
	return 0;
}
