// SPDX-License-Identifier: MIT
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <strings.h>
#include <sys/sysinfo.h>

#include "cmdline.h"
#include "config.h"
#include "fill.h"
#include "io.h"
#include "log.h"
#include "url.h"

#define DEFAULT_TIMEOUT_S 60
#define DEFAULT_CONNECTIONS 4

void config_init(struct config *cfg)
{
	memset(cfg, 0, sizeof(*cfg));
	strcpy(cfg->tag, "lazyroot");
	strcpy(cfg->cmdline_file, "/proc/cmdline");
	cfg->connections = DEFAULT_CONNECTIONS;
}

int config_waits(const struct config *cfg)
{
	return strcmp(cfg->onerror, "fail") != 0;
}

int config_prefetches(const struct config *cfg)
{
	return strcmp(cfg->prefetch, "off") != 0;
}

int parse_uint(const char *s, unsigned int min, unsigned int max,
	       unsigned int *out)
{
	unsigned long v = 0;

	if (!*s || strlen(s) > 9)
		return -EINVAL;
	for (; *s; s++) {
		if (*s < '0' || *s > '9')
			return -EINVAL;
		v = v * 10 + (unsigned long)(*s - '0');
	}
	if (v < min || v > max)
		return -EINVAL;
	*out = (unsigned int)v;
	return 0;
}

/*
 * Digits and an optional K, M, G or T (binary, either case) into bytes:
 * 0, -EINVAL (not that form) or -ERANGE (past 1T, or outside [min, max]).
 */
static int parse_bytes(const char *s, uint64_t min, uint64_t max,
		       uint64_t *out)
{
	static const char units[] = "KMGT";
	uint64_t v = 0;
	unsigned int shift = 0;
	size_t i, n = strlen(s);
	const char *u;
	char c = n ? (char)(s[n - 1] & ~0x20) : 0;

	if (c >= 'A' && c <= 'Z' && (u = strchr(units, c))) {
		shift = (unsigned int)(u - units + 1) * 10;
		n--;
	}
	for (i = 0; i < n; i++)
		if (s[i] < '0' || s[i] > '9')
			break;
	if (!n || i < n)
		return -EINVAL;
	while (n > 1 && *s == '0') {
		s++;
		n--;
	}
	for (i = 0; i < n && i < 16; i++)
		v = v * 10 + (uint64_t)(s[i] - '0');
	if (n > 15 || v > (1ULL << 40) >> shift)
		return -ERANGE;
	v <<= shift;
	if (v < min || v > max)
		return -ERANGE;
	*out = v;
	return 0;
}

int parse_size(const char *s, uint64_t *out, const char **why)
{
	uint64_t v = 0;
	int ret = parse_bytes(s, 0, 1ULL << 40, &v);

	if (ret == -EINVAL) {
		*why = "expected a size like 4G (digits and an optional K, M, G or T)";
		return -EINVAL;
	}
	if (ret) {
		*why = "too large (at most 1T)";
		return -EINVAL;
	}
	if (v < (16ULL << 20)) {
		*why = "too small (at least 16M)";
		return -EINVAL;
	}
	*out = v;
	return 0;
}

int parse_rate(const char *s, uint64_t *out, const char **why)
{
	int ret = parse_bytes(s, FILL_RATE_MIN, FILL_RATE_MAX, out);

	if (ret == -EINVAL)
		*why = "expected bytes a second like 4M (digits and an optional K, M or G)";
	else if (ret)
		*why = "outside 64K..10G (bytes a second)";
	return ret ? -EINVAL : 0;
}

int config_fills(const struct config *cfg)
{
	return !strcmp(cfg->fill, "on");
}

uint64_t config_default_ram_cache(void)
{
	struct sysinfo si;
	uint64_t half;

	if (sysinfo(&si))
		return 4ULL << 30;
	half = (uint64_t)si.totalram * si.mem_unit / 2;
	return half < (4ULL << 30) ? half : 4ULL << 30;
}

static int set_string(char *dst, size_t size, const char *what, const char *v)
{
	if (strlen(v) >= size) {
		log_err("%s is too long (%zu bytes, at most %zu)", what,
			strlen(v), size - 1);
		return -EINVAL;
	}
	strcpy(dst, v);
	return 0;
}

