#!/usr/bin/env bats
# /init under a real kernel (tests/lib/build-kernel) in QEMU, with stand-in daemons: the steps
# up to the EROFS mount (API filesystems, network, cache filesystem, daemon start) and the one
# line each failure prints before the kernel panics. tests/vm/e2e.bats boots with the real
# lazyrootd and an HTTPS server.

bats_require_minimum_version 1.5.0

setup_file() {
	TOP=$(cd "$BATS_TEST_DIRNAME/../.." && pwd)
	command -v qemu-system-x86_64 >/dev/null || skip "qemu-system-x86_64 not installed"
	[ -x "$TOP/tests/lib/build-kernel" ] && [ -x "$TOP/tests/lib/qemu-run" ] ||
		skip "needs tests/lib/build-kernel and tests/lib/qemu-run"
	KERNEL=$("$TOP/tests/lib/build-kernel") || skip "no test kernel (tests/lib/build-kernel failed)"
	export TOP KERNEL
}

# daemon NAME BODY: a stand-in lazyrootd (sh script) in $BATS_TEST_TMPDIR/NAME
daemon() {
	printf '#!/bin/sh\n%s\n' "$2" >"$BATS_TEST_TMPDIR/$1"
	chmod +x "$BATS_TEST_TMPDIR/$1"
}

# boot DAEMON KERNEL-ARGS: build the initramfs with that daemon and boot it (for at most
# $TIMEOUT seconds, default 120); sets $log, $qemu_status and $lr (the "lazyroot:" lines)
boot() {
	local d=$1
	shift
	"$TOP/initrd/lazyroot-mkinitrd" --output "$BATS_TEST_TMPDIR/initrd.img" \
		--daemon "$BATS_TEST_TMPDIR/$d" >/dev/null
	run "$TOP/tests/lib/qemu-run" --kernel "$KERNEL" --initrd "$BATS_TEST_TMPDIR/initrd.img" \
		--log "$BATS_TEST_TMPDIR/serial.log" --timeout "${TIMEOUT:-120}" \
		--append "console=ttyS0 panic=-1 $*"
	qemu_status=$status
	log=$BATS_TEST_TMPDIR/console.log
	tr -d '\r' <"$BATS_TEST_TMPDIR/serial.log" >"$log" # the serial console ends lines in CR LF
	lr=$(grep -a '^lazyroot: ' "$log" || :)
	grep -av '^\[' "$log" | tail -n 30 # shown when a test fails
}

# fails_at LINE: the last lazyroot line is LINE, it is the only failure line, and init's exit
# made the kernel panic
fails_at() {
	[ "$(printf '%s\n' "$lr" | tail -n 1)" = "lazyroot: $1" ] || { echo "last line is not: $1"; return 1; }
	[ "$(grep -acF "lazyroot: $1" "$log")" -eq 1 ]
	grep -aq 'Kernel panic - not syncing: Attempted to kill init' "$log"
	[ "$qemu_status" -eq 1 ] # qemu-run: the guest panicked
}

@test "boot: network and cache come up, then the mount fails without a serving daemon" {
	daemon ok 'echo "stand-in lazyrootd $*" >&2; exit 0'
	boot ok erofs.fsid=rootfs-test erofs.url=https://10.0.2.2:8443/img/ erofs.cachesize=4G
	want=$(printf '%s\n' \
		"lazyroot: booting erofs.fsid=rootfs-test from https://10.0.2.2:8443/img/ (cache 4G, init=/sbin/init)" \
		"lazyroot: eth0: DHCP (waiting up to Ns)" \
		"lazyroot: eth0: 10.0.2.15/24 gateway 10.0.2.2 dns 10.0.2.3 (DHCP)" \
		"lazyroot: cache: 4G ext2 on /dev/zram1 (zram: in RAM as written, compressed), mounted on /run/lazyroot/cache" \
		"lazyroot: starting lazyrootd (backend fscache)" \
		"lazyroot: mounting EROFS fsid=rootfs-test" \
		"lazyroot: cannot mount EROFS fsid=rootfs-test: no cache is bound to /dev/cachefiles (lazyrootd is not serving)")
	# the DHCP wait is what is left of rd.lazyroot.nettimeout= (30) once eth0 is there
	got=$(printf '%s\n' "$lr" | sed 's/(waiting up to \([0-9]*\)s)$/(waiting up to Ns)/')
	[ "$got" = "$want" ] || { echo "got:"; echo "$lr"; return 1; }
	left=$(printf '%s\n' "$lr" | sed -n 's/.*(waiting up to \([0-9]*\)s)$/\1/p')
	[ "$left" -ge 1 ] && [ "$left" -le 30 ]
	grep -aqx 'stand-in lazyrootd --backend fscache --cache-dir /run/lazyroot/cache --error-file /run/lazyroot/error' "$log"
	fails_at "cannot mount EROFS fsid=rootfs-test: no cache is bound to /dev/cachefiles (lazyrootd is not serving)"
}

