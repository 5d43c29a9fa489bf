#!/bin/sh
# shellcheck disable=SC2034,SC2154 # rootok, netroot: for dracut's init; hookdir: from it
# lazyroot cmdline hook (sourced by dracut's init: return, never exit).
#
# Grammar:
#   [root=erofs] erofs.fsid=FSID erofs.url=https://HOST[:PORT]/PATH/
#       boot the EROFS image FSID published under the URL. root= may be left out;
#       root=erofs without erofs.fsid= is an error. Any other root= wins: erofs.* is ignored.
#   erofs.ca=, erofs.timeout=      read by lazyrootd itself
#   erofs.cachesize=SIZE            size of the RAM-backed cache (see lazyrootroot)
#   rd.lazyroot.debug               lazyrootd logs every request
#
# Sets rootok=1, root=erofs and netroot=lazyroot:FSID: the network module brings the network
# up and then runs /sbin/lazyrootroot (netroot handler) for it.

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

_lr_url=$(getarg erofs.url=)
[ -n "$_lr_url" ] ||
    die "lazyroot: missing erofs.url= on the kernel command line (https://HOST/PATH of the image)"
# The checks of the busybox /init, in a subshell: its getarg/warn/die must not replace dracut's.
_lr_err=$(
    # shellcheck source=lazyroot-lib.sh
    . "${LR_LIBDIR:-/lib/lazyroot}"/lazyroot-lib.sh
    lr_check_fsid "$_lr_fsid" && lr_check_url "$_lr_url" && exit 0
    printf '%s\n' "$LR_ERR"
    exit 1
) || die "lazyroot: $_lr_err"

info "lazyroot: root image erofs.fsid=$_lr_fsid from $_lr_url"
root=erofs
netroot=lazyroot:$_lr_fsid
rootok=1
# the initqueue is done when lazyrootroot has mounted the root or given up
echo '[ -e /run/lazyroot/up ] || [ -e /run/lazyroot/failed ]' >"$hookdir"/initqueue/finished/lazyroot.sh
unset _lr_fsid _lr_url _lr_err
