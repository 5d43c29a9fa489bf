#!/usr/bin/env bats
# Debian 12's own kernel (tests/lib/stock-kernel: the package linux-image-amd64
# depends on, unpacked into the cache, never installed) boots the test root
# with lazyroot's busybox initramfs, made by lazyroot-mkinitrd --kmoddir from
# the package's modules. /init loads erofs, overlay, nbd (and what that kernel
# has of cachefiles, zram, loop, ext4), then the drivers of the devices QEMU gives
# it (virtio_pci, then virtio_rng and virtio_net); since that kernel has no on-demand
# cachefiles, erofs.backend=auto takes NBD and the root mounts from /dev/nbd0.

bats_require_minimum_version 1.5.0

setup_file() {
	. tests/lib/vm-env.sh
	. tests/lib/stock-env.sh
	W=$BATS_FILE_TMPDIR
	export W
	stock_env_setup "$W/stock-kernel.err" || return 1
	[ -z "${STOCK_SKIP:-}" ] || return 0
	KMODDIR=$STOCK_KDIR/lib/modules/$STOCK_KVER
	mkdir -p "$W/www/img"
	tests/lib/https-server start "$W/srv" "$W/www"
	PORT=$(cat "$W/srv/port")
	tests/lib/make-test-rootfs "$W/rootfs" 8
	images/lazyroot-mkimage --fsid rootfs-test "$W/rootfs" "$W/www/img" \
		>/dev/null 2>"$W/img.log" || { cat "$W/img.log" >&2; return 1; }
	vm_verified_image || return 1
	initrd/lazyroot-mkinitrd --output "$W/initrd.img" --ca "$W/srv/ca.pem" \
		--kmoddir "$KMODDIR" >"$W/initrd.out"
	# a module that fails to load on this machine (not Hyper-V: ENODEV)
	initrd/lazyroot-mkinitrd --output "$W/hyperv.img" --ca "$W/srv/ca.pem" \
		--kmoddir "$KMODDIR" --force-drivers hv_vmbus >/dev/null
	# without the NIC's driver
	initrd/lazyroot-mkinitrd --output "$W/nonic.img" --ca "$W/srv/ca.pem" \
		--kmoddir "$KMODDIR" --omit-drivers virtio_net >/dev/null
	# modules said to be for another kernel release
	initrd/lazyroot-mkinitrd --output "$W/other.img" --ca "$W/srv/ca.pem" \
		--kmoddir "$KMODDIR" --kver 6.1.0-0-other >/dev/null
	export KMODDIR PORT
}

teardown_file() {
	[ -z "${W:-}" ] || [ ! -e "$W/srv/port" ] || tests/lib/https-server stop "$W/srv"
}

setup() {
	[ -z "${STOCK_SKIP:-}" ] || skip "$STOCK_SKIP"
	. tests/lib/vm-env.sh
	. tests/lib/stock-env.sh
}

@test "stock kernel, busybox initramfs: holds the kernel's nbd, erofs, overlay and NIC modules, uncompressed, and says so" {
	grep -q "^lazyroot-mkinitrd: kernel modules for $STOCK_KVER: [0-9]* files; loaded at boot: erofs overlay nbd cachefiles zram loop ext4; for the devices found: virtio_pci virtio_rng virtio_net e1000 " "$W/initrd.out"
	run -0 bash -c "gzip -dc '$W/initrd.img' | cpio -t --quiet"
	for m in fs/erofs/erofs fs/overlayfs/overlay drivers/block/nbd drivers/net/virtio_net \
		drivers/virtio/virtio_pci drivers/net/ethernet/intel/e1000/e1000 lib/libcrc32c; do
		grep -qx "lib/modules/$STOCK_KVER/kernel/$m.ko" <<<"$output" || { echo "no $m.ko"; return 1; }
	done
	grep -qx "lib/modules/$STOCK_KVER/modules.dep" <<<"$output"
	grep -qx lib/lazyroot/kmod.list <<<"$output"
	# only what lazyroot needs: not the 4000 modules of the package
	[ "$(grep -c '\.ko$' <<<"$output")" -lt 100 ]
}