static void usage(void)
{
	printf("usage: lazyrootd --cache-dir DIR [options]\n"
	       "Serves an EROFS image from an HTTPS server to the kernel's\n"
	       "cachefiles on-demand mode.\n\n"
	       "  --cache-dir DIR    cache directory (not on tmpfs)\n"
	       "  --url URL[,URL...] base URL, or mirrors tried in order (default: erofs.url=)\n"
	       "  --ca FILE          PEM CA bundle (default: erofs.ca=, then /etc/lazyroot/ca.pem,\n"
	       "                     then /etc/ssl/certs/ca-certificates.crt)\n"
	       "  --timeout SEC      after SEC seconds of every mirror failing, say that reads\n"
	       "                     wait, or with --onerror fail fail them (erofs.timeout=, 60)\n"
	       "  --onerror WHAT     every mirror down: wait (as an NFS hard mount) or fail\n"
	       "                     (erofs.onerror=, wait)\n"
	       "  --connections N    parallel HTTPS connections (4)\n"
	       "  --prefetch on|off  stream the image's prefetch list first (erofs.prefetch=, on)\n"
	       "  --fill on|off      fetch the rest of the image once boot is over (erofs.fill=, off)\n"
	       "  --fill-rate RATE   at most RATE bytes a second, e.g. 4M (erofs.fillrate=, 4M)\n"
	       "  --tag TAG          cachefiles tag (lazyroot)\n"
	       "  --store-dir DIR    keep fetched pages in DIR across boots (a local disk)\n"
	       "  --ram-cache SIZE   nbd: keep up to SIZE of fetched pages in RAM\n"
	       "                     (erofs.cachesize=; 4G, or half the RAM if less)\n"
	       "  --digest sha256:HEX  serve the verified image whose manifest\n"
	       "                     <url>/<fsid>.manifest has this sha256 (erofs.digest=)\n"
	       "  --key FILE         serve the verified image whose manifest is signed by\n"
	       "                     this PEM public key (erofs.key=; default " CONFIG_DEFAULT_KEY "\n"
	       "                     if it exists)\n"
	       "  --fsid NAME        the image's fsid (erofs.fsid=); needed with --digest, --key\n"
	       "  --backend B        auto, fscache or nbd (erofs.backend=; auto)\n"
	       "  --nbd-map FILE     nbd: write \"NAME /dev/nbdN\" lines to FILE once ready\n"
	       "  --error-file FILE  write why the last OPEN failed to FILE\n"
	       "  --cmdline FILE     read the kernel command line from FILE (/proc/cmdline)\n"
	       "  --foreground       do not fork once ready\n"
	       "  --verbose          log every request\n");
}

