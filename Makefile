# lazyroot: network boot from an EROFS image on an HTTPS server.
# `make` builds the daemon; `make check` installs what the tests need and
# runs them all; `make demo` boots a VM from a loopback HTTPS image.

VERSION := 0.1.0
CC ?= cc
PKG_CONFIG ?= pkg-config
CFLAGS ?= -O2 -g
WARN := -Wall -Wextra -Werror -Wshadow -Wstrict-prototypes -Wmissing-prototypes -Wformat=2
BASE_CFLAGS := -std=c11 -D_GNU_SOURCE -DLAZYROOT_VERSION='"$(VERSION)"' $(WARN)
CURL_CFLAGS = $(shell $(PKG_CONFIG) --cflags libcurl)
CURL_LIBS = $(shell $(PKG_CONFIG) --libs libcurl)
ZSTD_CFLAGS = $(shell $(PKG_CONFIG) --cflags libzstd)
ZSTD_LIBS = $(shell $(PKG_CONFIG) --libs libzstd)
# Signed manifests: mbedtls's crypto library (no pkg-config file in Debian 12).
ZSTD_LIBS += -lmbedcrypto

DAEMON_SRCS := daemon/cachefiles.c daemon/config.c daemon/fetch.c daemon/store.c \
	daemon/http.c daemon/io.c daemon/log.c daemon/serve.c daemon/url.c \
	daemon/sha256.c daemon/manifest.c daemon/chunk.c daemon/signature.c \
	daemon/verified.c
