# shellcheck shell=bash
# Shared set-up for VM scenarios (tests/vm, tests/demo, tests/bench):
# the test kernel, a test root image published by nginx on 127.0.0.1 and
# an initramfs that trusts the server's CA. Source it from the repo root.

# vm_host_setup DIR: the test kernel (the variant $VM_KERNEL_VARIANT of it
# if set, e.g. v6.12) and nginx on 127.0.0.1 serving DIR/www (images go in
# DIR/www/img); sets W=DIR, KERNEL, PORT
vm_host_setup() {
	W=$1
	mkdir -p "$W/www/img"
	KERNEL=$(tests/lib/build-kernel ${VM_KERNEL_VARIANT:+"$VM_KERNEL_VARIANT"})
	tests/lib/https-server start "$W/srv" "$W/www"
	PORT=$(cat "$W/srv/port")
}

# vm_env_setup DIR BIG_MIB [with-curl]: fills DIR; sets KERNEL, PORT, IMAGE
vm_env_setup() {
	local big=$2 curl_ca=
	vm_host_setup "$1"
	[ "${3:-}" != with-curl ] || curl_ca="$W/srv/ca.pem"
	tests/lib/make-test-rootfs "$W/rootfs" "$big" $curl_ca
	IMAGE="$W/www/img/rootfs-test"
	rm -f "$IMAGE" "$IMAGE.sha256"
	images/lazyroot-mkimage --fsid rootfs-test "$W/rootfs" "$W/www/img" \
		> /dev/null 2> "$W/mkimage.log" || { cat "$W/mkimage.log" >&2; return 1; }
	initrd/lazyroot-mkinitrd --output "$W/initrd.img" --ca "$W/srv/ca.pem" > /dev/null
	export W KERNEL PORT IMAGE
}

# vm_url PORT: the image URL as the guest sees the host's loopback
vm_url() { echo "https://10.0.2.2:$1/img/"; }

# vm_boot NAME TIMEOUT KERNEL-ARGS...: console to $W/NAME.log (with the
# serial line's CRs dropped once QEMU is done); $VM_DISK, if set, is the
# guest's /dev/vda; returns qemu-run's status
vm_boot() {
	local name=$1 timeout=$2 status=0
	shift 2
	tests/lib/qemu-run --kernel "$KERNEL" --initrd "$W/initrd.img" ${VM_DISK:+--disk "$VM_DISK"} \
		--log "$W/$name.log" --timeout "$timeout" \
		--append "console=ttyS0 panic=-1 $*" || status=$?
	return $status
}

# vm_lost_timer LOG: how many times the guest of console LOG did not run
# its timer for seconds (soft lockups, clock-watchdog long readouts), for
# make bench's notes: that boot's time counts those seconds
vm_lost_timer() {
	grep -Ec 'watchdog: BUG: soft lockup|clocksource: Long readout interval' "$1" || :
}

# vm_verified_image: publishes $W/rootfs as the verified image rootfs-v
# under $W/www/vimg (https://10.0.2.2:PORT/vimg/); sets and exports DIGEST
vm_verified_image() {
	images/lazyroot-mkimage --verified --fsid rootfs-v "$W/rootfs" "$W/www/vimg" \
		>"$W/vimg.out" 2>"$W/vimg.log" || { cat "$W/vimg.log" >&2; return 1; }
	read -r _ DIGEST <"$W/vimg.out"
	export DIGEST
}

# vm_booted_ok: the boot of the busybox test root ($log, $qemu_status)
# ended well and every file of the root checked out
vm_booted_ok() {
	[ "$qemu_status" -eq 0 ]
	grep -q '^LAZYROOT-TEST: sha256 ok (10 files)' "$log"
	grep -q '^LAZYROOT-TEST: done' "$log"
}

# vm_dracut_booted_ok: as vm_booted_ok, through a dracut initramfs: the root
# came up from the image, and lazyrootd, started as @lazyrootd so that
# systemd spares it at switch-root and shutdown, served it afterwards
vm_dracut_booted_ok() {
	vm_booted_ok
	grep -q '^LAZYROOT-TEST: root is up: overlay' "$log"
	grep -q '^LAZYROOT-TEST: root is writable' "$log"
	# /data/big was never read before switch_root
	grep -q '^LAZYROOT-TEST: read big rc=0 ' "$log"
	grep -q '^LAZYROOT-TEST: lazyrootd alive as @lazyrootd$' "$log"
	grep -Eq 'lazyrootd: stats: opens 1, .*errors 0$' "$log"
}

# vm_boot_test NAME TIMEOUT KERNEL-ARGS...: vm_boot for a bats test (under
# `run`): sets log and qemu_status, then prints the console's last lines,
# which bats shows only when the test fails
vm_boot_test() {
	log="$W/$1.log"
	run vm_boot "$@"
	qemu_status=$status
	grep -v '^\[' "$log" | tail -n 40
}

# vm_boot_ipxe NAME TIMEOUT KERNEL-ARGS...: network-boots like a PXE client:
# QEMU's DHCP hands out boot.ipxe over TFTP, iPXE loads kernel and initrd
# from there; console to $W/NAME.log
vm_boot_ipxe() {
	local name=$1 timeout=$2 status=0 tftp="$W/tftp-$1"
	shift 2
	mkdir -p "$tftp"
	cp "$KERNEL" "$tftp/vmlinuz"
	cp "$W/initrd.img" "$tftp/lazyroot-initrd.img"
	cat > "$tftp/boot.ipxe" <<-EOF
		#!ipxe
		dhcp
		kernel vmlinuz console=ttyS0 panic=-1 $*
		initrd lazyroot-initrd.img
		boot
	EOF
	tests/lib/qemu-run --log "$W/$name.log" --timeout "$timeout" \
		--netdev-extra "tftp=$tftp,bootfile=boot.ipxe" || status=$?
	return $status
}
