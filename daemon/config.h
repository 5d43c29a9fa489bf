/* SPDX-License-Identifier: MIT */
/* Daemon configuration from flags and the kernel command line. */
#ifndef LAZYROOT_CONFIG_H
#define LAZYROOT_CONFIG_H

#include <stddef.h>
#include <stdint.h>

#define CONFIG_URL_MAX 2048
#define CONFIG_PATH_MAX 1024
#define CONFIG_TAG_MAX 32
#define CONFIG_FSID_MAX 255
#define CONFIG_DIGEST_PREFIX "sha256:"
#define CONFIG_DEFAULT_KEY "/etc/lazyroot/image-key.pem"

struct config {
	char url[CONFIG_URL_MAX];	/* base URL, blobs are <url>/<name> */
	char ca_file[CONFIG_PATH_MAX];	/* PEM bundle; empty: use defaults */
	char cache_dir[CONFIG_PATH_MAX];
	char tag[CONFIG_TAG_MAX + 1];
	char store_dir[CONFIG_PATH_MAX];	/* empty: no store across boots */
	char error_file[CONFIG_PATH_MAX];
	/*
	 * A verified image: the manifest <url>/<fsid>.manifest must have this
	 * sha256 ("sha256:" and 64 hex digits); empty: a plain image.
	 */
	char digest[80];
	/*
	 * Or (and) a PEM public key that must sign <fsid>.manifest; default
	 * CONFIG_DEFAULT_KEY when the initramfs has one.
	 */
	char key_file[CONFIG_PATH_MAX];
	char fsid[CONFIG_FSID_MAX + 1];
	char cmdline_file[CONFIG_PATH_MAX];
	/*
	 * How the kernel asks for blocks: "fscache" (cachefiles on-demand),
	 * "nbd" (block devices), or "auto" (empty: fscache where the kernel
	 * has it); --backend, erofs.backend=.
	 */
	char backend[16];
	char nbd_map[CONFIG_PATH_MAX];	/* --nbd-map: "NAME /dev/nbdN" lines */
	/*
	 * NBD: bytes of fetched pages kept in RAM (--ram-cache,
	 * erofs.cachesize=); 0: the default, 4 GiB or half the RAM.
	 */
	uint64_t ram_cache;
	/*
	 * How long a request may fail on every mirror without progress; then
	 * onerror "wait" (the default, empty too) says so once and retries
	 * until a mirror answers, "fail" fails it (an I/O error for the
	 * reader) and later ones after one round; --onerror, erofs.onerror=.
	 */
	unsigned int timeout_s;
	char onerror[8];
	/*
	 * "off": no prefetch list is fetched or streamed (a boot whose record
	 * should hold all it reads); "on" or empty: the default, on;
	 * --prefetch, erofs.prefetch=.
	 */
	char prefetch[8];
	/*
	 * "on": fetch the rest of the image once boot is over (fill.h); "off"
	 * or empty: the default, off; --fill, erofs.fill=.
	 */
	char fill[8];
	/* bytes a second the fill may take (--fill-rate, erofs.fillrate=; 4M) */
	uint64_t fill_rate;
	unsigned int connections;	/* parallel HTTP connections */
	int foreground;
	int verbose;
};

void config_init(struct config *cfg);

/* erofs.onerror=: 1 for wait (the default), 0 for fail. */
int config_waits(const struct config *cfg);

/* erofs.prefetch=: 1 for on (the default), 0 for off. */
int config_prefetches(const struct config *cfg);

/* erofs.fill=: 1 for on, 0 for off (the default). */
int config_fills(const struct config *cfg);

#define CONFIG_CMDLINE_MAX 8192

/*
 * The whole configuration: flags, then what they leave unset from the
 * kernel command line (--cmdline), checked. Returns 1 to go on, 0 when the
 * caller should exit successfully (--help, --version), or -EINVAL after
 * one error line.
 */
int config_load(struct config *cfg, int argc, char **argv);

/*
 * Parses flags into @cfg. Returns 1 to go on, 0 when the caller should
 * exit successfully (--help, --version), or -EINVAL after one error line.
 */
int config_parse_args(struct config *cfg, int argc, char **argv);

/*
 * Fills what the flags left unset from erofs.url=, erofs.ca=,
 * erofs.timeout=, erofs.onerror=, erofs.fsid=, erofs.digest=, erofs.key=,
 * erofs.backend=, erofs.cachesize=, erofs.prefetch=, erofs.fill= and
 * erofs.fillrate= on @cmdline. Returns 0, or -EINVAL
 * after one error line.
 */
int config_apply_cmdline(struct config *cfg, const char *cmdline);

/* Checks the merged configuration. Returns 0, or -EINVAL after one line. */
int config_validate(const struct config *cfg);

/*
 * Parses a size as erofs.cachesize= takes it: digits and an optional K, M,
 * G or T, in 16M..1T. Returns 0, or -EINVAL with *why saying what is wrong.
 */
int parse_size(const char *s, uint64_t *out, const char **why);

/*
 * Parses a rate as erofs.fillrate= takes it: bytes a second, digits and an
 * optional K, M or G, in 64K..10G. Returns 0, or -EINVAL with *why.
 */
int parse_rate(const char *s, uint64_t *out, const char **why);

/* The RAM cache's default size: 4 GiB, or half the RAM when that is less. */
uint64_t config_default_ram_cache(void);

/* Parses a decimal number in [min, max]; returns 0 or -EINVAL. */
int parse_uint(const char *s, unsigned int min, unsigned int max,
	       unsigned int *out);

#endif
