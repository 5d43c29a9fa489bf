#!/usr/bin/env bats
# The dracut module with Debian 13's own dracut (106): dracut runs inside a
# cached trixie tree made by mmdebstrap from the Debian archive
# (tests/lib/trixie-dracut) and builds initramfs images with
# dracut-module/90lazyroot for the test kernel (everything built in), with
# dracut's network backends: network-legacy (dhclient) with dracut's
# shell-based init, systemd-networkd and NetworkManager with systemd in the
# initramfs (dracut 106's network-manager needs dbus, and that needs systemd). QEMU boots each against the busybox
# test root served by nginx on the host's loopback (10.0.2.2 in the guest), as
# tests/vm/dracut.bats does with this machine's dracut 059.
#
# The daemon goes into a trixie initramfs, so it must be the static one
# (make static; LAZYROOT_DAEMON=build/static/lazyrootd.stripped by default).
# An archive that cannot be reached skips every test, saying so.

bats_require_minimum_version 1.5.0

setup_file() {
	command -v mmdebstrap >/dev/null || return 0 # each test skips
	local rc=0
	tests/lib/trixie-dracut tree >/dev/null 2>"$BATS_FILE_TMPDIR/trixie.err" || rc=$?
	if [ "$rc" -eq 3 ]; then
		TRIXIE_SKIP="the Debian archive cannot be reached: $(tail -n 1 "$BATS_FILE_TMPDIR/trixie.err")"
		export TRIXIE_SKIP
		return 0
	fi
	[ "$rc" -eq 0 ] || { cat "$BATS_FILE_TMPDIR/trixie.err" >&2; return 1; }
	DAEMON=${LAZYROOT_DAEMON:-}
	if [ -z "$DAEMON" ]; then
		make -s static >&2
		DAEMON=$PWD/build/static/lazyrootd.stripped
	fi
	# a dynamic daemon would need this machine's libraries in a trixie image
	if readelf -lW "$DAEMON" | grep -q 'program interpreter'; then
		echo "dracut106: $DAEMON is dynamically linked; use make static" >&2
		return 1
	fi
	. tests/lib/vm-env.sh
	vm_env_setup "$BATS_FILE_TMPDIR" 8
	DRACUT_VERSION=$(tests/lib/trixie-dracut version)

	local sh="bash base rootfs-block lazyroot"
	local sd="bash systemd systemd-initrd dracut-systemd base rootfs-block lazyroot"
	# no backend named: dracut's network chooses (with --modules, network-legacy)
	image106 shell "$sh" systemd
	image106 systemd "$sd systemd-networkd" ""
	image106 nm-systemd "$sd network-manager" ""
	export W DRACUT_VERSION DAEMON
}

# image106 NAME MODULES OMIT: $W/NAME.img by trixie's dracut with exactly
# MODULES (and what they depend on), less OMIT; --no-kernel: the test kernel
# has everything built in, --kver only names paths dracut looks at
image106() {
	tests/lib/trixie-dracut build --module dracut-module/90lazyroot --daemon "$DAEMON" \
		--ca "$W/srv/ca.pem" --out "$W/$1.img" \
		--force --no-hostonly --no-kernel --kver 6.1.0 --no-compress \
		--modules "$2" ${3:+--omit "$3"}
}

teardown_file() {
	if [ -n "${W:-}" ]; then
		tests/lib/https-server stop "$W/srv"
	fi
}

setup() {
	command -v mmdebstrap >/dev/null || skip "mmdebstrap not installed (scripts/install-deps)"
	[ -z "${TRIXIE_SKIP:-}" ] || skip "$TRIXIE_SKIP"
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
	# systemd 257 resets the console at switch-root (cursor and colour
	# queries before the root's first line): dropped with the serial CRs
	sed -Ei -e 's/\r$//' -e 's/\x1b\[[0-9;?!]*[A-Za-z]//g' \
		-e 's/\x1b\][0-9;]*(\x07|\x1b\\)?//g' "$log"
	# Shown by bats only when the test fails.
	grep -v '^\[' "$log" | tail -n 40
}

