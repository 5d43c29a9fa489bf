#!/usr/bin/env bats
# The dracut module with real dracut: dracut builds initramfs images with
# dracut-module/90lazyroot (from a private copy of dracut's module tree, so the
# system's is left alone), once with dracut's shell-based init and once with
# systemd in the initramfs. The test kernel boots each in QEMU, the network
# module runs DHCP, /sbin/lazyrootroot mounts the EROFS root served by nginx on
# the host's loopback (10.0.2.2 in the guest), and the root's own init checks
# its files, reads a file boot never touched and reports on lazyrootd.

bats_require_minimum_version 1.5.0

setup_file() {
	command -v dracut >/dev/null || return 0 # each test skips
	make -s daemon/lazyrootd >&2
	. tests/lib/vm-env.sh
	vm_env_setup "$BATS_FILE_TMPDIR" 8

	. tests/lib/dracut-env.sh
	dracut_env_setup "$W" "$W/srv/ca.pem"
	dracut_image "$W/shell.img" "$DRACUT_SHELL_MODULES" systemd --no-compress
	dracut_image "$W/systemd.img" "$DRACUT_SYSTEMD_MODULES" "" --no-compress
	export W
}

teardown_file() {
	if [ -n "${W:-}" ]; then
		tests/lib/https-server stop "$W/srv"
	fi
}

setup() {
	command -v dracut >/dev/null || skip "dracut not installed (scripts/install-deps)"
	. tests/lib/vm-env.sh
}

# boot IMAGE NAME KERNEL-ARGS...: boots $W/IMAGE.img ($DISK, if set, as
# /dev/vda); sets log and qemu_status
boot() {
	local img=$1
	log="$W/$2.log"
	shift 2
	qemu_status=0
	tests/lib/qemu-run --kernel "$KERNEL" --initrd "$W/$img.img" ${DISK:+--disk "$DISK"} \
		--log "$log" --timeout 300 \
		--append "console=ttyS0 panic=-1 rd.shell=0 rd.emergency=reboot $*" ||
		qemu_status=$?
	sed -i 's/\r$//' "$log"
	# Shown by bats only when the test fails.
	grep -v '^\[' "$log" | tail -n 40
}

@test "dracut: the images hold the daemon, the CA, the handler and the hooks" {
	for img in shell systemd; do
		run lsinitrd "$W/$img.img"
		[ "$status" -eq 0 ]
		for f in usr/sbin/lazyrootd etc/lazyroot/ca.pem sbin/lazyrootroot \
			lib/lazyroot/lazyroot-lib.sh usr/lib/lazyroot/lazyrootd-at lib/dracut/hooks/cmdline/90-parse-lazyroot.sh \
			lib/dracut/hooks/mount/90-lazyroot-failed.sh bin/bash sbin/dhclient; do
			# merged /usr: /sbin, /lib and /bin may be links into usr/
			grep -Eq " (usr/)?$f( |$)" <<<"$output" || { echo "$img: missing $f"; return 1; }
		done
		cmp "$W/srv/ca.pem" <(lsinitrd -f etc/lazyroot/ca.pem "$W/$img.img")
		# the busybox /init's part of the library is not the module's
		if grep -q 'lazyroot-busybox' <<<"$output"; then echo "$img: has lazyroot-busybox.sh"; return 1; fi
	done
	lsinitrd "$W/systemd.img" | grep -q 'system-generators/dracut-lazyroot-generator'
	! lsinitrd "$W/shell.img" | grep -q 'system-generators/dracut-lazyroot-generator'
}

@test "dracut, shell init: boots the EROFS root over HTTPS; lazyrootd keeps serving" {
	boot shell shell-good erofs.fsid=rootfs-test erofs.url="$(vm_url "$PORT")" lazyroot.test=readbig
	vm_dracut_booted_ok
	# e2fsprogs' mke2fs is in the image: the cache is ext4, with extents, on zram
	grep -Eq '^LAZYROOT-TEST: cache: /dev/zram[1-9][0-9]*, extents$' "$log"
}

