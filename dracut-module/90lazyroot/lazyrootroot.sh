#!/bin/sh
# /sbin/lazyrootroot NETIF NETROOT NEWROOT: dracut's netroot handler for netroot=lazyroot:FSID,
# run by /sbin/netroot once NETIF is up. The steps of lazyroot-lib.sh, as the busybox /init
# runs them: for fscache the cache filesystem (ext2 on a loop device over a sparse file in
# /run: cachefiles refuses tmpfs; or the erofs.cache= disk), lazyrootd as "@lazyrootd" (in a
# systemd initramfs as lazyrootd.service, which the root's systemd keeps), the EROFS image
# (-o fsid=FSID, or from /dev/nbdN for NBD) and a tmpfs overlay on NEWROOT. The cmdline hook
# has checked the command line and the kernel.
#
# Done: /run/lazyroot/up. Failed: one warning naming the reason (for an OPEN that lazyrootd
# refused, its error file: the fsid, the URL and why), the same line in /run/lazyroot/failed;
# then dracut's die (systemd) or the mount hook lazyroot-failed.sh (shell init) stops the boot.

PATH=/usr/sbin:/usr/bin:/sbin:/bin
# shellcheck disable=SC1091 # dracut's, in the initramfs
. /lib/dracut-lib.sh
# shellcheck source=lazyroot-lib.sh
. /lib/lazyroot/lazyroot-lib.sh
LR_TAG='lazyroot: '

netroot_fsid=${2#lazyroot:}
NEWROOT=${3:-${NEWROOT:-/sysroot}}

# Called once per interface that comes up: the first call decides.
[ -e "$LR_RUN/up" ] || [ -e "$LR_RUN/failed" ] && exit 0

fail() {
    warn "lazyroot: $*"
    printf 'lazyroot: %s\n' "$*" >"$LR_RUN/failed"
    [ -z "$DRACUT_SYSTEMD" ] || die "lazyroot: cannot boot erofs.fsid=${LR_FSID:-$netroot_fsid}"
    exit 1
}

mkdir -p "$LR_RUN" || fail "cannot create $LR_RUN"
getargbool 0 rd.lazyroot.debug && LR_DEBUG=1
lr_parse_root || fail "$LR_ERR"
# the cmdline hook checked the kernel; this process needs its choice, LR_BACKEND
lr_kernel_check || fail "$LR_ERR"
lr_cache_setup || fail "$LR_ERR"
if [ -n "$DRACUT_SYSTEMD" ]; then
    # A service of its own. Left in the initqueue's cgroup, it would be killed with it when the
    # root's systemd isolates default.target. IgnoreOnIsolate keeps it through that and through
    # switch-root, DefaultDependencies=no out of shutdown.target's conflicts; the final killing
    # spree spares '@'. The transient unit lives in /run, which the root keeps. Its lines
    # before it forks show on the console, as they do without systemd. KillMode=process: if
    # the supervisor (the main process) dies, its worker must go on serving the root.
    lr_daemon_start systemd-run --quiet --unit=lazyrootd --service-type=forking \
        --description="lazyroot: the root file system's block server" \
        -p DefaultDependencies=no -p IgnoreOnIsolate=yes -p RefuseManualStop=yes \
        -p KillMode=process \
        -p StandardOutput=journal+console -p StandardError=journal+console \
        /usr/lib/lazyroot/lazyrootd-at
else
    lr_daemon_start /usr/lib/lazyroot/lazyrootd-at
fi || fail "$LR_ERR"
lr_mount_root "$NEWROOT" || fail "$LR_ERR"

lr_info "erofs.fsid=$LR_FSID mounted on $NEWROOT (EROFS from $LR_URL, tmpfs overlay)"
: >"$LR_RUN/up"
exit 0
