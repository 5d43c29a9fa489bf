#!/bin/sh
# /sbin/lazyrootroot NETIF NETROOT NEWROOT: dracut's netroot handler for netroot=lazyroot:FSID,
# run by /sbin/netroot once NETIF is up. Makes the cache filesystem (ext2 on a loop device
# over a sparse file in /run: cachefiles refuses tmpfs), starts lazyrootd as "@lazyrootd"
# (systemd spares '@' processes at switch-root and shutdown: it is the root's storage; in a
# systemd initramfs it runs as lazyrootd.service, which the root's systemd keeps), mounts the EROFS
# image with -o fsid=FSID and a tmpfs overlay on NEWROOT.
#
# Done: /run/lazyroot/up. Failed: one warning naming the fsid, the URL and the reason (for an
# OPEN that lazyrootd refused, its error file), the same line in /run/lazyroot/failed; then
# dracut's die (systemd) or the mount hook lazyroot-failed.sh (shell init) stops the boot.
# Command line: erofs.url= (lazyrootd reads it, with erofs.ca= and erofs.timeout=),
# erofs.cachesize=SIZE (16M..1T; default 4G or half the RAM if less), erofs.cache=/dev/DEV
# (pages kept on that disk across boots), rd.lazyroot.debug.

PATH=/usr/sbin:/usr/bin:/sbin:/bin
# lazyroot-lib.sh first: dracut-lib.sh then replaces its getarg, info, warn and die.
# shellcheck source=lazyroot-lib.sh
. /lib/lazyroot/lazyroot-lib.sh
# shellcheck disable=SC1091 # dracut's, in the initramfs
. /lib/dracut-lib.sh

RUN=$LR_RUN
fsid=${2#lazyroot:}
NEWROOT=${3:-${NEWROOT:-/sysroot}}
url=$(getarg erofs.url=)

# Called once per interface that comes up: the first call decides.
[ -e "$RUN/up" ] || [ -e "$RUN/failed" ] && exit 0

fail() {
    warn "lazyroot: $*"
    printf 'lazyroot: %s\n' "$*" >"$RUN/failed"
    [ -z "$DRACUT_SYSTEMD" ] || die "lazyroot: cannot boot erofs.fsid=$fsid"
    exit 1
}

[ -n "$fsid" ] || fail "netroot=$2: no fsid"
mkdir -p "$RUN/lower" "$RUN/rw" || fail "cannot create $RUN"
getargbool 0 rd.lazyroot.debug && LR_DEBUG=1

# the kernel features (modules, if not built in)
modprobe -q -a cachefiles erofs overlay loop ext4 2>/dev/null
[ -c /dev/cachefiles ] ||
    fail "kernel lacks CONFIG_CACHEFILES (/dev/cachefiles missing)"
lr_have_fs erofs ||
    fail "kernel lacks CONFIG_EROFS_FS (erofs not in /proc/filesystems)"
lr_have_fs overlay ||
    fail "kernel lacks overlayfs (CONFIG_OVERLAY_FS; overlay missing from /proc/filesystems)"
lr_have_fs ext4 || lr_have_fs ext2 ||
    fail "kernel lacks ext4/ext2 for the cache filesystem (CONFIG_EXT4_FS)"

if v=$(getarg erofs.cachesize=) && [ -n "$v" ]; then
    lr_parse_size "$v" || fail "$LR_ERR"
    # shellcheck disable=SC2034 # read by lr_cache_setup
    LR_CACHESIZE=$LR_SIZE LR_CACHESIZE_ARG=$v
else
    lr_default_cachesize
fi
if v=$(getarg erofs.cache=) && [ -n "$v" ]; then
    lr_check_cachedev "$v" || fail "$LR_ERR"
    # shellcheck disable=SC2034 # read by lr_cache_setup
    LR_CACHEDEV=$v
fi
lr_cache_setup || fail "$LR_ERR"

# The parent exits 0 once bound to /dev/cachefiles, or non-zero after one error line.
info "lazyroot: starting lazyrootd (erofs.url=$url, via $1)"
set -- --cache-dir "$RUN/cache" --error-file "$RUN/error" \
    ${LR_STORE_DIR:+--store-dir "$LR_STORE_DIR"} ${LR_DEBUG:+--verbose}
if [ -n "$DRACUT_SYSTEMD" ]; then
    # A service of its own. Left in the initqueue's cgroup, it would be killed with it when the
    # root's systemd isolates default.target. IgnoreOnIsolate keeps it through that and through
    # switch-root, DefaultDependencies=no out of shutdown.target's conflicts; the final killing
    # spree spares '@'. The transient unit lives in /run, which the root keeps. Its lines
    # before it forks show on the console, as they do without systemd.
    systemd-run --quiet --unit=lazyrootd --service-type=forking \
        --description="lazyroot: the root file system's block server" \
        -p DefaultDependencies=no -p IgnoreOnIsolate=yes -p RefuseManualStop=yes \
        -p StandardOutput=journal+console -p StandardError=journal+console \
        /usr/lib/lazyroot/lazyrootd-at "$@"
else
    /usr/lib/lazyroot/lazyrootd-at "$@" </dev/null
fi || fail "lazyrootd failed to start"

if ! out=$(mount -t erofs -o "fsid=$fsid" none "$RUN/lower" 2>&1); then
    lr_erofs_mount_error "$fsid" "$out" "$RUN/error"
    fail "$LR_ERR"
fi
out=$(mount -t tmpfs -o mode=0755 tmpfs "$RUN/rw" 2>&1) ||
    fail "cannot mount a tmpfs on $RUN/rw: $out"
mkdir -p "$RUN/rw/upper" "$RUN/rw/work"
out=$(mount -t overlay overlay \
    -o "lowerdir=$RUN/lower,upperdir=$RUN/rw/upper,workdir=$RUN/rw/work" "$NEWROOT" 2>&1) ||
    fail "cannot mount the overlay on $NEWROOT: $out"

info "lazyroot: erofs.fsid=$fsid mounted on $NEWROOT (EROFS from $url, tmpfs overlay)"
: >"$RUN/up"
exit 0