# modules_of IMAGE: the dracut modules in $W/IMAGE.img, one line
modules_of() {
	lsinitrd "$W/$1.img" | sed -n '/^dracut modules:$/,/^=\{20,\}$/p' | sed '1d;$d' | tr '\n' ' '
}

@test "dracut 106: the images hold the daemon, the CA, the handler, the hooks and the backend asked for" {
	[[ $DRACUT_VERSION == 106* ]]
	for img in shell systemd nm-systemd; do
		run lsinitrd "$W/$img.img"
		[ "$status" -eq 0 ]
		grep -q "^Version: dracut-106" <<<"$output"
		# dracut 106 keeps its hooks in /var/lib/dracut/hooks
		for f in usr/sbin/lazyrootd etc/lazyroot/ca.pem usr/sbin/lazyrootroot \
			usr/lib/lazyroot/lazyroot-lib.sh usr/lib/lazyroot/lazyrootd-at \
			var/lib/dracut/hooks/cmdline/90-parse-lazyroot.sh \
			var/lib/dracut/hooks/mount/90-lazyroot-failed.sh usr/bin/bash usr/sbin/netroot; do
			grep -Eq " $f( |$)" <<<"$output" || { echo "$img: missing $f"; return 1; }
		done
		cmp "$W/srv/ca.pem" <(lsinitrd -f etc/lazyroot/ca.pem "$W/$img.img")
		cmp "$DAEMON" <(lsinitrd -f usr/sbin/lazyrootd "$W/$img.img")
	done
	[[ " $(modules_of shell) " == *" network-legacy "* ]]
	[[ " $(modules_of systemd) " == *" systemd-networkd "* ]]
	for img in systemd nm-systemd; do
		if [[ " $(modules_of $img) " == *" network-legacy "* ]]; then
			echo "$img: lazyroot asked for network-legacy besides the backend named"
			return 1
		fi
	done
	[[ " $(modules_of nm-systemd) " == *" network-manager "* ]]
	lsinitrd "$W/systemd.img" | grep -q 'system-generators/dracut-lazyroot-generator'
	! lsinitrd "$W/shell.img" | grep -q 'system-generators/dracut-lazyroot-generator'
}

@test "dracut 106, shell init, network-legacy: boots the EROFS root over HTTPS; lazyrootd keeps serving" {
	boot shell shell-good erofs.fsid=rootfs-test erofs.url="$(vm_url "$PORT")" lazyroot.test=readbig
	vm_dracut_booted_ok
}

@test "dracut 106, systemd init, systemd-networkd: boots the EROFS root over HTTPS; lazyrootd keeps serving" {
	# with a mirror list whose first entry is down (the host refuses port 1)
	boot systemd systemd-good root=erofs erofs.fsid=rootfs-test \
		erofs.url="https://10.0.2.2:1/img/,$(vm_url "$PORT")" lazyroot.test=readbig
	vm_dracut_booted_ok
	grep -q 'lazyrootd: mirror https://10.0.2.2:1/img/rootfs-test failed (' "$log"
}

@test "dracut 106, systemd init, systemd-networkd: ip=dhcp is honored like no ip= at all" {
	# systemd-network-generator makes a .network of ip=; dracut's hook then
	# drops its own default one
	boot systemd systemd-ip ip=dhcp erofs.fsid=rootfs-test erofs.url="$(vm_url "$PORT")"
	[ "$qemu_status" -eq 0 ]
	grep -q '^LAZYROOT-TEST: sha256 ok (10 files)' "$log"
}

@test "dracut 106, systemd init, NetworkManager: lazyroot asks for the network, NM brings it up, the handler mounts the root" {
	boot nm-systemd nm-systemd-good erofs.fsid=rootfs-test erofs.url="$(vm_url "$PORT")" lazyroot.test=readbig
	vm_dracut_booted_ok
	# nm-initrd.service runs only when the cmdline hooks asked for the network
	# (/run/NetworkManager/initrd/neednet), and the initqueue waited for it
	grep -q 'Started nm-initrd.service' "$log"
	grep -q 'Finished nm-wait-online-initrd.service' "$log"
}

