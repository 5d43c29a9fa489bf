#!/bin/sh
# shellcheck disable=SC2034,SC2154 # rootok, netroot: for dracut's init; hookdir: from it
# lazyroot cmdline hook (sourced by dracut's init: return, never exit).
#
# Grammar (docs/cmdline.md says what each parameter means):
#   [root=erofs] erofs.fsid=FSID erofs.url=https://HOST[:PORT]/PATH/
#       boot the EROFS image FSID published under the URL. root= may be left out;
#       root=erofs without erofs.fsid= is an error. Any other root= wins: erofs.* is ignored.
#   erofs.cachesize=SIZE, erofs.cache=/dev/DEV   the cache (lazyroot-lib.sh's lr_parse_root)
#   erofs.backend=auto|fscache|nbd  the kernel route (lazyroot-lib.sh's lr_kernel_check)
#   erofs.timeout=, erofs.onerror=  checked by lr_parse_root, read again by lazyrootd
#   erofs.ca=, erofs.digest=, erofs.key=   read by lazyrootd itself
#   rd.lazyroot.debug               lazyrootd logs every request
#
# Checks those values and the kernel now, before the network: a bad value or a kernel that
# cannot serve the root stops the boot at once with one line naming it. Then sets rootok=1,
# root=erofs and netroot=lazyroot:FSID: the network module brings the network up and runs
# /sbin/lazyrootroot (the netroot handler) for it.

[ -z "$root" ] && root=$(getarg root=)
_lr_fsid=$(getarg erofs.fsid=)

case $root in
erofs)
    [ -n "$_lr_fsid" ] || die "lazyroot: root=erofs needs erofs.fsid= (the fsid of the EROFS image)"
    ;;
'')
    if [ -z "$_lr_fsid" ]; then
        unset _lr_fsid
        return 0
    fi
    ;;
*)
    [ -z "$_lr_fsid" ] || warn "lazyroot: root=$root takes precedence: ignoring erofs.fsid=$_lr_fsid"
    unset _lr_fsid
    return 0
    ;;
esac
unset _lr_fsid

# shellcheck source=lazyroot-lib.sh
. "${LR_LIBDIR:-/lib/lazyroot}"/lazyroot-lib.sh
LR_TAG='lazyroot: '
lr_parse_root || die "lazyroot: $LR_ERR"
# The kernel's modules, where they are not built in (dracut installed them): nbd for the
# kernels without on-demand cachefiles.
modprobe -q -a cachefiles erofs overlay zram loop ext4 nbd 2>/dev/null
lr_kernel_check || die "lazyroot: $LR_ERR"

lr_info "root image erofs.fsid=$LR_FSID from $LR_URL"
root=erofs
netroot=lazyroot:$LR_FSID
rootok=1
# the initqueue is done when lazyrootroot has mounted the root or given up
echo '[ -e /run/lazyroot/up ] || [ -e /run/lazyroot/failed ]' >"$hookdir"/initqueue/finished/lazyroot.sh
