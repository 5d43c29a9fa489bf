#!/usr/bin/env bats
# Debian 12's own kernel (the package linux-image-amd64 depends on, unpacked
# into the cache by tests/lib/stock-kernel, never installed) boots the test
# root: dracut builds an initramfs for it from the package's modules
# (--kmoddir, tests/lib/stock-env.sh) with the lazyroot module, QEMU boots the package's vmlinuz, and
# since that kernel has no on-demand cachefiles, erofs.backend=auto takes NBD:
# the root mounts from /dev/nbd0 and the root's own init checks its files.

bats_require_minimum_version 1.5.0

setup_file() {
	command -v dracut >/dev/null || return 0 # each test skips
	. tests/lib/vm-env.sh
	. tests/lib/stock-env.sh
	stock_env_setup "$BATS_FILE_TMPDIR/stock-kernel.err" || return 1
	[ -z "$STOCK_SKIP" ] || return 0
	vm_env_setup "$BATS_FILE_TMPDIR" 8
	images/lazyroot-mkimage --verified --fsid rootfs-v "$W/rootfs" "$W/www/vimg" \
		> "$W/vimg.out" 2> "$W/vimg.log" || { cat "$W/vimg.log" >&2; return 1; }
	read -r _ DIGEST < "$W/vimg.out"
	. tests/lib/dracut-env.sh
	dracut_env_setup "$W" "$W/srv/ca.pem"
	stock_dracut_image "$W/systemd.img" "$DRACUT_SYSTEMD_MODULES" "" --compress zstd
	stock_dracut_image "$W/shell.img" "$DRACUT_SHELL_MODULES" systemd --compress zstd
	export W DIGEST
}

teardown_file() {
	if [ -n "${W:-}" ]; then
		tests/lib/https-server stop "$W/srv"
	fi
}

setup() {
	command -v dracut >/dev/null || skip "dracut not installed (scripts/install-deps)"
	[ -z "${STOCK_SKIP:-}" ] || skip "$STOCK_SKIP"
	. tests/lib/vm-env.sh
	. tests/lib/stock-env.sh
}

# boot IMAGE NAME KERNEL-ARGS...: the stock kernel with $W/IMAGE.img; sets log
# and qemu_status
boot() {
	local img=$1 name=$2
	shift 2
	stock_boot "$W/$img.img" "$name" rd.shell=0 rd.emergency=reboot "$@"
}

@test "stock kernel: the dracut image holds the kernel's nbd, erofs, overlay and virtio_net modules" {
	for img in systemd shell; do
		run lsinitrd "$W/$img.img"
		[ "$status" -eq 0 ]
		for m in nbd erofs overlay virtio_net; do
			grep -Eq "/lib/modules/$STOCK_KVER/.*/$m\.ko(\.[a-z]+)?\$" <<<"$output" ||
				{ echo "$img: no $m module"; return 1; }
		done
	done
}

@test "stock kernel, dracut systemd init, erofs.backend=auto: takes NBD, the root mounts from /dev/nbd0" {
	boot systemd sd-plain erofs.fsid=rootfs-test erofs.url="$(vm_url "$PORT")" lazyroot.test=readbig
	stock_booted_over_nbd 1
}

@test "stock kernel, dracut systemd init: a verified root on /dev/nbd0 and /dev/nbd1" {
	boot systemd sd-verified erofs.fsid=rootfs-v erofs.digest="$DIGEST" \
		erofs.url="https://10.0.2.2:$PORT/vimg/" lazyroot.test=readbig
	stock_booted_over_nbd 2
	grep -Eq 'lazyrootd: stats: chunks verified [1-9][0-9]*, failed verification 0$' "$log"
}

@test "stock kernel, dracut shell init, erofs.backend=auto: takes NBD, the root mounts from /dev/nbd0" {
	boot shell sh-plain erofs.fsid=rootfs-test erofs.url="$(vm_url "$PORT")" lazyroot.test=readbig
	stock_booted_over_nbd 1
}

@test "stock kernel, erofs.backend=fscache: one line naming what the kernel lacks, at once" {
	boot shell sh-fscache erofs.backend=fscache erofs.fsid=rootfs-test erofs.url="$(vm_url "$PORT")"
	[ "$qemu_status" -ne 124 ]
	grep -q 'lazyroot: this kernel cannot serve the root on demand (erofs.backend=fscache): /dev/cachefiles has no on-demand mode (CONFIG_CACHEFILES_ONDEMAND), EROFS has no fscache mode (CONFIG_EROFS_FS_ONDEMAND); see docs/kernel.md' "$log"
	run ! grep -q '^LAZYROOT-TEST' "$log"
}