@test "dracut 106, as a Debian 13 user builds it (--add lazyroot, no module list): dracut's own backend choice, NetworkManager, boots" {
	# dracut's default module set: network picks network-manager, since the
	# tree has NetworkManager, and lazyroot adds no network-legacy to it
	tests/lib/trixie-dracut build --module dracut-module/90lazyroot --daemon "$DAEMON" \
		--ca "$W/srv/ca.pem" --out "$W/default.img" \
		--force --no-hostonly --no-kernel --kver 6.1.0 --no-compress --add lazyroot
	mods=" $(modules_of default) "
	[[ $mods == *" network-manager "* && $mods == *" systemd-initrd "* ]]
	[[ $mods != *" network-legacy "* ]]
	boot default default-good erofs.fsid=rootfs-test erofs.url="$(vm_url "$PORT")" lazyroot.test=readbig
	vm_dracut_booted_ok
	grep -q 'Started nm-initrd.service' "$log"
}

@test "dracut 106, shell init: an fsid the server lacks gives one line naming fsid, URL and 404; stops" {
	boot shell shell-missing erofs.fsid=nosuch erofs.url="$(vm_url "$PORT")"
	# no reboot command in an image without systemd or busybox: dracut's init
	# exits and the kernel panics (qemu-run: 1)
	[ "$qemu_status" -eq 1 ]
	line="lazyroot: cannot mount EROFS fsid=nosuch: $(vm_url "$PORT")nosuch: HTTP 404"
	[ "$(grep -v '^\[' "$log" | grep -cF "$line")" -eq 1 ]
	grep -q 'FATAL: lazyroot: cannot boot erofs.fsid=nosuch' "$log"
	! grep -q '^LAZYROOT-TEST' "$log"
}

@test "dracut 106, systemd init: an fsid the server lacks gives one line naming fsid, URL and 404; powers off" {
	boot systemd systemd-missing erofs.fsid=nosuch erofs.url="$(vm_url "$PORT")"
	# dracut 106's die powers a systemd initramfs off (059's halts it)
	[ "$qemu_status" -eq 0 ]
	grep -q 'reboot: Power down' "$log"
	line="lazyroot: cannot mount EROFS fsid=nosuch: $(vm_url "$PORT")nosuch: HTTP 404"
	[ "$(grep -cF "$line" "$log")" -eq 1 ]
	grep -q 'FATAL: lazyroot: cannot boot erofs.fsid=nosuch' "$log"
	! grep -q '^LAZYROOT-TEST' "$log"
}

@test "dracut 106, both inits: a kernel that cannot serve the root stops the boot from the cmdline hook, with one line" {
	line="lazyroot: this kernel cannot serve the root on demand: for fscache: no /dev/cachefiles (CONFIG_CACHEFILES); for NBD: no NBD block driver in /proc/devices (CONFIG_BLK_DEV_NBD); see docs/kernel.md"
	for img in shell systemd; do
		boot $img $img-nocachefiles erofs.fsid=rootfs-test erofs.url="$(vm_url "$PORT")" \
			initcall_blacklist=cachefiles_init,nbd_init
		# the shell init's exit panics (1), systemd powers off (0)
		if [ $img = shell ]; then [ "$qemu_status" -eq 1 ]; else [ "$qemu_status" -eq 0 ]; fi
		grep -q "FATAL: $line" "$log"
		# at once: no network, no daemon
		if grep -E 'dhcp|DHCP|lazyroot: starting|^LAZYROOT-TEST' "$log"; then return 1; fi
	done
}

@test "dracut 106, systemd init with NetworkManager: without erofs.fsid= the module stays out of the way of a local root" {
	DISK=$W/local-root.img
	truncate -s 64M "$DISK"
	mke2fs -q -F -t ext4 -d "$W/rootfs" "$DISK"
	boot nm-systemd nm-systemd-local root=/dev/vda rw
	[ "$qemu_status" -eq 0 ]
	grep -q '^LAZYROOT-TEST: root is up: ext4' "$log"
	grep -q '^LAZYROOT-TEST: lazyrootd not running$' "$log"
	! grep -Eq 'NetworkManager|dhcp|DHCP|lazyroot: starting|lazyrootd: serving' "$log"
}