DAEMON_HDRS := $(wildcard daemon/*.h)
UNIT_TESTS := $(patsubst tests/unit/%.c,%,$(wildcard tests/unit/test_*.c))
SAN := -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=all

.PHONY: all clean install check check-unit check-fuzz check-shell check-vm check-distro deps demo bench fuzz

all: daemon/lazyrootd build/lazyroot-pack

daemon/lazyrootd: $(DAEMON_SRCS) daemon/main.c $(DAEMON_HDRS)
	$(CC) $(BASE_CFLAGS) $(CFLAGS) $(CURL_CFLAGS) $(ZSTD_CFLAGS) -o $@ $(DAEMON_SRCS) daemon/main.c $(CURL_LIBS) $(ZSTD_LIBS)

# Publishes an image as a verified image (lazyroot-mkimage --verified).
PACK_SRCS := daemon/manifest.c daemon/sha256.c daemon/chunk.c daemon/io.c
build/lazyroot-pack: images/lazyroot-pack.c $(PACK_SRCS) $(DAEMON_HDRS)
	@mkdir -p $(@D)
	$(CC) $(BASE_CFLAGS) $(CFLAGS) $(ZSTD_CFLAGS) -Idaemon -o $@ $< $(PACK_SRCS) $(ZSTD_LIBS)

# Unit tests, built plainly and under ASan/UBSan.
build/unit/%: tests/unit/%.c tests/unit/check.h $(DAEMON_SRCS) $(DAEMON_HDRS)
	@mkdir -p $(@D)
	$(CC) $(BASE_CFLAGS) $(CFLAGS) $(CURL_CFLAGS) $(ZSTD_CFLAGS) -Idaemon -o $@ $< $(DAEMON_SRCS) $(CURL_LIBS) $(ZSTD_LIBS)

build/unit-san/%: tests/unit/%.c tests/unit/check.h $(DAEMON_SRCS) $(DAEMON_HDRS)
	@mkdir -p $(@D)
	$(CC) $(BASE_CFLAGS) -O1 -g $(SAN) $(CURL_CFLAGS) $(ZSTD_CFLAGS) -Idaemon -o $@ $< $(DAEMON_SRCS) $(CURL_LIBS) $(ZSTD_LIBS)

# Drives the fetch engine against a real server in tests/shell.
build/fetch-range: tests/tools/fetch-range.c $(DAEMON_SRCS) $(DAEMON_HDRS)
	@mkdir -p $(@D)
	$(CC) $(BASE_CFLAGS) -O1 -g $(SAN) $(CURL_CFLAGS) $(ZSTD_CFLAGS) -Idaemon -o $@ $< $(DAEMON_SRCS) $(CURL_LIBS) $(ZSTD_LIBS)

# libFuzzer targets for the parsers of hostile input; `make check` runs
# each briefly, `make fuzz` for longer (FUZZ_SECONDS each).
FUZZ_TARGETS := $(patsubst tests/fuzz/%.c,%,$(wildcard tests/fuzz/fuzz_*.c))
FUZZ_SECONDS ?= 300
build/fuzz/%: tests/fuzz/%.c $(DAEMON_SRCS) $(DAEMON_HDRS)
	@mkdir -p $(@D)
	clang $(BASE_CFLAGS) -Wno-missing-prototypes -O1 -g -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=all \
		-Idaemon -o $@ $< daemon/cachefiles.c daemon/config.c daemon/http.c daemon/url.c daemon/log.c \
		daemon/manifest.c daemon/sha256.c
	@if [ -d tests/fuzz/seeds/$* ]; then mkdir -p build/fuzz/corpus/$* && cp tests/fuzz/seeds/$*/* build/fuzz/corpus/$*/; fi

check-fuzz: $(addprefix build/fuzz/,$(FUZZ_TARGETS))
	@tests/run-fuzz 20 $^

fuzz: $(addprefix build/fuzz/,$(FUZZ_TARGETS))
	@tests/run-fuzz $(FUZZ_SECONDS) $^

# make bench: decompress + verify cost per MiB of a verified image.
build/verify-bench: tests/tools/verify-bench.c $(DAEMON_SRCS) $(DAEMON_HDRS)
	@mkdir -p $(@D)
	$(CC) $(BASE_CFLAGS) -O2 $(CURL_CFLAGS) $(ZSTD_CFLAGS) -Idaemon -o $@ $< $(DAEMON_SRCS) $(CURL_LIBS) $(ZSTD_LIBS)

build/serve-verified: tests/tools/serve-verified.c tests/tools/fake-cachefiles.c tests/tools/fake-cachefiles.h tests/unit/check.h $(DAEMON_SRCS) $(DAEMON_HDRS)
	@mkdir -p $(@D)
	$(CC) $(BASE_CFLAGS) -O1 -g $(SAN) $(CURL_CFLAGS) $(ZSTD_CFLAGS) -Idaemon -Itests/unit -o $@ $< tests/tools/fake-cachefiles.c $(DAEMON_SRCS) $(CURL_LIBS) $(ZSTD_LIBS)

build/serve-harness: tests/tools/serve-harness.c tests/tools/fake-cachefiles.c tests/tools/fake-cachefiles.h tests/unit/check.h $(DAEMON_SRCS) $(DAEMON_HDRS)
	@mkdir -p $(@D)
	$(CC) $(BASE_CFLAGS) -O1 -g $(SAN) $(CURL_CFLAGS) $(ZSTD_CFLAGS) -Idaemon -Itests/unit -o $@ $< tests/tools/fake-cachefiles.c $(DAEMON_SRCS) $(CURL_LIBS) $(ZSTD_LIBS)

deps:
	@scripts/install-deps

check-unit: $(addprefix build/unit/,$(UNIT_TESTS)) $(addprefix build/unit-san/,$(UNIT_TESTS))
	@tests/run-unit $^

check-shell: build/fetch-range build/serve-harness build/serve-verified build/lazyroot-pack
	@tests/run-bats tests/shell

check-vm: all
	@tests/run-bats tests/vm

# iPXE -> dracut -> Debian 12 with systemd over HTTPS (the root is made by
# mmdebstrap and cached).
check-distro: all
	@tests/run-bats tests/distro

check: deps
	@$(MAKE) --no-print-directory all
	@tests/run-all

demo: deps all
	@tests/demo

bench: deps all build/verify-bench
	@tests/bench

PREFIX ?= /usr/local
DESTDIR ?=
LIBDIR := $(PREFIX)/lib/lazyroot
# dracut reads modules only from its own directory, whatever PREFIX is.
DRACUTMODULESDIR ?= $(or $(shell $(PKG_CONFIG) --variable=dracutmodulesdir dracut 2>/dev/null),/usr/lib/dracut/modules.d)

# Installs the daemon, the tools and their man pages.
install: all
	install -D -m 0755 daemon/lazyrootd $(DESTDIR)$(PREFIX)/sbin/lazyrootd
	install -D -m 0755 initrd/lazyroot-mkinitrd $(DESTDIR)$(LIBDIR)/initrd/lazyroot-mkinitrd
	install -m 0755 initrd/init initrd/udhcpc.script $(DESTDIR)$(LIBDIR)/initrd/
	install -m 0644 initrd/lazyroot-lib.sh $(DESTDIR)$(LIBDIR)/initrd/
	install -d $(DESTDIR)$(PREFIX)/bin
	printf '#!/bin/sh\nLAZYROOT_DAEMON=$${LAZYROOT_DAEMON:-$(PREFIX)/sbin/lazyrootd} exec $(LIBDIR)/initrd/lazyroot-mkinitrd "$$@"\n' \
		> $(DESTDIR)$(PREFIX)/bin/lazyroot-mkinitrd
	chmod 0755 $(DESTDIR)$(PREFIX)/bin/lazyroot-mkinitrd
	install -D -m 0755 build/lazyroot-pack $(DESTDIR)$(LIBDIR)/lazyroot-pack
	install -m 0755 images/lazyroot-mkimage $(DESTDIR)$(PREFIX)/bin/lazyroot-mkimage
	sed -i 's|^installed_pack=.*|installed_pack=$(LIBDIR)/lazyroot-pack|' \
		$(DESTDIR)$(PREFIX)/bin/lazyroot-mkimage
	install -D -m 0644 -t $(DESTDIR)$(PREFIX)/share/man/man8 man/*.8
	install -d $(DESTDIR)$(DRACUTMODULESDIR)/90lazyroot
	install -m 0755 dracut-module/90lazyroot/*.sh $(DESTDIR)$(DRACUTMODULESDIR)/90lazyroot/
	sed -i 's|^lazyroot_installed_daemon=.*|lazyroot_installed_daemon=$(PREFIX)/sbin/lazyrootd|' \
		$(DESTDIR)$(DRACUTMODULESDIR)/90lazyroot/module-setup.sh

clean:
	rm -rf build daemon/lazyrootd
