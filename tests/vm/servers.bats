#!/usr/bin/env bats
# Real boots of the test root from other static HTTPS servers than the tests'
# nginx: Debian's lighttpd and Apache serve the same published images (one
# CA for all), plain and verified, through both kernel front ends (fscache
# on the test kernel, NBD on the kernel without on-demand cachefiles).
# The root's own init checks every file's sha256; the server's log shows it
# served the image.

bats_require_minimum_version 1.5.0

setup_file() {
	. tests/lib/vm-env.sh
	vm_env_setup "$BATS_FILE_TMPDIR" 8
	vm_verified_image || return 1
	KERNEL_NBD=$(tests/lib/build-kernel no-ondemand)
	# The initramfs trusts nginx's CA: the other servers get certificates from it.
	for k in lighttpd apache; do
		mkdir -p "$W/$k"
		cp "$W/srv/ca.pem" "$W/srv/ca.key" "$W/srv/wrong-ca.pem" "$W/srv/wrong-ca.key" "$W/$k/"
		HTTPS_SERVER=$k tests/lib/https-server start "$W/$k" "$W/www"
	done
	export W KERNEL_NBD
}

teardown_file() {
	tests/lib/https-server stop "$W/srv"
	for k in lighttpd apache; do
		HTTPS_SERVER=$k tests/lib/https-server stop "$W/$k"
	done
}

# url SERVER DIR: the images in DIR of SERVER's copy, as the guest sees them
url() { echo "https://10.0.2.2:$(cat "$W/$1/port")/$2/"; }

# boot KERNEL NAME KERNEL-ARGS...: boots the busybox initramfs; sets log and
# qemu_status
boot() {
	local kernel=$1
	log="$W/$2.log"
	shift 2
	qemu_status=0
	tests/lib/qemu-run --kernel "$kernel" --initrd "$W/initrd.img" --log "$log" \
		--timeout 300 --append "console=ttyS0 panic=-1 $*" || qemu_status=$?
	grep -v '^\[' "$log" | tail -n 30
}

# root_ok SERVER BACKEND PATH: the root came up and checked out, over BACKEND,
# and SERVER answered range requests for PATH
root_ok() {
	[ "$qemu_status" -eq 0 ]
	grep -q "^lazyroot: starting lazyrootd (backend $2)\$" "$log"
	grep -q '^LAZYROOT-TEST: sha256 ok (10 files)' "$log"
	grep -q '^LAZYROOT-TEST: read big rc=0 ' "$log"
	grep -Eq 'lazyrootd: stats: opens [1-9], .*errors 0$' "$log"
	grep -q '^LAZYROOT-TEST: done' "$log"
	HTTPS_SERVER=$1 tests/lib/https-server log "$W/$1" | grep -Eq "^GET $3[^ ]* HTTP/1\\.1	206	bytes="
}

@test "lighttpd: a plain root through fscache" {
	boot "$KERNEL" l-plain erofs.fsid=rootfs-test erofs.url="$(url lighttpd img)" lazyroot.test=readbig
	root_ok lighttpd fscache /img/rootfs-test
}

@test "lighttpd: a verified root over NBD" {
	boot "$KERNEL_NBD" l-verified erofs.fsid=rootfs-v erofs.digest="$DIGEST" \
		erofs.url="$(url lighttpd vimg)" lazyroot.test=readbig
	root_ok lighttpd nbd /vimg/packs/
	grep -Eq 'lazyrootd: stats: chunks verified [1-9][0-9]*, failed verification 0$' "$log"
}

@test "Apache: a plain root over NBD" {
	boot "$KERNEL_NBD" a-plain erofs.fsid=rootfs-test erofs.url="$(url apache img)" lazyroot.test=readbig
	root_ok apache nbd /img/rootfs-test
}

@test "Apache: a verified root through fscache" {
	boot "$KERNEL" a-verified erofs.fsid=rootfs-v erofs.digest="$DIGEST" \
		erofs.url="$(url apache vimg)" lazyroot.test=readbig
	root_ok apache fscache /vimg/packs/
	grep -Eq 'lazyrootd: stats: chunks verified [1-9][0-9]*, failed verification 0$' "$log"
}
