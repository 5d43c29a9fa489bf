#!/usr/bin/env bats
# The fscache route on a newer kernel: the test kernel built from Debian 12's
# linux-source-6.12 (tests/kernel/v6.12.config), where EROFS's fscache mode
# is deprecated but there. erofs.backend=auto must take fscache, and the
# busybox initramfs boots a plain and a verified root from it.

bats_require_minimum_version 1.5.0

setup_file() {
	. tests/lib/vm-env.sh
	VM_KERNEL_VARIANT=v6.12 vm_env_setup "$BATS_FILE_TMPDIR" 8
	vm_verified_image || return 1
	export W
}

teardown_file() {
	tests/lib/https-server stop "$W/srv"
}

setup() {
	. tests/lib/vm-env.sh
}

# on_fscache: the 6.12 kernel, auto took fscache, the root came up right
on_fscache() {
	[ "$qemu_status" -eq 0 ]
	grep -q 'Linux version 6\.12\.' "$log"
	grep -q '^lazyroot: starting lazyrootd (backend fscache)$' "$log"
	# 6.12's zram has its own lzo, without the crypto API
	grep -Eq '^lazyroot: cache: [0-9]+[KMGT] ext2 on /dev/zram[1-9][0-9]* \(zram: ' "$log"
	grep -q '^lazyroot: mounting EROFS fsid=' "$log"
	run ! grep -q 'lazyrootd: nbd0' "$log"
	# this kernel can take a restarted worker
	run ! grep -q 'has no "restore"' "$log"
	grep -q '^LAZYROOT-TEST: root is up: overlay' "$log"
	grep -q '^LAZYROOT-TEST: sha256 ok (10 files)$' "$log"
	grep -q '^LAZYROOT-TEST: read big rc=0 ' "$log"
	grep -q '^LAZYROOT-TEST: lazyrootd alive as @lazyrootd$' "$log"
	grep -Eq 'lazyrootd: stats: opens [1-9], .*errors 0$' "$log"
	grep -q '^LAZYROOT-TEST: done' "$log"
}

@test "6.12, erofs.backend=auto: takes fscache; a plain root boots" {
	vm_boot_test plain 300 erofs.fsid=rootfs-test erofs.url="$(vm_url "$PORT")" lazyroot.test=readbig
	on_fscache
}

@test "6.12, erofs.backend=auto: takes fscache; a verified root boots" {
	vm_boot_test verified 300 erofs.fsid=rootfs-v erofs.digest="$DIGEST" \
		erofs.url="https://10.0.2.2:$PORT/vimg/" lazyroot.test=readbig
	on_fscache
	grep -Eq 'lazyrootd: stats: chunks verified [1-9][0-9]*, failed verification 0$' "$log"
}
