# lazyroot: network boot from an EROFS image on an HTTPS server.
# `make` builds the daemon; `make check` installs what the tests need and
# runs them all; `make demo` boots a VM from a loopback HTTPS image.

VERSION := 0.1.0
CC ?= cc
PKG_CONFIG ?= pkg-config
CFLAGS ?= -O2 -g
# Bats files run at once by check-boot (make check: one per core).
TEST_JOBS ?= 1
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
INCLUDES := -Ilib -Ilib/format -Idaemon -Ictl -Itests/unit -Itests/tools
UNIT_TESTS := $(patsubst tests/unit/%.c,%,$(wildcard tests/unit/test_*.c))
FUZZ_TARGETS := $(patsubst tests/fuzz/%.c,%,$(wildcard tests/fuzz/fuzz_*.c))
SAN := -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=all
ALL_CFLAGS = $(BASE_CFLAGS) $(INCLUDES) $(CURL_CFLAGS) $(ZSTD_CFLAGS)
LIBS = $(CURL_LIBS) $(ZSTD_LIBS) -pthread

.PHONY: all clean install check check-unit check-fuzz check-shell check-vm check-distro deps bench-deps demo bench fuzz

all: daemon/lazyrootd build/lazyroot-pack build/lazyrootctl

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

# Talks to the running daemon over its control socket (ctl/): libc only.
CTL_OBJS = ctl/lazyrootctl.o ctl/plot.o lib/format/boot_trace.o lib/format/text_field.o
build/lazyrootctl: $(addprefix build/obj/,$(CTL_OBJS))
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) -o $@ $^

# Unit tests, built plainly and under ASan/UBSan.
build/unit/%: build/obj/tests/unit/%.o build/obj/daemon.a build/obj/lib.a
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) -o $@ $^ $(LIBS)

build/unit-san/%: build/san/tests/unit/%.o build/san/daemon.a build/san/lib.a
	@mkdir -p $(@D)
	$(CC) -O1 -g $(SAN) -o $@ $^ $(LIBS)

# The chunking rule is the pack tool's; its test links it alone.
build/unit/test_chunker: build/obj/images/pack/chunker.o
build/unit-san/test_chunker: build/san/images/pack/chunker.o
# The picture is lazyrootctl's; its test and fuzzer link it alone.
build/unit/test_plot: build/obj/ctl/plot.o
build/unit-san/test_plot: build/san/ctl/plot.o
build/fuzz/fuzz_trace: build/fuzz-obj/ctl/plot.o
# The tests of serve.c and of what runs through it share its fakes.
SERVE_FAKE_TESTS := test_serve test_prefetch test_control test_fill
$(addprefix build/unit/,$(SERVE_FAKE_TESTS)): build/obj/tests/unit/fake_serve.o
$(addprefix build/unit-san/,$(SERVE_FAKE_TESTS)): build/san/tests/unit/fake_serve.o

# Test tools: the fetch engine against a real server, the request loop
# over a fake /dev/cachefiles (under ASan/UBSan), and the bench's checker.
build/fetch-range: build/san/tests/tools/fetch-range.o build/san/daemon.a build/san/lib.a
	@mkdir -p $(@D)
	$(CC) -O1 -g $(SAN) -o $@ $^ $(LIBS)

build/serve-%: build/san/tests/tools/serve-%.o build/san/tests/tools/fake-cachefiles.o build/san/daemon.a build/san/lib.a
	@mkdir -p $(@D)
	$(CC) -O1 -g $(SAN) -o $@ $^ $(LIBS)

build/log-burst: build/san/tests/tools/log-burst.o build/san/lib.a
	@mkdir -p $(@D)
	$(CC) -O1 -g $(SAN) -o $@ $^ -pthread

build/verify-bench: build/obj/tests/tools/verify-bench.o build/obj/daemon.a build/obj/lib.a
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) -o $@ $^ $(LIBS)

# libFuzzer targets for the parsers of hostile input; `make check` runs
# each briefly, `make fuzz` for FUZZ_RUNS executions each.
FUZZ_RUNS ?= 10000000
build/fuzz/%: build/fuzz-obj/tests/fuzz/%.o build/fuzz-obj/daemon.a build/fuzz-obj/lib.a
	@mkdir -p $(@D)
	clang -O1 -g -fsanitize=fuzzer,address,undefined -o $@ $^ $(LIBS)
	@if [ -d tests/fuzz/seeds/$* ]; then mkdir -p build/fuzz/corpus/$* && cp tests/fuzz/seeds/$*/* build/fuzz/corpus/$*/; fi

.SECONDARY:
-include $(shell find build -name '*.d' 2>/dev/null)

check-fuzz: $(addprefix build/fuzz/,$(FUZZ_TARGETS))
	@tests/run-fuzz 20 $^

fuzz: $(addprefix build/fuzz/,$(FUZZ_TARGETS))
	@tests/run-fuzz runs=$(FUZZ_RUNS) $^

deps:
	@scripts/install-deps

check-unit: $(addprefix build/unit/,$(UNIT_TESTS)) $(addprefix build/unit-san/,$(UNIT_TESTS))
	@tests/run-unit $^

