#!/usr/bin/env bats
# A real distro, booted the way an operator would: a Debian 12 root with
# systemd (mmdebstrap minbase + systemd-sysv, tests/lib/make-debian-rootfs)
# published with lazyroot-mkimage on nginx; an initramfs made by dracut with
# the lazyroot module; QEMU network-boots through its own iPXE (no -kernel).
# Inside, lazyroot-check.service runs once multi-user.target is reached and
# reports on the console. Prints the boot time and bytes fetched (on fd 3).

bats_require_minimum_version 1.5.0

setup_file() {
	command -v dracut >/dev/null && command -v mmdebstrap >/dev/null || return 0
	make -s daemon/lazyrootd >&2
	. tests/lib/distro-env.sh
	distro_env_setup "$BATS_FILE_TMPDIR"
}

teardown_file() {
	if [ -n "${W:-}" ] && [ -d "$W/srv" ]; then
		tests/lib/https-server stop "$W/srv"
	fi
}

setup() {
	command -v dracut >/dev/null && command -v mmdebstrap >/dev/null ||
		skip "dracut or mmdebstrap not installed (scripts/install-deps)"
	. tests/lib/vm-env.sh
	. tests/lib/distro-env.sh
}

# boot_debian INITRD NAME: iPXE boot with $W/INITRD.img; sets log and status
boot_debian() {
	local args="erofs.fsid=$FSID erofs.url=$(vm_url "$PORT")${3:+ $3}"
	cp "$W/$1.img" "$W/initrd.img"
	# shellcheck disable=SC2086 # the words of the command line
	run vm_boot_ipxe "$2" 600 $args
	log="$W/$2.log"
	distro_show_log "$log"
	# the command line came from boot.ipxe: only iPXE could have passed it
	grep -qF "Command line: console=ttyS0 panic=-1 $args" "$log"
}

# up_ok: multi-user.target on the EROFS+overlay stack, nothing failed, and the
# daemon still serves reads boot never made
up_ok() {
	[ "$status" -eq 0 ]
	grep -q 'LAZYROOT-DISTRO: multi-user.target reached at ' "$log"
	grep -q 'LAZYROOT-DISTRO: root: overlay, lower: erofs$' "$log"
	grep -q 'LAZYROOT-DISTRO: failed units: none$' "$log"
	grep -q 'LAZYROOT-DISTRO: unread file ok$' "$log"
	grep -q 'LAZYROOT-DISTRO: done$' "$log"
	grep -Eq 'lazyrootd: stats: opens 1, .*errors 0$' "$log"
}

@test "iPXE -> dracut (systemd) -> Debian 12 with systemd over HTTPS: multi-user.target, lazyrootd.service serving" {
	boot_debian initrd-systemd debian-systemd lazyroot.orphan=1
	up_ok
	grep -q 'LAZYROOT-DISTRO: lazyrootd alive as @lazyrootd (pid [0-9]*, active as lazyrootd.service)$' "$log"
	# then the supervisor killed: the worker serves on in its service (KillMode=process)
	grep -q 'LAZYROOT-DISTRO: killed supervisor [0-9]*$' "$log"
	grep -q 'LAZYROOT-DISTRO: worker without the supervisor: [0-9][0-9]*$' "$log"
	grep -q "lazyrootd: the supervisor is gone: this worker serves on, but if it ends nothing takes over and the root's reads fail$" "$log"

	image=$(stat -c %s "$W/www/img/$FSID")
	sent=$(tests/lib/https-server bytes "$W/srv")
	up=$(distro_up_seconds "$log")
	rss=$(sed -n 's/.*lazyrootd: stats: peak RSS \([0-9]*\) KiB$/\1/p' "$log" | tail -n 1)
	echo "# Debian 12 + systemd: multi-user.target ${up}s after kernel start; server sent $sent of $image image bytes; lazyrootd peak RSS ${rss} KiB" >&3
	[ "$sent" -lt $((image / 2)) ]
}

@test "iPXE -> dracut (shell init) -> Debian 12 with systemd: the root's systemd leaves @lazyrootd alone" {
	boot_debian initrd-shell debian-shell
	up_ok
	# started outside any unit: the booted systemd neither adopts nor kills it
	grep -q 'LAZYROOT-DISTRO: lazyrootd alive as @lazyrootd (pid [0-9]*, inactive as lazyrootd.service)$' "$log"
}