int config_parse_args(struct config *cfg, int argc, char **argv)
{
	enum { OPT_CACHE_DIR = 256, OPT_URL, OPT_CA, OPT_TIMEOUT, OPT_CONNS,
	       OPT_TAG, OPT_STORE_DIR, OPT_ERROR_FILE, OPT_CMDLINE, OPT_FOREGROUND,
	       OPT_VERBOSE, OPT_HELP, OPT_VERSION, OPT_DIGEST, OPT_FSID,
	       OPT_KEY, OPT_BACKEND, OPT_NBD_MAP, OPT_RAM_CACHE, OPT_ONERROR,
	       OPT_PREFETCH, OPT_FILL, OPT_FILL_RATE };
	static const struct option opts[] = {
		{ "cache-dir", required_argument, NULL, OPT_CACHE_DIR },
		{ "url", required_argument, NULL, OPT_URL },
		{ "ca", required_argument, NULL, OPT_CA },
		{ "timeout", required_argument, NULL, OPT_TIMEOUT },
		{ "onerror", required_argument, NULL, OPT_ONERROR },
		{ "prefetch", required_argument, NULL, OPT_PREFETCH },
		{ "fill", required_argument, NULL, OPT_FILL },
		{ "fill-rate", required_argument, NULL, OPT_FILL_RATE },
		{ "connections", required_argument, NULL, OPT_CONNS },
		{ "tag", required_argument, NULL, OPT_TAG },
		{ "store-dir", required_argument, NULL, OPT_STORE_DIR },
		{ "digest", required_argument, NULL, OPT_DIGEST },
		{ "fsid", required_argument, NULL, OPT_FSID },
		{ "key", required_argument, NULL, OPT_KEY },
		{ "backend", required_argument, NULL, OPT_BACKEND },
		{ "nbd-map", required_argument, NULL, OPT_NBD_MAP },
		{ "ram-cache", required_argument, NULL, OPT_RAM_CACHE },
		{ "error-file", required_argument, NULL, OPT_ERROR_FILE },
		{ "cmdline", required_argument, NULL, OPT_CMDLINE },
		{ "foreground", no_argument, NULL, OPT_FOREGROUND },
		{ "verbose", no_argument, NULL, OPT_VERBOSE },
		{ "help", no_argument, NULL, OPT_HELP },
		{ "version", no_argument, NULL, OPT_VERSION },
		{ NULL, 0, NULL, 0 },
	};
	const char *why;
	int c, ret = 0;

	optind = 1;
	opterr = 0;
	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (c) {
		case OPT_CACHE_DIR:
			ret = set_string(cfg->cache_dir, sizeof(cfg->cache_dir),
					 "--cache-dir", optarg);
			break;
		case OPT_URL:
			ret = set_string(cfg->url, sizeof(cfg->url), "--url",
					 optarg);
			break;
		case OPT_CA:
			ret = set_string(cfg->ca_file, sizeof(cfg->ca_file),
					 "--ca", optarg);
			break;
		case OPT_TIMEOUT:
			if (parse_uint(optarg, 1, 86400, &cfg->timeout_s)) {
				log_err("--timeout %s: not a number of seconds in 1..86400",
					optarg);
				ret = -EINVAL;
			}
			break;
		case OPT_ONERROR:
			ret = set_string(cfg->onerror, sizeof(cfg->onerror),
					 "--onerror", optarg);
			break;
		case OPT_PREFETCH:
			ret = set_string(cfg->prefetch, sizeof(cfg->prefetch),
					 "--prefetch", optarg);
			break;
		case OPT_FILL:
			ret = set_string(cfg->fill, sizeof(cfg->fill), "--fill",
					 optarg);
			break;
		case OPT_FILL_RATE:
			ret = parse_rate(optarg, &cfg->fill_rate, &why);
			if (ret)
				log_err("--fill-rate %s: %s", optarg, why);
			break;
		case OPT_CONNS:
			if (parse_uint(optarg, 1, 64, &cfg->connections)) {
				log_err("--connections %s: not a number in 1..64",
					optarg);
				ret = -EINVAL;
			}
			break;
		case OPT_TAG:
			ret = set_string(cfg->tag, sizeof(cfg->tag), "--tag",
					 optarg);
			break;
		case OPT_STORE_DIR:
			ret = set_string(cfg->store_dir, sizeof(cfg->store_dir),
					 "--store-dir", optarg);
			break;
		case OPT_DIGEST:
			ret = set_string(cfg->digest, sizeof(cfg->digest),
					 "--digest", optarg);
			break;
		case OPT_KEY:
			ret = set_string(cfg->key_file, sizeof(cfg->key_file),
					 "--key", optarg);
			break;
		case OPT_BACKEND:
			ret = set_string(cfg->backend, sizeof(cfg->backend),
					 "--backend", optarg);
			break;
		case OPT_NBD_MAP:
			ret = set_string(cfg->nbd_map, sizeof(cfg->nbd_map),
					 "--nbd-map", optarg);
			break;
		case OPT_RAM_CACHE:
			ret = parse_size(optarg, &cfg->ram_cache, &why);
			if (ret)
				log_err("--ram-cache %s: %s", optarg, why);
			break;
		case OPT_FSID:
			ret = set_string(cfg->fsid, sizeof(cfg->fsid), "--fsid",
					 optarg);
			break;
		case OPT_ERROR_FILE:
			ret = set_string(cfg->error_file,
					 sizeof(cfg->error_file),
					 "--error-file", optarg);
			break;
		case OPT_CMDLINE:
			ret = set_string(cfg->cmdline_file,
					 sizeof(cfg->cmdline_file), "--cmdline",
					 optarg);
			break;
		case OPT_FOREGROUND:
			cfg->foreground = 1;
			break;
		case OPT_VERBOSE:
			cfg->verbose = 1;
			break;
		case OPT_HELP:
			usage();
			return 0;
		case OPT_VERSION:
			printf("lazyrootd " LAZYROOT_VERSION "\n");
			return 0;
		default:
			log_err("unknown or incomplete option '%s' (see --help)",
				argv[optind - 1]);
			return -EINVAL;
		}
		if (ret)
			return ret;
	}
	if (optind < argc) {
		log_err("unexpected argument '%s' (see --help)", argv[optind]);
		return -EINVAL;
	}
	return 1;
}

static int apply_one(const char *cmdline, const char *key, char *dst,
		     size_t size)
{
	int ret;

	if (*dst)
		return 0; /* a flag wins over the command line */
	ret = cmdline_get(cmdline, key, dst, size);
	if (ret == -ENAMETOOLONG) {
		log_err("%s= on the kernel command line is too long (at most %zu bytes)",
			key, size - 1);
		return -EINVAL;
	}
	return 0;
}

