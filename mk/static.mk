# `make static`: a fully static x86_64 lazyrootd (musl, mbedtls, libcurl,
# libzstd), the daemon the initramfs carries. scripts/build-static builds the
# libraries once into a cache keyed by versions and recipe and names the
# prefix; this file compiles lib/ and daemon/ against it into build/static/.
# docs/static.md says what to type and what you see.

STATIC_SRCS := $(wildcard lib/*.c lib/format/*.c daemon/*.c)
STATIC_OBJS := $(patsubst %.c,build/static/%.o,$(STATIC_SRCS))
STATIC_CFLAGS = $(BASE_CFLAGS) -Ilib -Ilib/format -Idaemon \
	-I$(STATIC_PREFIX)/include -idirafter build/static/uapi \
	-O2 -g -ffunction-sections -fdata-sections
STATIC_LIBS = -L$(STATIC_PREFIX)/lib -lcurl -lmbedtls -lmbedx509 \
	-lmbedcrypto -lzstd

.PHONY: static

# The library build is idempotent and quick once cached; its prefix is
# handed to a second make so that nothing below runs it on other goals.
static:
	@prefix=$$(scripts/build-static) && \
		$(MAKE) --no-print-directory STATIC_PREFIX="$$prefix" \
			build/static/lazyrootd.stripped build/static/lazyrootctl
	@echo "static: build/static/lazyrootd.stripped:" \
		"$$(stat -c %s build/static/lazyrootd.stripped) bytes stripped"

ifneq ($(STATIC_PREFIX),)
# A new prefix (other versions or recipe) rebuilds every object.
build/static/prefix: static-force
	@mkdir -p $(@D)
	@echo '$(STATIC_PREFIX)' | cmp -s - $@ || echo '$(STATIC_PREFIX)' > $@

# musl brings no kernel headers: the NBD front end's linux/*.h come from
# Debian's linux-libc-dev, and only those (never glibc's own headers).
build/static/uapi: /usr/include/linux/nbd.h
	@mkdir -p $@
	ln -sfn /usr/include/linux $@/linux
	ln -sfn /usr/include/asm-generic $@/asm-generic
	ln -sfn /usr/include/$(shell $(CC) -print-multiarch)/asm $@/asm

build/static/%.o: %.c build/static/prefix | build/static/uapi
	@mkdir -p $(@D)
	$(STATIC_PREFIX)/bin/musl-gcc $(STATIC_CFLAGS) -MMD -MP -c -o $@ $<

build/static/lazyrootd: $(STATIC_OBJS)
	$(STATIC_PREFIX)/bin/musl-gcc -static -Wl,--gc-sections -o $@ $^ \
		$(STATIC_LIBS)

build/static/lazyrootd.stripped: build/static/lazyrootd
	strip -o $@ $<

# For roots without a C library of their own (the tests' busybox root).
build/static/lazyrootctl: $(addprefix build/static/,$(CTL_OBJS))
	$(STATIC_PREFIX)/bin/musl-gcc -static -s -o $@ $^
endif

.PHONY: static-force
static-force:
