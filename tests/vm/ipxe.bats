#!/usr/bin/env bats
# PXE boot as a machine would do it: no -kernel; the NIC's iPXE ROM gets
# DHCP and a boot script over TFTP from QEMU, loads the kernel and the
# lazyroot initramfs, and the root then comes over HTTPS.

bats_require_minimum_version 1.5.0

setup_file() {
	. tests/lib/vm-env.sh
	vm_env_setup "$BATS_FILE_TMPDIR" 8
}

teardown_file() {
	tests/lib/https-server stop "$W/srv"
}

setup() {
	. tests/lib/vm-env.sh
}

@test "iPXE loads kernel and initramfs over TFTP, the root comes over HTTPS" {
	run vm_boot_ipxe ipxe 300 erofs.fsid=rootfs-test erofs.url="$(vm_url "$PORT")"
	log="$W/ipxe.log"
	grep -v '^\[' "$log" | tail -n 30
	[ "$status" -eq 0 ]
	# the command line came from boot.ipxe: only iPXE could have passed it
	grep -q "Command line: console=ttyS0 panic=-1 erofs.fsid=rootfs-test erofs.url=$(vm_url "$PORT")\$" "$log"
	grep -q '^LAZYROOT-TEST: sha256 ok' "$log"
	grep -q '^LAZYROOT-TEST: done' "$log"
}