@test "stock kernel, busybox init, erofs.backend=auto: loads the modules, takes NBD, the root mounts from /dev/nbd0" {
	stock_boot "$W/initrd.img" bb-plain erofs.fsid=rootfs-test erofs.url="$(vm_url "$PORT")" \
		lazyroot.test=readbig
	stock_booted_over_nbd 1
	grep -q '^lazyroot: kernel modules loaded: erofs overlay nbd cachefiles zram loop ext4$' "$log"
	grep -q '^lazyroot: drivers for the devices found: virtio_pci virtio_rng virtio_net$' "$log"
	grep -q '^lazyroot: starting lazyrootd (backend nbd)$' "$log"
}

@test "stock kernel, busybox init: a verified root on /dev/nbd0 and /dev/nbd1" {
	stock_boot "$W/initrd.img" bb-verified erofs.fsid=rootfs-v erofs.digest="$DIGEST" \
		erofs.url="https://10.0.2.2:$PORT/vimg/" lazyroot.test=readbig
	stock_booted_over_nbd 2
	grep -Eq 'lazyrootd: stats: chunks verified [1-9][0-9]*, failed verification 0$' "$log"
}

@test "stock kernel, busybox init, erofs.backend=fscache: the loaded cachefiles lacks on-demand: one line" {
	stock_boot "$W/initrd.img" bb-fscache erofs.backend=fscache erofs.fsid=rootfs-test \
		erofs.url="$(vm_url "$PORT")"
	[ "$qemu_status" -ne 124 ]
	grep -q '^lazyroot: this kernel cannot serve the root on demand (erofs.backend=fscache): /dev/cachefiles has no on-demand mode (CONFIG_CACHEFILES_ONDEMAND), EROFS has no fscache mode (CONFIG_EROFS_FS_ONDEMAND); see docs/kernel.md$' "$log"
	run ! grep -q '^LAZYROOT-TEST' "$log"
}

@test "stock kernel, busybox init: a module that cannot load stops the boot with one line naming it" {
	stock_boot "$W/hyperv.img" bb-hyperv erofs.fsid=rootfs-test erofs.url="$(vm_url "$PORT")"
	[ "$qemu_status" -ne 124 ]
	grep -q '^lazyroot: cannot load kernel module hv_vmbus: No such device$' "$log"
	run ! grep -q 'lazyroot: starting lazyrootd' "$log"
	run ! grep -q '^LAZYROOT-TEST' "$log"
}

@test "stock kernel, busybox init: modules of another kernel release: one line, nothing loaded" {
	stock_boot "$W/other.img" bb-other erofs.fsid=rootfs-test erofs.url="$(vm_url "$PORT")"
	[ "$qemu_status" -ne 124 ]
	grep -q "^lazyroot: this initramfs has the kernel modules of 6.1.0-0-other but the kernel is $STOCK_KVER (make one with lazyroot-mkinitrd --kmoddir /lib/modules/$STOCK_KVER)\$" "$log"
	run ! grep -q 'lazyroot: kernel modules loaded' "$log"
}

@test "stock kernel, busybox init: no driver for the NIC: the network wait says where the driver goes" {
	stock_boot "$W/nonic.img" bb-nonic erofs.fsid=rootfs-test erofs.url="$(vm_url "$PORT")" \
		rd.lazyroot.nettimeout=5
	[ "$qemu_status" -ne 124 ]
	grep -q '^lazyroot: drivers for the devices found: virtio_pci virtio_rng$' "$log"
	grep -q '^lazyroot: no ethernet interface appeared within 5s (is its driver in the initramfs? lazyroot-mkinitrd --add-drivers)$' "$log"
}
