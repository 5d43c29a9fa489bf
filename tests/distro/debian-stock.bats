#!/usr/bin/env bats
# A Debian 12 machine as a user has it: Debian's own kernel package (the one
# linux-image-amd64 depends on, unpacked, never installed:
# tests/lib/stock-env.sh), a dracut initramfs made from its modules with the
# lazyroot module, QEMU network-booting through its own iPXE, and the Debian 12
# systemd root of tests/distro/debian.bats over HTTPS. That kernel has no
# on-demand cachefiles, so erofs.backend=auto takes NBD: EROFS mounts from
# /dev/nbd0 and systemd reaches multi-user.target. Prints the boot time and
# bytes fetched (on fd 3).

bats_require_minimum_version 1.5.0

setup_file() {
	command -v dracut >/dev/null && command -v mmdebstrap >/dev/null || return 0
	. tests/lib/vm-env.sh
	. tests/lib/stock-env.sh
	stock_env_setup "$BATS_FILE_TMPDIR/stock-kernel.err" || return 1
	[ -z "$STOCK_SKIP" ] || return 0
	. tests/lib/distro-env.sh
	distro_root_setup "$BATS_FILE_TMPDIR" || return 1
	. tests/lib/dracut-env.sh
	dracut_env_setup "$W" "$W/srv/ca.pem"
	stock_dracut_image "$W/initrd.img" "$DRACUT_SYSTEMD_MODULES" "" --compress zstd
	# vm_boot_ipxe hands iPXE $KERNEL
	KERNEL=$STOCK_KERNEL
	export W PORT FSID KERNEL
}

teardown_file() {
	if [ -n "${W:-}" ] && [ -d "$W/srv" ]; then
		tests/lib/https-server stop "$W/srv"
	fi
}

setup() {
	command -v dracut >/dev/null && command -v mmdebstrap >/dev/null ||
		skip "dracut or mmdebstrap not installed (scripts/install-deps)"
	[ -z "${STOCK_SKIP:-}" ] || skip "$STOCK_SKIP"
	. tests/lib/vm-env.sh
	. tests/lib/distro-env.sh
}

@test "iPXE -> dracut (systemd) on Debian's own kernel -> Debian 12 over NBD: multi-user.target" {
	run vm_boot_ipxe debian-stock 900 erofs.fsid="$FSID" erofs.url="$(vm_url "$PORT")"
	log="$W/debian-stock.log"
	distro_show_log "$log"
	[ "$status" -eq 0 ]
	grep -q "Linux version ${KERNEL##*vmlinuz-} " "$log"
	grep -q "Command line: console=ttyS0 panic=-1 erofs.fsid=$FSID erofs.url=$(vm_url "$PORT")\$" "$log"
	grep -q 'LAZYROOT-DISTRO: multi-user.target reached at ' "$log"
	grep -q 'LAZYROOT-DISTRO: root: overlay, lower: erofs$' "$log"
	grep -q 'LAZYROOT-DISTRO: failed units: none$' "$log"
	grep -q 'LAZYROOT-DISTRO: lazyrootd alive as @lazyrootd (pid [0-9]*, active as lazyrootd.service)$' "$log"
	grep -q 'LAZYROOT-DISTRO: unread file ok$' "$log"
	grep -q 'LAZYROOT-DISTRO: done$' "$log"
	# over NBD, not cachefiles
	grep -q "lazyrootd: nbd0: $FSID, [0-9]* bytes, read-only\$" "$log"
	grep -q 'erofs: (device nbd0): mounted' "$log"
	grep -Eq 'lazyrootd: stats: opens 1, .*errors 0$' "$log"

	image=$(stat -c %s "$W/www/img/$FSID")
	sent=$(tests/lib/https-server bytes "$W/srv")
	up=$(distro_up_seconds "$log")
	rss=$(sed -n 's/.*lazyrootd: stats: peak RSS \([0-9]*\) KiB$/\1/p' "$log" | tail -n 1)
	echo "# Debian 12 on its own kernel over NBD: multi-user.target ${up}s after kernel start; server sent $sent of $image image bytes; lazyrootd peak RSS ${rss} KiB" >&3
	[ "$sent" -lt $((image / 2)) ]
}
