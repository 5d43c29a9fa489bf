#!/bin/bash
# shellcheck disable=SC2154 # moddir, initdir, hookdir, systemdutildir: set by dracut
# module-setup.sh for lazyroot: boot a root filesystem that an HTTPS server serves as an
# EROFS image, fetched block by block by lazyrootd (cachefiles on-demand mode, or NBD).
#
# Included only when asked for (dracut --add lazyroot, or add_dracutmodules+=" lazyroot ").
# Build-time settings, from dracut.conf(.d) or the environment:
#   lazyroot_daemon=PATH  the lazyrootd binary to install as /usr/sbin/lazyrootd;
#                         default: where `make install` put it, else lazyrootd in PATH
#   lazyroot_ca=PEM       CA bundle that signs the image server's certificate, installed as
#                         /etc/lazyroot/ca.pem; default: /etc/lazyroot/ca.pem of the build
#                         host if it exists, else the host's /etc/ssl/certs/ca-certificates.crt
#   lazyroot_image_key=PEM  public key that signs the verified images (lazyroot-mkimage --sign),
#                         installed as /etc/lazyroot/image-key.pem: lazyrootd then boots only
#                         images whose manifest it signs
#
# The command line is documented in parse-lazyroot.sh and docs/dracut.md.

# Where `make install` put the daemon: lazyroot-paths.sh, which it makes from
# lazyroot-paths.sh.in next to this file. Empty when the module is used from the source tree.
lazyroot_installed_daemon=

# called by dracut
check() {
    require_binaries bash mke2fs losetup truncate || return 1
    # nothing on a running system says "this root came from lazyroot": only on request
    return 255
}

# lazyroot_networkd_runs_netroot: this dracut's systemd-networkd backend runs network-root
# handlers (its initqueue hook calls /sbin/netroot, as in dracut 106; 059's has no such hook).
lazyroot_networkd_runs_netroot() {
    grep -qs /sbin/netroot "$dracutbasedir"/modules.d/[0-9][0-9]systemd-networkd/*
}

# called by dracut
depends() {
    local m
    # A backend the user asked for (dracut --add network-manager, ...) is kept.
    for m in network-legacy network-manager connman network-wicked systemd-networkd; do
        if dracut_module_included "$m"; then
            echo network
            return 0
        fi
    done
    # Else network picks one. dracut 059's choice on a systemd host, systemd-networkd, neither
    # configures an interface from ip= nor runs netroot handlers: there, ask for network-legacy
    # (dhclient) when it can be had. dracut 106's backends all do both: its choice stands.
    if ! lazyroot_networkd_runs_netroot && find_binary dhclient >/dev/null; then
        echo network-legacy network
    else
        echo network
    fi
    return 0
}

# called by dracut
installkernel() {
    # no-ops when these are built in (or with --no-kernel)
    # nbd: the route of kernels without on-demand cachefiles (Debian's, Ubuntu's, RHEL's)
    hostonly='' instmods cachefiles erofs overlay zram loop ext4 nbd
}

# called by dracut
install() {
    local daemon ca lib

    # shellcheck source=/dev/null # made by make install
    [[ -r $moddir/lazyroot-paths.sh ]] && . "$moddir/lazyroot-paths.sh"
    daemon=${lazyroot_daemon:-$lazyroot_installed_daemon}
    [[ -x $daemon ]] || daemon=$(find_binary lazyrootd)
    if [[ ! -x $daemon ]]; then
        derror "lazyroot: lazyrootd not found (set lazyroot_daemon= in dracut.conf)"
        return 1
    fi
    inst_binary "$daemon" /usr/sbin/lazyrootd || return 1

    if [[ -n ${lazyroot_ca-} ]]; then
        ca=$lazyroot_ca
        if [[ ! -r $ca ]]; then
            derror "lazyroot: lazyroot_ca=$ca: not readable"
            return 1
        fi
    elif [[ -r ${dracutsysrootdir-}/etc/lazyroot/ca.pem ]]; then
        ca=${dracutsysrootdir-}/etc/lazyroot/ca.pem
    fi
    if [[ -n ${ca-} ]]; then
        inst_simple "$ca" /etc/lazyroot/ca.pem || return 1
    elif [[ -r ${dracutsysrootdir-}/etc/ssl/certs/ca-certificates.crt ]]; then
        inst_simple /etc/ssl/certs/ca-certificates.crt
    else
        dwarn "lazyroot: no CA: set lazyroot_ca= (the server's certificate cannot be checked)"
    fi

    if [[ -n ${lazyroot_image_key-} ]]; then
        if ! grep -q -- '-----BEGIN PUBLIC KEY-----' "$lazyroot_image_key" 2>/dev/null; then
            derror "lazyroot: lazyroot_image_key=$lazyroot_image_key: not a readable PEM public key"
            return 1
        fi
        inst_simple "$lazyroot_image_key" /etc/lazyroot/image-key.pem || return 1
    fi

    # the boot steps shared with the busybox /init (a link into initrd/ in the source tree);
    # its busybox-only companion stays out: dracut-lib.sh and dracut's network do that part
    lib=$(readlink -f "$moddir/lazyroot-lib.sh")
    inst_simple "$lib" /lib/lazyroot/lazyroot-lib.sh || return 1

    inst_script "$moddir/lazyrootd-at.sh" /usr/lib/lazyroot/lazyrootd-at || return 1
    inst_multiple bash mke2fs losetup truncate mount umount tail tr sed grep cat mkdir dd od wc \
        rm sleep
    inst_multiple -o modprobe

    inst_hook cmdline 90 "$moddir/parse-lazyroot.sh"
    inst_hook mount 90 "$moddir/lazyroot-failed.sh"
    inst_script "$moddir/lazyrootroot.sh" /sbin/lazyrootroot
    if dracut_module_included systemd-initrd; then
        inst_script "$moddir/lazyroot-generator.sh" \
            "$systemdutildir"/system-generators/dracut-lazyroot-generator
    fi
    dracut_need_initqueue
}
