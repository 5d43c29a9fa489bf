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

# Every .c is compiled once per flavour into build/<flavour>/ with -MMD
# dependencies: obj (the shipped -O2 build), san (ASan/UBSan, for tests and
# harnesses) and fuzz (clang, libFuzzer). lib/ and the daemon's own files
# are archived so each program links only what it uses.
LIB_SRCS := $(wildcard lib/*.c lib/format/*.c)
DAEMON_SRCS := $(filter-out daemon/main.c,$(wildcard daemon/*.c))
PACK_SRCS := $(wildcard images/pack/*.c)
INCLUDES := -Ilib -Ilib/format -Idaemon -Itests/unit -Itests/tools
UNIT_TESTS := $(patsubst tests/unit/%.c,%,$(wildcard tests/unit/test_*.c))
FUZZ_TARGETS := $(patsubst tests/fuzz/%.c,%,$(wildcard tests/fuzz/fuzz_*.c))
SAN := -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=all
ALL_CFLAGS = $(BASE_CFLAGS) $(INCLUDES) $(CURL_CFLAGS) $(ZSTD_CFLAGS)
LIBS = $(CURL_LIBS) $(ZSTD_LIBS)

.PHONY: all clean install check check-unit check-fuzz check-shell check-vm check-distro deps demo bench fuzz

all: daemon/lazyrootd build/lazyroot-pack

build/obj/%.o: %.c
	@mkdir -p $(@D)
	$(CC) $(ALL_CFLAGS) $(CFLAGS) -MMD -MP -c -o $@ $<

build/san/%.o: %.c
	@mkdir -p $(@D)
	$(CC) $(ALL_CFLAGS) -O1 -g $(SAN) -MMD -MP -c -o $@ $<

build/fuzz-obj/%.o: %.c
	@mkdir -p $(@D)
	clang $(ALL_CFLAGS) -Wno-missing-prototypes -O1 -g -fsanitize=fuzzer-no-link,address,undefined \
		-fno-sanitize-recover=all -MMD -MP -c -o $@ $<

# lib.a: lib/ (io, log, sha256, format/); daemon.a: the daemon but its main.
build/%/lib.a: $(patsubst %.c,build/\%/%.o,$(LIB_SRCS))
	@rm -f $@
	ar rcs $@ $^

build/%/daemon.a: $(patsubst %.c,build/\%/%.o,$(DAEMON_SRCS))
	@rm -f $@
	ar rcs $@ $^

daemon/lazyrootd: build/obj/daemon/main.o build/obj/daemon.a build/obj/lib.a
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) -o $@ $^ $(LIBS)

# Publishes an image as a verified image (lazyroot-mkimage --verified).
build/lazyroot-pack: $(patsubst %.c,build/obj/%.o,$(PACK_SRCS)) build/obj/lib.a
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) -o $@ $^ $(LIBS)

# Unit tests, built plainly and under ASan/UBSan.
build/unit/%: build/obj/tests/unit/%.o build/obj/daemon.a build/obj/lib.a
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) -o $@ $^ $(LIBS)

build/unit-san/%: build/san/tests/unit/%.o build/san/daemon.a build/san/lib.a
	@mkdir -p $(@D)
	$(CC) -O1 -g $(SAN) -o $@ $^ $(LIBS)

# Test tools: the fetch engine against a real server, the request loop
# over a fake /dev/cachefiles (under ASan/UBSan), and the bench's checker.
build/fetch-range: build/san/tests/tools/fetch-range.o build/san/daemon.a build/san/lib.a
	@mkdir -p $(@D)
	$(CC) -O1 -g $(SAN) -o $@ $^ $(LIBS)

build/serve-%: build/san/tests/tools/serve-%.o build/san/tests/tools/fake-cachefiles.o build/san/daemon.a build/san/lib.a
	@mkdir -p $(@D)
	$(CC) -O1 -g $(SAN) -o $@ $^ $(LIBS)

build/verify-bench: build/obj/tests/tools/verify-bench.o build/obj/daemon.a build/obj/lib.a
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) -o $@ $^ $(LIBS)

# libFuzzer targets for the parsers of hostile input; `make check` runs
# each briefly, `make fuzz` for longer (FUZZ_SECONDS each).
FUZZ_SECONDS ?= 300
build/fuzz/%: build/fuzz-obj/tests/fuzz/%.o build/fuzz-obj/daemon.a build/fuzz-obj/lib.a
	@mkdir -p $(@D)
	clang -O1 -g -fsanitize=fuzzer,address,undefined -o $@ $^ $(LIBS)
	@if [ -d tests/fuzz/seeds/$* ]; then mkdir -p build/fuzz/corpus/$* && cp tests/fuzz/seeds/$*/* build/fuzz/corpus/$*/; fi

.SECONDARY:
-include $(shell find build -name '*.d' 2>/dev/null)

check-fuzz: $(addprefix build/fuzz/,$(FUZZ_TARGETS))
	@tests/run-fuzz 20 $^

fuzz: $(addprefix build/fuzz/,$(FUZZ_TARGETS))
	@tests/run-fuzz $(FUZZ_SECONDS) $^

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
-include mk/*.mk