int config_apply_cmdline(struct config *cfg, const char *cmdline)
{
	char v[16];
	int ret;

	if (apply_one(cmdline, "erofs.url", cfg->url, sizeof(cfg->url)) ||
	    apply_one(cmdline, "erofs.ca", cfg->ca_file, sizeof(cfg->ca_file)) ||
	    apply_one(cmdline, "erofs.digest", cfg->digest, sizeof(cfg->digest)) ||
	    apply_one(cmdline, "erofs.key", cfg->key_file, sizeof(cfg->key_file)) ||
	    apply_one(cmdline, "erofs.fsid", cfg->fsid, sizeof(cfg->fsid)) ||
	    apply_one(cmdline, "erofs.backend", cfg->backend,
		      sizeof(cfg->backend)) ||
	    apply_one(cmdline, "erofs.onerror", cfg->onerror,
		      sizeof(cfg->onerror)) ||
	    apply_one(cmdline, "erofs.prefetch", cfg->prefetch,
		      sizeof(cfg->prefetch)) ||
	    apply_one(cmdline, "erofs.fill", cfg->fill, sizeof(cfg->fill)))
		return -EINVAL;
	if (!cfg->timeout_s) {
		ret = cmdline_get(cmdline, "erofs.timeout", v, sizeof(v));
		/* empty: the default, like any parameter left out */
		if (ret && (ret < 0 || (v[0] &&
				       parse_uint(v, 1, 86400, &cfg->timeout_s)))) {
			log_err("erofs.timeout= on the kernel command line is not a number of seconds in 1..86400");
			return -EINVAL;
		}
	}
	if (!cfg->timeout_s)
		cfg->timeout_s = DEFAULT_TIMEOUT_S;
	if (!cfg->ram_cache) {
		const char *why;
		char size[32];

		ret = cmdline_get(cmdline, "erofs.cachesize", size, sizeof(size));
		if (ret < 0 ||
		    (ret && size[0] && parse_size(size, &cfg->ram_cache, &why))) {
			log_err("erofs.cachesize= on the kernel command line: %s",
				ret < 0 ? "too long" : why);
			return -EINVAL;
		}
	}
	if (!cfg->fill_rate) {
		const char *why;
		char rate[32];

		ret = cmdline_get(cmdline, "erofs.fillrate", rate, sizeof(rate));
		if (ret < 0 ||
		    (ret && rate[0] && parse_rate(rate, &cfg->fill_rate, &why))) {
			if (ret < 0)
				log_err("erofs.fillrate= on the kernel command line is too long");
			else
				log_err("erofs.fillrate=%s: %s", rate, why);
			return -EINVAL;
		}
	}
	if (!cfg->fill_rate)
		cfg->fill_rate = FILL_RATE_DEFAULT;
	return 0;
}

/* Characters that never belong in a URL we build requests from. */
static int bad_url_char(unsigned char c)
{
	return c <= 0x20 || c >= 0x7f || c == '"' || c == '\\' || c == '<' ||
	       c == '>' || c == '?' || c == '#';
}

/* One mirror of erofs.url=: https://HOST[:PORT][/PATH], nothing odd in it. */
static int check_one_url(const struct config *cfg, const char *url, size_t len)
{
	char where[CONFIG_URL_MAX + 16] = "";
	size_t i;

	/* In a list, say which entry is wrong. */
	if (len != strlen(cfg->url))
		snprintf(where, sizeof(where), " (entry %.*s)", (int)len, url);
	if (len < 8 || strncasecmp(url, "https://", 8)) {
		log_err("erofs.url=%s: only https:// URLs are supported (the root filesystem must be authenticated)%s",
			cfg->url, where);
		return -EINVAL;
	}
	for (i = 0; i < len; i++) {
		if (bad_url_char((unsigned char)url[i])) {
			log_err("erofs.url=%s: invalid character at offset %zu",
				cfg->url, (size_t)(url + i - cfg->url));
			return -EINVAL;
		}
	}
	if (len == 8 || url[8] == '/' || url[8] == ':') {
		log_err("erofs.url=%s: no host name%s", cfg->url, where);
		return -EINVAL;
	}
	return 0;
}

/*
 * erofs.digest=sha256:HEX or erofs.key=FILE vouch for a manifest, which
 * erofs.fsid= locates.
 */