@test "dracut, systemd init: boots the EROFS root over HTTPS; lazyrootd keeps serving" {
	# with a mirror list whose first entry is down (the host refuses port 1)
	boot systemd systemd-good root=erofs erofs.fsid=rootfs-test \
		erofs.url="https://10.0.2.2:1/img/,$(vm_url "$PORT")" lazyroot.test=readbig
	vm_dracut_booted_ok
	grep -q 'lazyrootd: mirror https://10.0.2.2:1/img/rootfs-test failed (' "$log"
	grep -Eq '^LAZYROOT-TEST: cache: /dev/zram[1-9][0-9]*, extents$' "$log"
}

@test "dracut, systemd init, PXE: iPXE loads kernel and the dracut initramfs over TFTP" {
	# vm_boot_ipxe boots $W/initrd.img; gzip it, as an operator would
	gzip -1 -c "$W/systemd.img" > "$W/initrd.img"
	run vm_boot_ipxe systemd-ipxe 600 erofs.fsid=rootfs-test erofs.url="$(vm_url "$PORT")" \
		lazyroot.test=readbig
	log="$W/systemd-ipxe.log"
	qemu_status=$status
	grep -v '^\[' "$log" | tail -n 30
	# the command line came from boot.ipxe: only iPXE could have passed it
	grep -q "Command line: console=ttyS0 panic=-1 erofs.fsid=rootfs-test erofs.url=$(vm_url "$PORT") lazyroot.test=readbig\$" "$log"
	vm_dracut_booted_ok
}

@test "dracut: ip=dhcp is honored like no ip= at all" {
	boot shell shell-ip ip=dhcp erofs.fsid=rootfs-test erofs.url="$(vm_url "$PORT")"
	[ "$qemu_status" -eq 0 ]
	grep -q '^LAZYROOT-TEST: sha256 ok (10 files)' "$log"
}

@test "dracut, shell init: an fsid the server lacks gives one line naming fsid, URL and 404; stops" {
	boot shell shell-missing erofs.fsid=nosuch erofs.url="$(vm_url "$PORT")"
	# rd.emergency=reboot finds no reboot command in an image without systemd
	# or busybox: dracut's init exits and the kernel panics (qemu-run: 1)
	[ "$qemu_status" -eq 1 ]
	line="lazyroot: cannot mount EROFS fsid=nosuch: $(vm_url "$PORT")nosuch: HTTP 404"
	# once on the console, not counting the kernel log's copy ('[' lines)
	[ "$(grep -v '^\[' "$log" | grep -cF "$line")" -eq 1 ]
	grep -q 'FATAL: lazyroot: cannot boot erofs.fsid=nosuch' "$log"
	! grep -q '^LAZYROOT-TEST' "$log"
}

@test "dracut, systemd init: an fsid the server lacks gives one line naming fsid, URL and 404; halts" {
	boot systemd systemd-missing erofs.fsid=nosuch erofs.url="$(vm_url "$PORT")"
	# dracut's die halts a systemd initramfs (qemu-run: 3)
	[ "$qemu_status" -eq 3 ]
	line="lazyroot: cannot mount EROFS fsid=nosuch: $(vm_url "$PORT")nosuch: HTTP 404"
	# the console shows the journal through the kernel log: once there
	[ "$(grep -cF "$line" "$log")" -eq 1 ]
	grep -q 'FATAL: lazyroot: cannot boot erofs.fsid=nosuch' "$log"
	! grep -q '^LAZYROOT-TEST' "$log"
}

