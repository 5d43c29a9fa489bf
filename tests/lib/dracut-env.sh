# shellcheck shell=bash
# Real dracut with the lazyroot module of this tree, leaving the system's
# dracut alone: a private module directory (dracut's own modules linked, ours
# copied, whatever lazyroot module `make install` put into the system's) and a
# private configuration. Source it from the repo root.

# dracut_base DIR MODULE: DIR, a dracut base directory (for dracutbasedir=) that
# links everything of the system's ($DRACUT_SYSTEM_BASE, default /usr/lib/dracut)
# but its lazyroot module, if one is installed there, and holds the module
# directory MODULE instead, copied.
dracut_base() {
	local base=$1 module=$2 sys=${DRACUT_SYSTEM_BASE:-/usr/lib/dracut} f
	mkdir -p "$base/modules.d" || return 1
	for f in "$sys"/*; do
		[ "${f##*/}" = modules.d ] || ln -sf "$f" "$base/" || return 1
	done
	for f in "$sys"/modules.d/*; do
		# dracut knows a module by its name without the number: any NNlazyroot
		case ${f##*/} in [0-9][0-9]lazyroot) continue ;; esac
		ln -sf "$f" "$base/modules.d/" || return 1
	done
	cp -RL "$module" "$base/modules.d/"
}

# dracut_env_setup DIR CA: $DIR/dracut-base and $DIR/dracut-conf.d, for images
# that hold this tree's daemon/lazyrootd and trust CA
dracut_env_setup() {
	local dir=$1 ca=$2
	DRACUT_BASE=$dir/dracut-base
	DRACUT_CONF=$dir/dracut-conf.d
	mkdir -p "$DRACUT_CONF"
	dracut_base "$DRACUT_BASE" dracut-module/90lazyroot || return 1
	cat >"$DRACUT_CONF/lazyroot.conf" <<-EOC
		lazyroot_daemon=${LAZYROOT_DAEMON:-$PWD/daemon/lazyrootd}
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
