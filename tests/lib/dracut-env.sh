# shellcheck shell=bash
# Real dracut with the lazyroot module of this tree, leaving the system's
# dracut alone: a private module directory (dracut's own modules linked, ours
# copied) and a private configuration. Source it from the repo root.

# dracut_env_setup DIR CA: $DIR/dracut-base and $DIR/dracut-conf.d, for images
# that hold this tree's daemon/lazyrootd and trust CA
dracut_env_setup() {
	local dir=$1 ca=$2 f
	DRACUT_BASE=$dir/dracut-base
	DRACUT_CONF=$dir/dracut-conf.d
	mkdir -p "$DRACUT_BASE/modules.d" "$DRACUT_CONF"
	for f in /usr/lib/dracut/*; do
		[ "${f##*/}" = modules.d ] || ln -sf "$f" "$DRACUT_BASE/"
	done
	ln -sf /usr/lib/dracut/modules.d/* "$DRACUT_BASE/modules.d/"
	cp -RL dracut-module/90lazyroot "$DRACUT_BASE/modules.d/"
	cat >"$DRACUT_CONF/lazyroot.conf" <<-EOC
		lazyroot_daemon=$PWD/daemon/lazyrootd
		lazyroot_ca=$ca
	EOC
	export DRACUT_BASE DRACUT_CONF
}

# dracut_image OUT MODULES OMIT [DRACUT-ARGS...]: an initramfs with exactly
# MODULES (less OMIT, may be empty); dracut's log in OUT.log, its tail on
# stderr when dracut fails. --no-kernel: the test kernel has everything built
# in; --kver only names paths dracut looks at. No network module named:
# lazyroot asks for one.
dracut_image() {
	local out=$1 modules=$2 omit=$3
	shift 3
	dracutbasedir=$DRACUT_BASE dracut --force --no-hostonly --no-kernel \
		--kver "$(uname -r)" --conf /dev/null --confdir "$DRACUT_CONF" \
		--modules "$modules" ${omit:+--omit "$omit"} "$@" \
		"$out" >"$out.log" 2>&1 || {
		tail -n 30 "$out.log" >&2
		return 1
	}
}

# The two kinds of initramfs the tests boot: dracut's shell-based init and
# systemd in the initramfs; rootfs-block too: an initramfs with lazyroot must
# still boot a local root.
export DRACUT_SHELL_MODULES="bash base rootfs-block lazyroot"
export DRACUT_SYSTEMD_MODULES="bash systemd systemd-initrd dracut-systemd base rootfs-block lazyroot"
