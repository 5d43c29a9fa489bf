// SPDX-License-Identifier: MIT
/* Flags and kernel command line into a checked configuration. */
#include <errno.h>
#include <string.h>

#include "check.h"
#include "config.h"

static void test_apply(void)
{
	struct config c;

	config_init(&c);
	strcpy(c.cache_dir, "/run/cache");
	CHECK(config_apply_cmdline(&c, "erofs.fsid=r erofs.url=https://10.0.2.2:8443/img/ erofs.ca=/etc/ca.pem erofs.timeout=15") == 0);
	CHECK_STR(c.url, "https://10.0.2.2:8443/img/");
	CHECK_STR(c.ca_file, "/etc/ca.pem");
	CHECK(c.timeout_s == 15);
	CHECK(config_validate(&c) == 0);

	/* flags win over the command line */
	config_init(&c);
	strcpy(c.url, "https://flag/");
	c.timeout_s = 3;
	CHECK(config_apply_cmdline(&c, "erofs.url=https://cmdline/ erofs.timeout=9") == 0);
	CHECK_STR(c.url, "https://flag/");
	CHECK(c.timeout_s == 3);

	config_init(&c);
	CHECK(config_apply_cmdline(&c, "quiet") == 0);
	CHECK(c.timeout_s == 60);
	CHECK(c.connections == 4);
	strcpy(c.cache_dir, "/c");
	CHECK(config_validate(&c) == -EINVAL); /* no URL */

	config_init(&c);
	CHECK(config_apply_cmdline(&c, "erofs.timeout=0") == -EINVAL);
	config_init(&c);
	CHECK(config_apply_cmdline(&c, "erofs.timeout= x") == 0);
	CHECK(c.timeout_s == 60);
	config_init(&c);
	CHECK(config_apply_cmdline(&c, "erofs.timeout=10s") == -EINVAL);
	config_init(&c);
	CHECK(config_apply_cmdline(&c, "erofs.timeout=99999999999") == -EINVAL);

	/* every mirror down: wait by default (also when empty), or fail */
	config_init(&c);
	strcpy(c.cache_dir, "/c");
	CHECK(config_apply_cmdline(&c, "erofs.url=https://h/") == 0);
	CHECK(config_waits(&c) && config_validate(&c) == 0);
	config_init(&c);
	strcpy(c.cache_dir, "/c");
	CHECK(config_apply_cmdline(&c, "erofs.url=https://h/ erofs.onerror=") == 0);
	CHECK(config_waits(&c) && config_validate(&c) == 0);
	config_init(&c);
	strcpy(c.cache_dir, "/c");
	CHECK(config_apply_cmdline(&c, "erofs.url=https://h/ erofs.onerror=fail") == 0);
	CHECK(!config_waits(&c) && config_validate(&c) == 0);
	config_init(&c);
	strcpy(c.cache_dir, "/c");
	CHECK(config_apply_cmdline(&c, "erofs.url=https://h/ erofs.onerror=wait") == 0);
	CHECK(config_waits(&c) && config_validate(&c) == 0);
	config_init(&c);
	strcpy(c.cache_dir, "/c");
	CHECK(config_apply_cmdline(&c, "erofs.url=https://h/ erofs.onerror=soft") == 0);
	CHECK(config_validate(&c) == -EINVAL);
	config_init(&c);
	CHECK(config_apply_cmdline(&c, "erofs.onerror=waitforever") == -EINVAL); /* too long */

	/* prefetch: on by default (also when empty), or off */
	config_init(&c);
	strcpy(c.cache_dir, "/c");
	CHECK(config_apply_cmdline(&c, "erofs.url=https://h/ erofs.prefetch=") == 0);
	CHECK(config_prefetches(&c) && config_validate(&c) == 0);
	config_init(&c);
	strcpy(c.cache_dir, "/c");
	CHECK(config_apply_cmdline(&c, "erofs.url=https://h/ erofs.prefetch=off") == 0);
	CHECK(!config_prefetches(&c) && config_validate(&c) == 0);
	config_init(&c);
	strcpy(c.cache_dir, "/c");
	CHECK(config_apply_cmdline(&c, "erofs.url=https://h/ erofs.prefetch=on") == 0);
	CHECK(config_prefetches(&c) && config_validate(&c) == 0);
	config_init(&c);
	strcpy(c.cache_dir, "/c");
	CHECK(config_apply_cmdline(&c, "erofs.url=https://h/ erofs.prefetch=yes") == 0);
	CHECK(config_validate(&c) == -EINVAL);
	/* a flag wins over the command line */
	{
		char *off[] = { "lazyrootd", "--prefetch", "off", NULL };

		config_init(&c);
		strcpy(c.cache_dir, "/c");
		CHECK(config_parse_args(&c, 3, off) == 1);
		CHECK(config_apply_cmdline(&c, "erofs.url=https://h/ erofs.prefetch=on") == 0);
		CHECK(!config_prefetches(&c) && config_validate(&c) == 0);
	}
}

