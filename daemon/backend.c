// SPDX-License-Identifier: MIT
/* Which kernel front end serves the image, and starting it. */
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <unistd.h>

#include "backend.h"
#include "fe_nbd.h"
#include "fetch.h"
#include "log.h"
#include "manifest.h"
#include "serve.h"

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
		     const volatile sig_atomic_t *stop, struct frontend **fe)
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
	for (i = 0; i < n; i++)
		log_info("blob %s on /dev/nbd%d", names[i],
			 fe_nbd_index(*fe, i));
	return 0;
}

int backend_start(const struct config *cfg, struct server *s,
		  struct fetch_engine *engine, const struct manifest *m,
		  const volatile sig_atomic_t *stop, struct frontend **fe)
{
	int ret = choose_backend(cfg, s, fe);

	if (ret < 0 || (ret && start_nbd(cfg, s, engine, m, stop, fe)))
		return -1;
	return 0;
}
