#!/usr/bin/env bats
# The dracut module's scripts without dracut's init: the cmdline hook sourced as dracut's init
# does, with dracut's own getarg (dracut-util's dracut-getarg, reading $CMDLINE) and stubs for
# warn/info/die and modprobe; the kernel it checks is a fake /proc and /dev; and lint.

bats_require_minimum_version 1.5.0

setup() {
	M=$BATS_TEST_DIRNAME/../../dracut-module/90lazyroot
	export M LR_LIBDIR=$M
	export hookdir=$BATS_TEST_TMPDIR/hooks
	mkdir -p "$hookdir/initqueue/finished"
	[ -x /usr/lib/dracut/dracut-util ] || skip "dracut not installed (scripts/install-deps)"
	mkdir -p "$BATS_TEST_TMPDIR/bin"
	ln -sf /usr/lib/dracut/dracut-util "$BATS_TEST_TMPDIR/bin/dracut-getarg"
	PATH=$BATS_TEST_TMPDIR/bin:$PATH
	# a kernel with everything lazyroot needs (fake_kernel to change it)
	fake_kernel cachefiles_daemon_write cachefiles_ondemand_copen erofs_fill_super \
		erofs_fscache_register_fs
}

# fake_kernel SYMBOL...: /proc/filesystems with erofs, overlay and ext4, /proc/meminfo,
# /proc/devices without nbd,
# /dev/cachefiles, and a /proc/kallsyms listing SYMBOL...
fake_kernel() {
	local k=$BATS_TEST_TMPDIR/kernel s
	rm -rf "$k"
	mkdir -p "$k/proc" "$k/dev"
	printf '\terofs\nnodev\toverlay\n\text4\n' >"$k/proc/filesystems"
	printf 'MemTotal:       24000000 kB\n' >"$k/proc/meminfo"
	printf 'Character devices:\n 10 misc\n\nBlock devices:\n  7 loop\n' >"$k/proc/devices"
	mknod "$k/dev/cachefiles" c 10 123
	for s in _text "$@"; do
		printf '0000000000000000 t %s\n' "$s"
	done >"$k/proc/kallsyms"
	export LR_PROC=$k/proc LR_DEV=$k/dev
}

# parse CMDLINE: source the cmdline hook as dracut's init does; prints what it set,
# "die: MSG" / "warn: MSG" / "modprobe: ARGS" for those calls.
parse() {
	CMDLINE=$1 bash -c '
		getarg() { dracut-getarg "$1"; }
		warn() { echo "warn: $*"; }
		info() { :; }
		die() { echo "die: $*"; exit 1; }
		modprobe() { echo "modprobe: $*"; }
		hook() { . "$M/parse-lazyroot.sh"; }
		hook
		echo "root=$root rootok=${rootok-} netroot=${netroot-}"'
}

@test "erofs.fsid= and erofs.url=: netroot=lazyroot:FSID, rootok, an initqueue finished check" {
	run parse "console=ttyS0 erofs.fsid=rootfs-v1 erofs.url=https://boot.example/img/"
	[ "$status" -eq 0 ]
	[ "${lines[0]}" = "modprobe: -q -a cachefiles erofs overlay zram loop ext4 nbd" ]
	[ "${lines[1]}" = "root=erofs rootok=1 netroot=lazyroot:rootfs-v1" ]
	grep -q /run/lazyroot/failed "$hookdir/initqueue/finished/lazyroot.sh"
}

@test "root=erofs is the explicit form" {
	run parse "root=erofs erofs.fsid=a erofs.url=https://h/"
	[ "${lines[1]}" = "root=erofs rootok=1 netroot=lazyroot:a" ]
}

@test "no erofs.fsid=: the hook leaves the boot alone" {
	run parse "console=ttyS0 ip=dhcp"
	[ "$status" -eq 0 ]
	[ "$output" = "root= rootok= netroot=" ]
	[ ! -e "$hookdir/initqueue/finished/lazyroot.sh" ]
}

@test "another root= wins over erofs.fsid=, with a warning" {
	run parse "root=/dev/vda1 erofs.fsid=a erofs.url=https://h/"
	[ "$status" -eq 0 ]
	[ "${lines[0]}" = "warn: lazyroot: root=/dev/vda1 takes precedence: ignoring erofs.fsid=a" ]
	[ "${lines[1]}" = "root=/dev/vda1 rootok= netroot=" ]
}

@test "bad or missing values die with one line naming them" {
	run parse "root=erofs erofs.url=https://h/"
	[ "$output" = "die: lazyroot: root=erofs needs erofs.fsid= (the fsid of the EROFS image)" ]
	run parse "erofs.fsid=a"
	[ "$output" = "die: lazyroot: missing erofs.url= on the kernel command line (https://HOST/PATH of the image)" ]
	run parse "erofs.fsid=a erofs.url=http://h/"
	[ "$status" -eq 1 ]
	[[ $output == "die: lazyroot: erofs.url=http://h/: must start with https://"* ]]
	run parse "erofs.fsid=a,b erofs.url=https://h/"
	[[ $output == "die: lazyroot: erofs.fsid=a,b: must not contain ','"* ]]
}