static int validate_url(const char *url)
{
	struct config c;

	config_init(&c);
	strcpy(c.cache_dir, "/c");
	strcpy(c.url, url);
	c.timeout_s = 1;
	return config_validate(&c);
}

static void test_validate(void)
{
	struct config c;

	CHECK(validate_url("https://boot.example/images/") == 0);
	CHECK(validate_url("HTTPS://[::1]:8443/x") == 0);
	CHECK(validate_url("http://boot.example/") == -EINVAL);
	CHECK(validate_url("ftp://boot.example/") == -EINVAL);
	CHECK(validate_url("https://") == -EINVAL);
	CHECK(validate_url("https:///path") == -EINVAL);
	CHECK(validate_url("https://a/b c") == -EINVAL);
	CHECK(validate_url("https://a/?q=1") == -EINVAL);
	CHECK(validate_url("https://a/\x7f") == -EINVAL);
	/* mirrors: a comma-separated list of 1..8, each checked */
	CHECK(validate_url("https://a/img/,https://b:8443/img") == 0);
	CHECK(validate_url("https://a/,https://b/,https://c/,https://d/,https://e/,https://f/,https://g/,https://h/") == 0);
	CHECK(validate_url("https://a/,https://b/,https://c/,https://d/,https://e/,https://f/,https://g/,https://h/,https://i/") == -EINVAL);
	CHECK(validate_url("https://a/,http://b/") == -EINVAL);
	CHECK(validate_url("https://a/,") == -EINVAL);
	CHECK(validate_url(",https://a/") == -EINVAL);
	CHECK(validate_url("https://a/,,https://b/") == -EINVAL);
	CHECK(validate_url("https://a/,https://") == -EINVAL);

	config_init(&c);
	strcpy(c.url, "https://a/");
	CHECK(config_validate(&c) == -EINVAL); /* no cache dir */
	strcpy(c.cache_dir, "relative");
	CHECK(config_validate(&c) == -EINVAL);
	strcpy(c.cache_dir, "/c");
	strcpy(c.ca_file, "ca.pem");
	CHECK(config_validate(&c) == -EINVAL);
	strcpy(c.ca_file, "/ca.pem");
	strcpy(c.tag, "bad tag");
	CHECK(config_validate(&c) == -EINVAL);
	strcpy(c.tag, "");
	CHECK(config_validate(&c) == -EINVAL);
	strcpy(c.tag, "ok-tag_1.2");
	CHECK(config_validate(&c) == 0);
}

static void test_args(void)
{
	struct config c;
	char *ok[] = { "lazyrootd", "--cache-dir", "/c", "--url", "https://a/",
		       "--timeout", "5", "--connections", "8", "--foreground",
		       "--onerror", "fail", NULL };
	char *bad_timeout[] = { "lazyrootd", "--timeout", "5x", NULL };
	char *bad_conns[] = { "lazyrootd", "--connections", "0", NULL };
	char *unknown[] = { "lazyrootd", "--insecure", NULL };
	char *extra[] = { "lazyrootd", "stray", NULL };
	char *missing[] = { "lazyrootd", "--url", NULL };
	char longurl[CONFIG_URL_MAX + 10];
	char *toolong[] = { "lazyrootd", "--url", longurl, NULL };

	config_init(&c);
	CHECK(config_parse_args(&c, 12, ok) == 1);
	CHECK_STR(c.cache_dir, "/c");
	CHECK_STR(c.url, "https://a/");
	CHECK(c.timeout_s == 5 && c.connections == 8 && c.foreground);
	CHECK(!config_waits(&c));

	config_init(&c);
	CHECK(config_parse_args(&c, 3, bad_timeout) == -EINVAL);
	config_init(&c);
	CHECK(config_parse_args(&c, 3, bad_conns) == -EINVAL);
	config_init(&c);
	CHECK(config_parse_args(&c, 2, unknown) == -EINVAL);
	config_init(&c);
	CHECK(config_parse_args(&c, 2, extra) == -EINVAL);
	config_init(&c);
	CHECK(config_parse_args(&c, 2, missing) == -EINVAL);
	memset(longurl, 'a', sizeof(longurl) - 1);
	longurl[sizeof(longurl) - 1] = '\0';
	config_init(&c);
	CHECK(config_parse_args(&c, 3, toolong) == -EINVAL);
}

