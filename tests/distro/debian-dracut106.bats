#!/usr/bin/env bats
# The Debian root (tests/lib/make-debian-rootfs, as tests/distro/debian.bats
# boots it) with initramfs images made by Debian 13's dracut 106
# (tests/lib/trixie-dracut): systemd in the initramfs with systemd-networkd,
# systemd with NetworkManager, and dracut's shell-based init with
# network-legacy. QEMU network-boots through its own iPXE; the root's
# lazyroot-check.service reports once multi-user.target is reached. Prints the
# boot times (on fd 3). The daemon must be the static one (make static).

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
	local daemon=${LAZYROOT_DAEMON:-}
	if [ -z "$daemon" ]; then
		make -s static >&2
		daemon=$PWD/build/static/lazyrootd.stripped
	fi
	if readelf -lW "$daemon" | grep -q 'program interpreter'; then
		echo "debian-dracut106: $daemon is dynamically linked; use make static" >&2
		return 1
	fi
	. tests/lib/vm-env.sh
	. tests/lib/distro-env.sh
	distro_root_setup "$BATS_FILE_TMPDIR" || return 1

	local sh="bash base rootfs-block lazyroot"
	local sd="bash systemd systemd-initrd dracut-systemd base rootfs-block lazyroot"
	local name mods omit
	while read -r name mods omit; do
		tests/lib/trixie-dracut build --module dracut-module/90lazyroot --daemon "$daemon" \
			--ca "$W/srv/ca.pem" --out "$W/$name.img" \
			--force --no-hostonly --no-kernel --kver 6.1.0 --gzip \
			--modules "${mods//+/ }" ${omit:+--omit "$omit"} || return 1
	done <<-EOF
		networkd ${sd// /+}+systemd-networkd
		nm ${sd// /+}+network-manager
		shell ${sh// /+}+network-legacy systemd
	EOF
	export W KERNEL PORT FSID
}

teardown_file() {
	if [ -n "${W:-}" ] && [ -d "$W/srv" ]; then
		tests/lib/https-server stop "$W/srv"
	fi
}

setup() {
	command -v mmdebstrap >/dev/null || skip "mmdebstrap not installed (scripts/install-deps)"
	[ -z "${TRIXIE_SKIP:-}" ] || skip "$TRIXIE_SKIP"
	. tests/lib/vm-env.sh
	. tests/lib/distro-env.sh
}

# boot_debian INITRD NAME: iPXE boot with $W/INITRD.img; sets log and status
boot_debian() {
	cp "$W/$1.img" "$W/initrd.img"
	run vm_boot_ipxe "$2" 600 erofs.fsid="$FSID" erofs.url="$(vm_url "$PORT")"
	log="$W/$2.log"
	# systemd 257 in the initramfs resets the console at switch-root
	sed -Ei -e 's/\x1b\[[0-9;?!]*[A-Za-z]//g' -e 's/\x1b\][0-9;]*(\x07|\x1b\\)?//g' "$log"
	distro_show_log "$log"
	grep -q "Command line: console=ttyS0 panic=-1 erofs.fsid=$FSID erofs.url=$(vm_url "$PORT")\$" "$log"
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
	echo "# dracut 106, $1: Debian 12 multi-user.target $(distro_up_seconds "$log")s after kernel start" >&3
}

@test "iPXE -> dracut 106 (systemd, systemd-networkd) -> Debian 12 with systemd: multi-user.target, lazyrootd.service serving" {
	boot_debian networkd debian106-networkd
	up_ok "systemd + systemd-networkd"
	grep -q 'LAZYROOT-DISTRO: lazyrootd alive as @lazyrootd (pid [0-9]*, active as lazyrootd.service)$' "$log"
}

@test "iPXE -> dracut 106 (systemd, NetworkManager) -> Debian 12 with systemd: multi-user.target, lazyrootd.service serving" {
	boot_debian nm debian106-nm
	up_ok "systemd + NetworkManager"
	grep -q 'Started nm-initrd.service' "$log"
	grep -q 'LAZYROOT-DISTRO: lazyrootd alive as @lazyrootd (pid [0-9]*, active as lazyrootd.service)$' "$log"
}

@test "iPXE -> dracut 106 (shell init, network-legacy) -> Debian 12 with systemd: the root's systemd leaves @lazyrootd alone" {
	boot_debian shell debian106-shell
	up_ok "shell init + network-legacy"
	grep -q 'LAZYROOT-DISTRO: lazyrootd alive as @lazyrootd (pid [0-9]*, inactive as lazyrootd.service)$' "$log"
}
