// SPDX-License-Identifier: MIT
/* Which kernel front end serves the image, and starting it. */
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <unistd.h>

#include "backend.h"
#include "cachefiles.h"
#include "fe_nbd.h"
#include "fetch.h"
#include "log.h"
#include "manifest.h"
#include "nbd.h"
#include "serve.h"

/*
 * erofs.backend=auto: fscache where /dev/cachefiles binds on-demand (the
 * kernel then has the EROFS side too in every kernel we know), else NBD.
 * Returns 1 for NBD, 0 with *devfd bound for fscache, -1 after one line.
 */
static int choose_backend(const struct config *cfg, int *devfd)
{
	int nbd = !access("/sys/module/nbd", F_OK);
	int fd, ret;

	if (!strcmp(cfg->backend, "nbd"))
		return 1;
	if (!strcmp(cfg->backend, "fscache")) {
		*devfd = cf_dev_bind(cfg->cache_dir, cfg->tag);
		return *devfd < 0 ? -1 : 0;
	}
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
	ret = cf_dev_bind(cfg->cache_dir, cfg->tag);
	if (ret >= 0) {
		*devfd = ret;
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

int backend_choose(const struct config *cfg, struct backend *bk)
{
	int ret;

	memset(bk, 0, sizeof(*bk));
	bk->devfd = -1;
	ret = choose_backend(cfg, &bk->devfd);
	if (ret < 0)
		return -1;
	bk->nbd = ret;
	if (bk->nbd)
		return 0; /* known once the first worker has connected */
	/* Nothing is pending yet: this only asks whether the kernel has it. */
	ret = cf_restore(bk->devfd);
	bk->restartable = !ret;
	if (ret == -EOPNOTSUPP)
		log_warn("cachefiles: the kernel has no \"restore\" (Linux 6.8, 6.1.98): a crash of the worker is fatal here, the requests it had taken cannot be sent again");
	else if (ret)
		log_warn("cachefiles: restore: %s: a crash of the worker is fatal here",
			 strerror(-ret));
	return 0;
}

/*
 * NBD: one device per blob (the fsid's, then a verified image's extra
 * devices), all connected before we report ready, since the mount names
 * them; after a restart the same devices get new connections.
 */
static int start_nbd(const struct config *cfg, struct backend *bk,
		     struct server *s, struct fetch_engine *engine,
		     const struct manifest *m, int restarted,
		     const volatile sig_atomic_t *stop, struct frontend **fe)
{
	const char *names[BACKEND_DEVS_MAX];
	struct fe_nbd_options opt = {
		.map_file = cfg->nbd_map[0] ? cfg->nbd_map : NULL,
		/*
		 * Queued reads wait this long for a restarted worker; a root
		 * has nothing better to do than wait.
		 */
		.dead_conn_timeout_s = BACKEND_NBD_DEAD_CONN_S,
		.reattach = restarted ? bk->index : NULL,
	};
	unsigned int n = 0, i;
	int ready;

	if (!cfg->fsid[0]) {
		log_err("backend nbd: needs erofs.fsid= (or --fsid) to know which image to serve");
		return -1;
	}
	names[n++] = cfg->fsid;
	for (i = 1; m && i < m->nblobs; i++) {
		if (n == BACKEND_DEVS_MAX) {
			log_err("backend nbd: the manifest has more than %u devices",
				n);
			return -1;
		}
		names[n++] = m->blobs[i].tag;
	}
	if (restarted && n != bk->ndevs) {
		log_err("backend nbd: %u devices to reattach, %u blobs", bk->ndevs,
			n);
		return -1;
	}
	if (fe_nbd_new(fe, s, &opt, names, n))
		return -1;
	/* The page cache is the kernel's only copy; keep ours. */
	server_keep_in_ram(s, cfg->ram_cache ? cfg->ram_cache :
					       config_default_ram_cache());
	while (!(ready = fe_nbd_ready(*fe)) && !*stop) {
		if (fetch_engine_wait(engine, (*fe)->fd, 1000))
			(*fe)->drain(*fe);
		fetch_engine_run(engine);
	}
	if (ready != 1)
		return -1;
	bk->ndevs = n;
	for (i = 0; i < n; i++) {
		bk->index[i] = fe_nbd_index(*fe, i);
		if (!restarted)
			log_info("blob %s on /dev/nbd%d", names[i], bk->index[i]);
	}
	bk->restartable = nbd_can_reconnect();
	return 0;
}

int backend_start(const struct config *cfg, struct backend *bk,
		  struct server *s, struct fetch_engine *engine,
		  const struct manifest *m, int restarted,
		  const volatile sig_atomic_t *stop, struct frontend **fe)
{
	int ret;

	if (bk->nbd)
		return start_nbd(cfg, bk, s, engine, m, restarted, stop, fe) ? -1 : 0;
	ret = fe_cachefiles_attach(fe, s, bk->devfd);
	if (ret) {
		log_err("out of memory");
		return -1;
	}
	/* Requests the last worker took are delivered again; new OPENs follow. */
	if (restarted && bk->restartable) {
		ret = cf_restore(bk->devfd);
		if (ret) {
			log_err("cachefiles: restore: %s", strerror(-ret));
			return -1;
		}
		log_info("cachefiles: restored: the kernel sends again what the last worker left unanswered");
	}
	return 0;
}