/* erofs.digest= and erofs.fsid=: a verified image's manifest. */
static int validate_digest(const char *cmdline)
{
	struct config c;

	config_init(&c);
	strcpy(c.cache_dir, "/c");
	if (config_apply_cmdline(&c, cmdline))
		return -E2BIG;
	return config_validate(&c);
}

static void test_digest(void)
{
	const char *hex = "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08";
	char line[512], longfsid[300];
	struct config c;
	char *argv[] = { "lazyrootd", "--digest", line, "--fsid", "f", NULL };

	snprintf(line, sizeof(line), "erofs.url=https://a/ erofs.fsid=rootfs-v erofs.digest=sha256:%s", hex);
	CHECK(validate_digest(line) == 0);
	config_init(&c);
	CHECK(config_apply_cmdline(&c, line) == 0);
	CHECK_STR(c.fsid, "rootfs-v");
	CHECK(strcmp(c.digest + 7, hex) == 0);
	/* a plain image needs neither; a weird fsid matters only with a digest */
	CHECK(validate_digest("erofs.url=https://a/ erofs.fsid=../x") == 0);
	snprintf(line, sizeof(line), "erofs.url=https://a/ erofs.digest=sha256:%s", hex);
	CHECK(validate_digest(line) == -EINVAL); /* no fsid */
	snprintf(line, sizeof(line), "erofs.url=https://a/ erofs.fsid=../x erofs.digest=sha256:%s", hex);
	CHECK(validate_digest(line) == -EINVAL);
	memset(longfsid, 'a', 250);
	longfsid[250] = '\0';
	snprintf(line, sizeof(line), "erofs.url=https://a/ erofs.fsid=%s erofs.digest=sha256:%s", longfsid, hex);
	CHECK(validate_digest(line) == -EINVAL); /* NAME.manifest too long */
	CHECK(validate_digest("erofs.url=https://a/ erofs.fsid=f erofs.digest=md5:00") == -EINVAL);
	snprintf(line, sizeof(line), "erofs.url=https://a/ erofs.fsid=f erofs.digest=%s", hex);
	CHECK(validate_digest(line) == -EINVAL); /* no sha256: prefix */
	snprintf(line, sizeof(line), "erofs.url=https://a/ erofs.fsid=f erofs.digest=sha256:%.63s", hex);
	CHECK(validate_digest(line) == -EINVAL); /* 63 digits */
	snprintf(line, sizeof(line), "erofs.url=https://a/ erofs.fsid=f erofs.digest=sha256:%sa", hex);
	CHECK(validate_digest(line) == -EINVAL); /* 65 digits */
	CHECK(validate_digest("erofs.url=https://a/ erofs.fsid=f erofs.digest=sha256:9F86D081884C7D659A2FEAA0C55AD015A3BF4F1B2B0B822CD15D6C15B0F00A08") == -EINVAL);
	/* erofs.key=: an absolute path, and an fsid to name the manifest */
	CHECK(validate_digest("erofs.url=https://a/ erofs.fsid=f erofs.key=/etc/lazyroot/image-key.pem") == 0);
	CHECK(validate_digest("erofs.url=https://a/ erofs.key=/etc/lazyroot/image-key.pem") == -EINVAL);
	CHECK(validate_digest("erofs.url=https://a/ erofs.fsid=f erofs.key=image-key.pem") == -EINVAL);
	snprintf(line, sizeof(line), "erofs.url=https://a/ erofs.fsid=f erofs.key=/k.pem erofs.digest=sha256:%s", hex);
	CHECK(validate_digest(line) == 0);
	/* flags win over the command line */
	snprintf(line, sizeof(line), "sha256:%s", hex);
	config_init(&c);
	CHECK(config_parse_args(&c, 5, argv) == 1);
	CHECK(config_apply_cmdline(&c, "erofs.fsid=g erofs.digest=sha256:00") == 0);
	CHECK_STR(c.fsid, "f");
	CHECK_STR(c.digest, line);
}

