# shellcheck shell=bash
# Shared set-up for booting a real distro (tests/distro, tests/bench): the
# test kernel, a Debian 12 root with systemd (tests/lib/make-debian-rootfs)
# published with lazyroot-mkimage on nginx on 127.0.0.1, and dracut images
# with the lazyroot module, gzipped as an operator would ship them. Source it
# from the repo root.

# distro_root_setup DIR: the test kernel and nginx serving DIR/www, with the
# Debian root published in DIR/www/img; sets W, KERNEL, PORT, FSID and
# DEBIAN_TAR (the root's tarball)
distro_root_setup() {
	. tests/lib/vm-env.sh
	vm_host_setup "$1"
	DEBIAN_TAR=$(tests/lib/make-debian-rootfs) || return 1
	FSID=$(images/lazyroot-mkimage "$DEBIAN_TAR" "$W/www/img" 2>"$W/mkimage.log") ||
		{ cat "$W/mkimage.log" >&2; return 1; }
}

# distro_env_setup DIR: distro_root_setup, and $W/initrd-systemd.img and
# $W/initrd-shell.img made by this machine's dracut
distro_env_setup() {
	distro_root_setup "$1" || return 1
	. tests/lib/dracut-env.sh
	dracut_env_setup "$W" "$W/srv/ca.pem"
	dracut_image "$W/initrd-systemd.img" "$DRACUT_SYSTEMD_MODULES" "" --gzip || return 1
	dracut_image "$W/initrd-shell.img" "$DRACUT_SHELL_MODULES" systemd --gzip || return 1
	export W KERNEL PORT FSID DEBIAN_TAR
}

# distro_up_seconds LOG: seconds from kernel start to multi-user.target, as
# the root's lazyroot-check.service reported them on the console
distro_up_seconds() {
	sed -n 's/^.*LAZYROOT-DISTRO: multi-user.target reached at \(.*\)s$/\1/p' "$1"
}

# distro_show_log LOG: what a failing test prints: the console's last lines
# (mostly the shutdown), then all the check and the daemon said
distro_show_log() {
	grep -av '^\[' "$1" | tail -n 40
	echo "--- what failed, the check's and lazyrootd's lines:"
	grep -a 'FAILED\|Failed\|LAZYROOT-DISTRO: \|lazyrootd' "$1" | tail -n 80
}
