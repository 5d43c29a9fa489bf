#!/bin/sh
# lazyroot mount hook (shell-based init; sourced by PID 1, so `die` stops the boot):
# /sbin/lazyrootroot runs in the initqueue as a child and can only leave word of a failure in
# /run/lazyroot/failed, where it also warned the reason. Without this hook the mount loop
# would try 20 times before giving up.

if [ -e /run/lazyroot/failed ] && ! ismounted "$NEWROOT"; then
    die "lazyroot: cannot boot erofs.fsid=$(getarg erofs.fsid=) (the reason is above)"
fi