/* erofs.cachesize= and --ram-cache take what the initramfs takes. */
static void test_size(void)
{
	struct config c;
	const char *why;
	uint64_t v;

	CHECK(parse_size("4G", &v, &why) == 0 && v == 4ULL << 30);
	CHECK(parse_size("16m", &v, &why) == 0 && v == 16ULL << 20);
	CHECK(parse_size("0016M", &v, &why) == 0 && v == 16ULL << 20);
	CHECK(parse_size("1T", &v, &why) == 0 && v == 1ULL << 40);
	CHECK(parse_size("1099511627776", &v, &why) == 0 && v == 1ULL << 40);
	CHECK(parse_size("1025G", &v, &why) == -EINVAL);
	CHECK_STR(why, "too large (at most 1T)");
	CHECK(parse_size("9999999999999999K", &v, &why) == -EINVAL);
	CHECK_STR(why, "too large (at most 1T)");
	CHECK(parse_size("15M", &v, &why) == -EINVAL);
	CHECK_STR(why, "too small (at least 16M)");
	CHECK(parse_size("4 ", &v, &why) == -EINVAL);
	CHECK_STR(why, "expected a size like 4G (digits and an optional K, M, G or T)");
	CHECK(parse_size("G", &v, &why) == -EINVAL);
	CHECK(parse_size("", &v, &why) == -EINVAL);
	CHECK(parse_size("4X", &v, &why) == -EINVAL);
	CHECK(parse_size("-4G", &v, &why) == -EINVAL);

	config_init(&c);
	CHECK(config_apply_cmdline(&c, "erofs.cachesize=64M") == 0 &&
	      c.ram_cache == 64ULL << 20);
	config_init(&c);
	CHECK(config_apply_cmdline(&c, "erofs.cachesize=") == 0 && c.ram_cache == 0);
	config_init(&c);
	CHECK(config_apply_cmdline(&c, "erofs.cachesize=lots") == -EINVAL);
	CHECK(config_default_ram_cache() >= 1 << 20 &&
	      config_default_ram_cache() <= 4ULL << 30);
}

static void test_fill(void)
{
	struct config c;
	const char *why;
	uint64_t v;
	char *argv[] = { "lazyrootd", "--fill", "on", "--fill-rate", "1M",
			 "--cache-dir", "/c", NULL };

	CHECK(parse_rate("4M", &v, &why) == 0 && v == 4ULL << 20);
	CHECK(parse_rate("64k", &v, &why) == 0 && v == 64ULL << 10);
	CHECK(parse_rate("10G", &v, &why) == 0 && v == 10ULL << 30);
	CHECK(parse_rate("1048576", &v, &why) == 0 && v == 1ULL << 20);
	CHECK(parse_rate("63K", &v, &why) == -EINVAL);
	CHECK_STR(why, "outside 64K..10G (bytes a second)");
	CHECK(parse_rate("11G", &v, &why) == -EINVAL);
	CHECK_STR(why, "outside 64K..10G (bytes a second)");
	CHECK(parse_rate("99999999999999999999", &v, &why) == -EINVAL);
	CHECK_STR(why, "outside 64K..10G (bytes a second)");
	CHECK(parse_rate("4MB", &v, &why) == -EINVAL);
	CHECK_STR(why, "expected bytes a second like 4M (digits and an optional K, M or G)");
	CHECK(parse_rate("", &v, &why) == -EINVAL);
	CHECK(parse_rate("-1M", &v, &why) == -EINVAL);
	CHECK(parse_rate("4M/s", &v, &why) == -EINVAL);

	/* off by default, the rate 4M */
	config_init(&c);
	CHECK(config_apply_cmdline(&c, "erofs.url=https://h/") == 0);
	CHECK(!config_fills(&c) && c.fill_rate == 4ULL << 20);
	config_init(&c);
	CHECK(config_apply_cmdline(&c, "erofs.fill=on erofs.fillrate=512K") == 0);
	CHECK(config_fills(&c) && c.fill_rate == 512ULL << 10);
	config_init(&c);
	CHECK(config_apply_cmdline(&c, "erofs.fill=off erofs.fillrate=") == 0);
	CHECK(!config_fills(&c) && c.fill_rate == 4ULL << 20);
	config_init(&c);
	CHECK(config_apply_cmdline(&c, "erofs.fillrate=fast") == -EINVAL);
	config_init(&c);
	CHECK(config_apply_cmdline(&c, "erofs.fillrate=1K") == -EINVAL);
	config_init(&c);
	CHECK(config_apply_cmdline(&c, "erofs.fillrate=123456789012345678901234567890123") == -EINVAL);
	config_init(&c);
	CHECK(config_apply_cmdline(&c, "erofs.fill=maybe erofs.url=https://h/") == 0);
	strcpy(c.cache_dir, "/c");
	CHECK(config_validate(&c) == -EINVAL);
	config_init(&c);
	CHECK(config_apply_cmdline(&c, "erofs.fill=onandonandon") == -EINVAL);

	/* flags win over the command line */
	config_init(&c);
	CHECK(config_parse_args(&c, 7, argv) == 1);
	CHECK(config_apply_cmdline(&c, "erofs.fill=off erofs.fillrate=8M") == 0);
	CHECK(config_fills(&c) && c.fill_rate == 1ULL << 20);
}

int main(void)
{
	test_apply();
	test_validate();
	test_args();
	test_digest();
	test_size();
	test_fill();
	return check_report("test_config");
}