@test "boot: the daemon's error file becomes the mount failure line" {
	daemon errfile 'while [ $# -gt 0 ]; do [ "$1" = --error-file ] && f=$2; shift; done
echo "https://10.0.2.2:8443/img/rootfs-v2: HTTP 404" >"$f"'
	boot errfile erofs.fsid=rootfs-v2 erofs.url=https://10.0.2.2:8443/img/ quiet
	[ "$lr" = "lazyroot: cannot mount EROFS fsid=rootfs-v2: https://10.0.2.2:8443/img/rootfs-v2: HTTP 404" ]
	fails_at "cannot mount EROFS fsid=rootfs-v2: https://10.0.2.2:8443/img/rootfs-v2: HTTP 404"
}

@test "boot: a daemon that cannot start" {
	daemon bad 'echo "lazyrootd: no CA bundle" >&2; exit 2'
	boot bad erofs.fsid=r erofs.url=https://10.0.2.2/ quiet
	grep -aqx 'lazyrootd: no CA bundle' "$log"
	fails_at "lazyrootd failed to start"
}

@test "boot: static ip= and a custom cache size" {
	daemon ok 'exit 0'
	boot ok erofs.fsid=r erofs.url=https://10.0.2.2/ erofs.cachesize=64M \
		ip=10.0.2.15::10.0.2.2:255.255.255.0:guest:eth0:off:10.0.2.3
	grep -aqx 'lazyroot: eth0: 10.0.2.15/24 gateway 10.0.2.2 dns 10.0.2.3 (static)' "$log"
	grep -aqx 'lazyroot: cache: 64M ext2 on /dev/zram1 (zram: in RAM as written, compressed), mounted on /run/lazyroot/cache' "$log"
	fails_at "cannot mount EROFS fsid=r: no cache is bound to /dev/cachefiles (lazyrootd is not serving)"
}

@test "boot: command line errors stop before the network" {
	daemon ok 'exit 0'
	boot ok erofs.url=https://10.0.2.2/
	fails_at "missing erofs.fsid= on the kernel command line (the fsid of the EROFS image)"
	[ "$(printf '%s\n' "$lr" | wc -l)" -eq 1 ]
	boot ok erofs.fsid=r erofs.url=ftp://10.0.2.2/img/
	fails_at "erofs.url=ftp://10.0.2.2/img/: must start with https:// (the root image must come from an authenticated server)"
}

@test "boot: a kernel that cannot serve the root stops at once with one line, before the network" {
	daemon ok 'exit 0'
	# the test kernel has everything built in: keep three of them from starting
	boot ok erofs.fsid=r erofs.url=https://10.0.2.2/ \
		initcall_blacklist=cachefiles_init,erofs_module_init,nbd_init
	fails_at "this kernel cannot serve the root on demand: no EROFS in /proc/filesystems (CONFIG_EROFS_FS); for fscache: no /dev/cachefiles (CONFIG_CACHEFILES); for NBD: no NBD block driver in /proc/devices (CONFIG_BLK_DEV_NBD); see docs/kernel.md"
	[ "$(printf '%s\n' "$lr" | wc -l)" -eq 2 ] # the "booting" line, then that one
	if grep -a 'DHCP' "$log"; then return 1; fi
}

@test "boot: a named interface that never appears" {
	daemon ok 'exit 0'
	boot ok erofs.fsid=r erofs.url=https://10.0.2.2/ ip=eth9:dhcp rd.lazyroot.nettimeout=2 quiet
	fails_at "eth9: no such network interface after 2s"
}

@test "boot: rd.shell starts a shell on the console after the line, and no panic" {
	daemon ok 'exit 0'
	# nobody types into the serial console, so the shell waits until qemu-run's time limit
	TIMEOUT=20 boot ok erofs.url=https://10.0.2.2/ rd.shell quiet
	[ "$lr" = "lazyroot: missing erofs.fsid= on the kernel command line (the fsid of the EROFS image)" ]
	sed -n '/^lazyroot: missing erofs.fsid/,$p' "$log" | grep -aq 'built-in shell (ash)'
	sed -n '/^lazyroot: missing erofs.fsid/,$p' "$log" | grep -aq '^/ # '
	[ "$qemu_status" -eq 124 ]
	run grep -ac 'Kernel panic' "$log"
	[ "$output" = 0 ]
}