static int check_verified(const struct config *cfg)
{
	const char *hex = cfg->digest + strlen(CONFIG_DIGEST_PREFIX);
	size_t i;

	if (cfg->digest[0]) {
		if (strncmp(cfg->digest, CONFIG_DIGEST_PREFIX,
			    strlen(CONFIG_DIGEST_PREFIX)) || strlen(hex) != 64)
			goto bad;
		for (i = 0; i < 64; i++)
			if (!((hex[i] >= '0' && hex[i] <= '9') ||
			      (hex[i] >= 'a' && hex[i] <= 'f')))
				goto bad;
	}
	if (cfg->key_file[0] && cfg->key_file[0] != '/') {
		log_err("erofs.key=%s: must be an absolute path", cfg->key_file);
		return -EINVAL;
	}
	if (!cfg->fsid[0]) {
		log_err("erofs.%s= needs erofs.fsid= (or --fsid): the manifest is <url>/<fsid>.manifest",
			cfg->digest[0] ? "digest" : "key");
		return -EINVAL;
	}
	if (url_check_name(cfg->fsid, strlen(cfg->fsid)) ||
	    strlen(cfg->fsid) > CONFIG_FSID_MAX - 9) {
		log_err("erofs.fsid=%s: not a plain file name of at most %d characters",
			cfg->fsid, CONFIG_FSID_MAX - 9);
		return -EINVAL;
	}
	return 0;
bad:
	log_err("erofs.digest=%s: expected sha256: and 64 lower-case hex digits",
		cfg->digest);
	return -EINVAL;
}

int config_validate(const struct config *cfg)
{
	const char *p, *pos = cfg->url, *item;
	size_t len;
	unsigned int n = 0;

	if (!*cfg->url) {
		log_err("no image URL: give erofs.url= on the kernel command line or --url");
		return -EINVAL;
	}
	while (url_list_next(&pos, &item, &len)) {
		if (++n > URL_MIRRORS_MAX) {
			log_err("erofs.url=%s: more than %d mirrors", cfg->url,
				URL_MIRRORS_MAX);
			return -EINVAL;
		}
		if (!len) {
			log_err("erofs.url=%s: empty entry in the mirror list",
				cfg->url);
			return -EINVAL;
		}
		if (check_one_url(cfg, item, len))
			return -EINVAL;
	}
	if (cfg->backend[0] && strcmp(cfg->backend, "auto") &&
	    strcmp(cfg->backend, "fscache") && strcmp(cfg->backend, "nbd")) {
		log_err("erofs.backend=%s: expected auto, fscache or nbd",
			cfg->backend);
		return -EINVAL;
	}
	if (cfg->prefetch[0] && strcmp(cfg->prefetch, "on") &&
	    strcmp(cfg->prefetch, "off")) {
		log_err("erofs.prefetch=%s: expected on or off", cfg->prefetch);
		return -EINVAL;
	}
	if (cfg->fill[0] && strcmp(cfg->fill, "on") && strcmp(cfg->fill, "off")) {
		log_err("erofs.fill=%s: expected on or off", cfg->fill);
		return -EINVAL;
	}
	if (cfg->onerror[0] && strcmp(cfg->onerror, "wait") &&
	    strcmp(cfg->onerror, "fail")) {
		log_err("erofs.onerror=%s: expected wait or fail", cfg->onerror);
		return -EINVAL;
	}
	if (cfg->nbd_map[0] && cfg->nbd_map[0] != '/') {
		log_err("--nbd-map must name an absolute file");
		return -EINVAL;
	}
	/* NBD needs no cache directory: the kernel's page cache is the cache. */
	if (strcmp(cfg->backend, "nbd") &&
	    (!*cfg->cache_dir || cfg->cache_dir[0] != '/')) {
		log_err("--cache-dir must name an absolute directory");
		return -EINVAL;
	}
	if (cfg->store_dir[0] && cfg->store_dir[0] != '/') {
		log_err("--store-dir must name an absolute directory");
		return -EINVAL;
	}
	if (cfg->ca_file[0] && cfg->ca_file[0] != '/') {
		log_err("erofs.ca=%s: must be an absolute path", cfg->ca_file);
		return -EINVAL;
	}
	if ((cfg->digest[0] || cfg->key_file[0]) && check_verified(cfg))
		return -EINVAL;
	if (!*cfg->tag)
		goto bad_tag;
	for (p = cfg->tag; *p; p++) {
		if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
		      (*p >= '0' && *p <= '9') || *p == '-' || *p == '_' ||
		      *p == '.'))
			goto bad_tag;
	}
	return 0;
bad_tag:
	log_err("--tag '%s': use 1..%d letters, digits, '-', '_' or '.'",
		cfg->tag, CONFIG_TAG_MAX);
	return -EINVAL;
}

int config_load(struct config *cfg, int argc, char **argv)
{
	unsigned char *cmdline = NULL;
	ssize_t n;
	int ret;

	config_init(cfg);
	ret = config_parse_args(cfg, argc, argv);
	if (ret <= 0)
		return ret;
	n = io_read_file(cfg->cmdline_file, &cmdline, CONFIG_CMDLINE_MAX);
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