@test "a bad erofs.cachesize= or erofs.cache= dies in the hook; an empty one is the default" {
	run parse "erofs.fsid=a erofs.url=https://h/ erofs.cachesize=lots"
	[ "$status" -eq 1 ]
	[ "$output" = "die: lazyroot: erofs.cachesize=lots: expected a size like 4G (digits and an optional K, M, G or T)" ]
	run parse "erofs.fsid=a erofs.url=https://h/ erofs.cache=vdb"
	[ "$output" = "die: lazyroot: erofs.cache=vdb: expected a block device path such as /dev/vdb" ]
	run parse "erofs.fsid=a erofs.url=https://h/ erofs.cachesize= erofs.cache="
	[ "$status" -eq 0 ]
	[ "${lines[1]}" = "root=erofs rootok=1 netroot=lazyroot:a" ]
}

@test "a kernel without the on-demand parts dies in the hook, at once, with one line" {
	fake_kernel cachefiles_daemon_write erofs_fill_super
	run parse "erofs.fsid=a erofs.url=https://h/"
	[ "$status" -eq 1 ]
	[ "${lines[0]}" = "modprobe: -q -a cachefiles erofs overlay zram loop ext4 nbd" ]
	[ "${lines[1]}" = "die: lazyroot: this kernel cannot serve the root on demand: for fscache: /dev/cachefiles has no on-demand mode (CONFIG_CACHEFILES_ONDEMAND), EROFS has no fscache mode (CONFIG_EROFS_FS_ONDEMAND); for NBD: no NBD block driver in /proc/devices (CONFIG_BLK_DEV_NBD); see docs/kernel.md" ]
	[ "${#lines[@]}" -eq 2 ]
	[ ! -e "$hookdir/initqueue/finished/lazyroot.sh" ]
	# with the nbd driver it boots over NBD
	printf ' 43 nbd\n' >>"$LR_PROC/devices"
	run parse "erofs.fsid=a erofs.url=https://h/"
	[ "$status" -eq 0 ]
	[ "${lines[1]}" = "root=erofs rootok=1 netroot=lazyroot:a" ]
	run parse "erofs.fsid=a erofs.url=https://h/ erofs.backend=fscache"
	[ "$status" -eq 1 ]
	[ "${lines[1]}" = "die: lazyroot: this kernel cannot serve the root on demand (erofs.backend=fscache): /dev/cachefiles has no on-demand mode (CONFIG_CACHEFILES_ONDEMAND), EROFS has no fscache mode (CONFIG_EROFS_FS_ONDEMAND); see docs/kernel.md" ]
	# no lazyroot boot asked for: the kernel is not looked at
	run parse "root=/dev/vda1"
	[ "$status" -eq 0 ]
	[ "$output" = "root=/dev/vda1 rootok= netroot=" ]
}

@test "the generator writes sysroot.mount only for an erofs root" {
	gen() {
		CMDLINE=$1 bash -c 'getarg() { dracut-getarg "$1"; }; . "$M/lazyroot-generator.sh"' gen \
			"$BATS_TEST_TMPDIR/n" "$BATS_TEST_TMPDIR/$2" "$BATS_TEST_TMPDIR/l"
	}
	gen "erofs.fsid=a erofs.url=https://h/" yes
	grep -qx 'Options=lowerdir=/run/lazyroot/lower,upperdir=/run/lazyroot/rw/upper,workdir=/run/lazyroot/rw/work' \
		"$BATS_TEST_TMPDIR/yes/sysroot.mount"
	[ -L "$BATS_TEST_TMPDIR/yes/initrd-root-fs.target.requires/sysroot.mount" ]
	gen "root=/dev/vda1 erofs.fsid=a" no
	gen "console=ttyS0" no
	[ ! -e "$BATS_TEST_TMPDIR/no" ]
}

@test "scripts: sh syntax (dash, busybox), shebangs, shellcheck" {
	for f in parse-lazyroot.sh lazyrootroot.sh lazyroot-failed.sh lazyroot-generator.sh; do
		busybox sh -n "$M/$f" || { echo "busybox sh: $f"; return 1; }
		! command -v dash >/dev/null || dash -n "$M/$f" || { echo "dash: $f"; return 1; }
		[ "$(head -n 1 "$M/$f")" = '#!/bin/sh' ] || { echo "$f shebang"; return 1; }
	done
	bash -n "$M/module-setup.sh"
	bash -n "$M/lazyrootd-at.sh"
	[ "$(head -n 1 "$M/lazyrootd-at.sh")" = '#!/bin/bash' ]
	command -v shellcheck >/dev/null || skip "shellcheck not installed"
	cd "$M"
	run shellcheck -x -S warning parse-lazyroot.sh lazyrootroot.sh lazyroot-failed.sh \
		lazyroot-generator.sh module-setup.sh lazyrootd-at.sh
	[ "$status" -eq 0 ] || { echo "$output"; return 1; }
}