@test "dracut, both inits: a kernel that cannot serve the root stops the boot from the cmdline hook, with one line" {
	# the test kernel has cachefiles and nbd built in: keep them from starting
	# (without cachefiles alone it boots over NBD: tests/vm/nbd-boot.bats)
	line="lazyroot: this kernel cannot serve the root on demand: for fscache: no /dev/cachefiles (CONFIG_CACHEFILES); for NBD: no NBD block driver in /proc/devices (CONFIG_BLK_DEV_NBD); see docs/kernel.md"
	for img in shell systemd; do
		boot $img $img-nocachefiles erofs.fsid=rootfs-test erofs.url="$(vm_url "$PORT")" \
			initcall_blacklist=cachefiles_init,nbd_init
		# as for the 404 above: the shell init's exit panics, systemd halts
		if [ $img = shell ]; then [ "$qemu_status" -eq 1 ]; else [ "$qemu_status" -eq 3 ]; fi
		grep -q "FATAL: $line" "$log"
		# at once: no network, no initqueue wait, no daemon
		if grep -E 'dhcp|DHCP|still waiting|lazyroot: starting|^LAZYROOT-TEST' "$log"; then return 1; fi
	done
}

@test "dracut, both inits: without erofs.fsid= the module stays out of the way of a local root" {
	# the same test root, as an ext4 file system on a local disk
	DISK=$W/local-root.img
	truncate -s 64M "$DISK"
	mke2fs -q -F -t ext4 -d "$W/rootfs" "$DISK"
	for img in shell systemd; do
		boot $img $img-local root=/dev/vda rw
		[ "$qemu_status" -eq 0 ]
		grep -q '^LAZYROOT-TEST: root is up: ext4' "$log"
		grep -q '^LAZYROOT-TEST: sha256 ok (10 files)' "$log"
		grep -q '^LAZYROOT-TEST: lazyrootd not running$' "$log"
		# no network brought up for it, no daemon started
		! grep -Eq 'dhcp|DHCP|lazyroot: starting|lazyrootd: serving' "$log"
	done
}

@test "dracut, systemd init: erofs.cache= keeps the pages on a local disk for the next boot" {
	DISK=$W/cache.disk
	truncate -s 256M "$DISK"
	for n in 1 2; do
		boot systemd systemd-cache$n erofs.fsid=rootfs-test erofs.url="$(vm_url "$PORT")" \
			erofs.cache=/dev/vda lazyroot.test=readbig
		vm_dracut_booted_ok
	done
	grep -q 'lazyrootd: blob rootfs-test: 0 of [0-9]* pages kept on disk from earlier boots' \
		"$W/systemd-cache1.log"
	grep -Eq 'lazyrootd: blob rootfs-test: ([0-9]+) of \1 pages kept on disk from earlier boots' \
		"$W/systemd-cache2.log"
	grep -Eq 'lazyrootd: stats: .*bytes fetched [0-9]{1,3}, bytes written ([0-9]+) \(from disk \1\), errors 0$' \
		"$W/systemd-cache2.log"
}

@test "dracut, systemd init: a verified image (erofs.digest=) boots, every chunk checked" {
	images/lazyroot-mkimage --verified --fsid rootfs-v "$W/rootfs" "$W/www/vimg" \
		>"$W/vimg.out" 2>"$W/vimg.log"
	read -r _ digest <"$W/vimg.out"
	boot systemd verified erofs.fsid=rootfs-v erofs.digest="$digest" \
		erofs.url="https://10.0.2.2:$PORT/vimg/" lazyroot.test=readbig
	[ "$qemu_status" -eq 0 ]
	grep -q '^LAZYROOT-TEST: sha256 ok (10 files)' "$log"
	grep -q '^LAZYROOT-TEST: read big rc=0 ' "$log"
	grep -q '^LAZYROOT-TEST: lazyrootd alive as @lazyrootd$' "$log"
	grep -q 'lazyrootd: manifest of fsid rootfs-v: 2 blobs, .*sha256 matches erofs.digest' "$log"
	grep -Eq 'lazyrootd: stats: opens 2, .*errors 0$' "$log"
	grep -Eq 'lazyrootd: stats: chunks verified [1-9][0-9]*, failed verification 0$' "$log"
}