# The daemon the product ships, in every initramfs the tests boot: the static
# one (`make static`). The unit, sanitizer and fuzz builds stay on glibc.
STATIC_DAEMON := $(CURDIR)/build/static/lazyrootd.stripped
# What make install installs: the static daemon once it is built.
SHIP_DAEMON = $(if $(wildcard build/static/lazyrootd.stripped),build/static/lazyrootd.stripped,daemon/lazyrootd)

check-shell: build/fetch-range build/log-burst build/serve-harness build/serve-verified build/serve-store build/lazyroot-pack static
	@tests/run-bats tests/shell

check-vm: all static
	@LAZYROOT_DAEMON=$(STATIC_DAEMON) tests/run-bats tests/vm

# iPXE -> dracut -> Debian 12 with systemd over HTTPS (the root is made by
# mmdebstrap and cached).
check-distro: all static
	@LAZYROOT_DAEMON=$(STATIC_DAEMON) tests/run-bats tests/distro

# Both, as `make check` runs them: TEST_JOBS files at once.
check-boot: all static
	@LAZYROOT_DAEMON=$(STATIC_DAEMON) TEST_JOBS=$(TEST_JOBS) tests/run-bats tests/vm tests/distro

check: deps
	@$(MAKE) --no-print-directory all static
	@tests/run-all

demo: deps all
	@tests/demo

# The livenet part also needs dracut-live and squashfs-tools (install-deps
# bench); only when it runs (BENCH_ONLY empty or naming it).
bench-deps:
	@scripts/install-deps $(if $(BENCH_ONLY),$(if $(filter livenet,$(BENCH_ONLY)),bench),bench)

bench: bench-deps all build/verify-bench static
	@LAZYROOT_DAEMON=$(STATIC_DAEMON) tests/bench

PREFIX ?= /usr/local
DESTDIR ?=
LIBDIR := $(PREFIX)/lib/lazyroot
# dracut reads modules only from its own directory, whatever PREFIX is.
DRACUTMODULESDIR ?= $(or $(shell $(PKG_CONFIG) --variable=dracutmodulesdir dracut 2>/dev/null),/usr/lib/dracut/modules.d)

# Installs the daemon, the tools and their man pages. The programs in bin/ and
# the dracut module's lazyroot-paths.sh are made from their .in templates with
# the installed paths (in build/install/, remade when PREFIX changes).
INSTALL_GEN := build/install/lazyroot-mkinitrd build/install/lazyroot-mkimage \
	build/install/lazyroot-paths.sh
install: all $(INSTALL_GEN)
	install -D -m 0755 $(SHIP_DAEMON) $(DESTDIR)$(PREFIX)/sbin/lazyrootd
	install -m 0755 build/lazyrootctl $(DESTDIR)$(PREFIX)/sbin/lazyrootctl
	install -D -m 0755 initrd/lazyroot-mkinitrd $(DESTDIR)$(LIBDIR)/initrd/lazyroot-mkinitrd
	install -m 0755 initrd/init initrd/udhcpc.script $(DESTDIR)$(LIBDIR)/initrd/
	install -m 0644 initrd/lazyroot-busybox.sh initrd/lazyroot-lib.sh $(DESTDIR)$(LIBDIR)/initrd/
	install -D -m 0755 build/install/lazyroot-mkinitrd $(DESTDIR)$(PREFIX)/bin/lazyroot-mkinitrd
	install -D -m 0755 build/lazyroot-pack $(DESTDIR)$(LIBDIR)/lazyroot-pack
	install -m 0755 images/lazyroot-mkimage $(DESTDIR)$(LIBDIR)/lazyroot-mkimage
	install -m 0755 build/install/lazyroot-mkimage $(DESTDIR)$(PREFIX)/bin/lazyroot-mkimage
	install -D -m 0644 -t $(DESTDIR)$(PREFIX)/share/man/man8 man/*.8
	install -d $(DESTDIR)$(DRACUTMODULESDIR)/90lazyroot
	install -m 0755 dracut-module/90lazyroot/*.sh $(DESTDIR)$(DRACUTMODULESDIR)/90lazyroot/
	install -m 0644 build/install/lazyroot-paths.sh $(DESTDIR)$(DRACUTMODULESDIR)/90lazyroot/

build/install/lazyroot-mkinitrd: initrd/lazyroot-mkinitrd.in
build/install/lazyroot-mkimage: images/lazyroot-mkimage.in
build/install/lazyroot-paths.sh: dracut-module/90lazyroot/lazyroot-paths.sh.in
$(INSTALL_GEN): build/install/paths
	sed -e 's|@sbindir@|$(PREFIX)/sbin|g' -e 's|@libdir@|$(LIBDIR)|g' \
		$(filter %.in,$^) >$@

# The installed paths of the last make install, rewritten only when they change.
build/install/paths: FORCE
	@mkdir -p $(@D)
	@echo '$(PREFIX) $(LIBDIR)' | cmp -s - $@ || echo '$(PREFIX) $(LIBDIR)' >$@

.PHONY: FORCE

clean:
	rm -rf build daemon/lazyrootd
-include mk/*.mk
