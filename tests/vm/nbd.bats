#!/usr/bin/env bats
# The NBD backend in QEMU: a minimal busybox initramfs of its own (not
# initrd/init) starts lazyrootd with --backend nbd against nginx on the
# host's loopback (10.0.2.2 in the guest), mounts EROFS from /dev/nbdN and
# checks the files; a write to the device fails instead of hanging.

bats_require_minimum_version 1.5.0

# mkinitrd OUT: busybox, lazyrootd and its libraries, the CA, the expected
# sums and tests/vm/nbd/init
mkinitrd() {
	local root="$W/initrd-root" lib
	rm -rf "$root"
	mkdir -p "$root/bin" "$root/etc" "$root/proc" "$root/sys" "$root/dev"
	cp /bin/busybox "$root/bin/busybox"
	# --list names busybox itself: linking that would replace the binary
	for a in $("$root/bin/busybox" --list); do
		[ "$a" = busybox ] || ln -sf busybox "$root/bin/$a"
	done
	cp daemon/lazyrootd "$root/bin/lazyrootd"
	for lib in $(ldd daemon/lazyrootd | grep -o '/[^ ]*'); do
		mkdir -p "$root$(dirname "$lib")"
		cp -L "$lib" "$root$lib"
	done
	cp "$W/srv/ca.pem" "$root/etc/ca.pem"
	cp "$W/expected.sha256" "$root/etc/expected.sha256"
	cp tests/vm/nbd/init "$root/init"
	(cd "$root" && find . | cpio -o -H newc --quiet | gzip -1) > "$1"
}

setup_file() {
	. tests/lib/vm-env.sh
	vm_host_setup "$BATS_FILE_TMPDIR"
	tree="$W/tree"
	mkdir -p "$tree/data/sub"
	head -c 3000000 /dev/urandom > "$tree/data/big"
	head -c 5000 /dev/urandom > "$tree/data/sub/small"
	echo "hello over nbd" > "$tree/hello.txt"
	seq 1 20000 > "$tree/data/numbers"
	(cd "$tree" && find . -type f | LC_ALL=C sort | xargs sha256sum) \
		> "$W/expected.sha256"
	images/lazyroot-mkimage --fsid nbd-test "$tree" "$W/www/img" \
		> /dev/null 2> "$W/mkimage.log" || { cat "$W/mkimage.log" >&2; return 1; }
	images/lazyroot-mkimage --verified --fsid nbd-v "$tree" "$W/www/vimg" \
		> "$W/vimg.out" 2> "$W/vimg.log" || { cat "$W/vimg.log" >&2; return 1; }
	mkinitrd "$W/initrd.img"
	export W KERNEL PORT
}

teardown_file() {
	tests/lib/https-server stop "$W/srv"
}

setup() {
	. tests/lib/vm-env.sh
}

@test "nbd: a plain image is served as /dev/nbd0; EROFS mounts it and its files check out" {
	vm_boot_test plain 180 erofs.fsid=nbd-test erofs.url="$(vm_url "$PORT")"
	[ "$qemu_status" -eq 0 ]
	grep -q '^NBD-TEST: map: nbd-test /dev/nbd0;$' "$log"
	grep -q '^NBD-TEST: mounted /dev/nbd0 /mnt erofs ro' "$log"
	grep -q '^NBD-TEST: sha256 ok (4 files)$' "$log"
	grep -q 'lazyrootd: backend nbd\|lazyrootd: serving .* through nbd' "$log"
	grep -Eq 'lazyrootd: stats: opens 1, reads [1-9][0-9]*, .*errors 0$' "$log"
	grep -q '^NBD-TEST: done$' "$log"
}

@test "nbd: pages the kernel dropped are answered from the RAM cache, not fetched again" {
	[ -f "$W/plain.log" ] || skip "needs the boot of the previous test"
	log="$W/plain.log"
	grep 'lazyrootd: stats' "$log" # shown when the test fails
	grep -q '^NBD-TEST: sha256 after drop_caches ok$' "$log"
	# every file read again: at least the 3 MB file's bytes from RAM
	grep -Eq 'lazyrootd: stats: RAM cache [0-9]+ of [0-9]+ KiB held, reads answered from it [1-9][0-9]* \([0-9]{7,} bytes\)$' "$log"
	# and none fetched again: the same bytes fetched before drop_caches
	# and after the second reading
	fetched=$(sed -n 's/.*lazyrootd: stats: .*bytes fetched \([0-9]*\),.*/\1/p' "$log" | uniq -c)
	[ "$(echo "$fetched" | wc -l)" -eq 1 ]
	[ "$(echo "$fetched" | awk '{ print $1 }')" -ge 2 ]
}

@test "nbd: a write to the device fails at once, it does not hang" {
	[ -f "$W/plain.log" ] || skip "needs the boot of the previous test"
	log="$W/plain.log"
	grep -Eq '^NBD-TEST: write rc=[1-9]' "$log"
	grep -q '^NBD-TEST: lazyrootd alive: [0-9]' "$log"
}

@test "nbd: a verified image is served as two devices, the data blob on the second" {
	read -r fsid digest < "$W/vimg.out"
	[ "$fsid" = nbd-v ]
	vm_boot_test verified 180 erofs.fsid=nbd-v erofs.digest="$digest" \
		erofs.url="https://10.0.2.2:$PORT/vimg/"
	[ "$qemu_status" -eq 0 ]
	grep -Eq '^NBD-TEST: map: nbd-v /dev/nbd0;[0-9a-f]{64} /dev/nbd1;$' "$log"
	grep -q '^NBD-TEST: sha256 ok (4 files)$' "$log"
	grep -Eq 'lazyrootd: stats: chunks verified [1-9][0-9]*, failed verification 0$' "$log"
	grep -q '^NBD-TEST: done$' "$log"
}
