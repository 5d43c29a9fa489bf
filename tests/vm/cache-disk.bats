#!/usr/bin/env bats
# erofs.cache=/dev/vda: pages fetched in one boot are kept on a local disk
# and served from it in the next, and only while the server's image is the
# same (its NAME.sha256); a disk that is not a lazyroot cache is never touched.

bats_require_minimum_version 1.5.0

setup_file() {
	. tests/lib/vm-env.sh
	vm_env_setup "$BATS_FILE_TMPDIR" 8
	export VM_DISK="$W/cache.disk"
	truncate -s 256M "$VM_DISK"
}

teardown_file() {
	tests/lib/https-server stop "$W/srv"
}

setup() {
	. tests/lib/vm-env.sh
}

# boot NAME: a boot reading all of /data/big; sets log, qemu_status and sent
# (bytes the server sent during it)
boot() {
	local before
	log="$W/$1.log"
	before=$(tests/lib/https-server bytes "$W/srv")
	run vm_boot "$1" 120 erofs.fsid=rootfs-test erofs.url="$(vm_url "$PORT")" \
		erofs.cache=/dev/vda lazyroot.test=readbig
	qemu_status=$status
	sent=$(($(tests/lib/https-server bytes "$W/srv") - before))
	grep -v '^\[' "$log" | tail -n 30
	echo "server sent $sent bytes"
}

booted_ok() {
	[ "$qemu_status" -eq 0 ]
	grep -q '^LAZYROOT-TEST: sha256 ok (10 files)' "$log"
	grep -q '^LAZYROOT-TEST: read big rc=0 ' "$log"
	! grep -q 'sha256 FAILED' "$log"
}

@test "cache disk: a blank disk is formatted; the first boot fetches what it reads" {
	boot first
	booted_ok
	grep -q '^lazyroot: cache: formatted the blank /dev/vda (ext2: this mke2fs makes no journal)$' "$log"
	grep -q 'lazyrootd: blob rootfs-test: 0 of [0-9]* pages kept on disk from earlier boots' "$log"
	[ "$sent" -gt 8000000 ]
}

@test "cache disk: the next boot reads it all from the disk; the server sends next to nothing" {
	boot second
	booted_ok
	! grep -q 'formatting' "$log"
	grep -Eq 'lazyrootd: blob rootfs-test: ([0-9]+) of \1 pages kept on disk from earlier boots' "$log"
	# the blob's probe and its .sha256 only
	[ "$sent" -lt 4096 ]
	grep -Eq 'lazyrootd: stats: .*bytes fetched [0-9]{1,3}, bytes written ([0-9]+) \(from disk \1\), errors 0$' "$log"
}

@test "cache disk: other content under the same fsid is fetched afresh, never served from the old pages" {
	# the same name, other bytes: one small file changes
	echo changed >> "$W/rootfs/data/small0"
	(cd "$W/rootfs" && sha256sum bin/busybox sbin/init data/small* > SHA256SUMS)
	rm -f "$IMAGE" "$IMAGE.sha256"
	images/lazyroot-mkimage --fsid rootfs-test "$W/rootfs" "$W/www/img" > /dev/null 2>&1
	boot third
	booted_ok
	grep -q 'lazyrootd: blob rootfs-test: 0 of [0-9]* pages kept on disk from earlier boots' "$log"
	[ "$sent" -gt 8000000 ]
}

@test "cache disk: without the image's .sha256 nothing is kept, and the boot still works" {
	mv "$IMAGE.sha256" "$IMAGE.sha256.away"
	boot nosum
	mv "$IMAGE.sha256.away" "$IMAGE.sha256"
	booted_ok
	grep -q "lazyrootd: blob rootfs-test: $(vm_url "$PORT")rootfs-test.sha256: HTTP 404; its pages are not kept across boots" "$log"
	! grep -q 'pages kept on disk from earlier boots' "$log"
	grep -Eq 'lazyrootd: stats: .*\(from disk 0\), errors 0$' "$log"
}

@test "cache disk: a disk holding something else is refused with one line, never formatted" {
	other=$W/other.disk
	truncate -s 64M "$other"
	mke2fs -q -F -L data "$other"
	VM_DISK=$other boot foreign
	[ "$qemu_status" -ne 0 ] && [ "$qemu_status" -ne 124 ]
	[ "$(grep -c "^lazyroot: erofs.cache=/dev/vda: holds an ext file system labelled 'data', not a lazyroot cache (label lazyroot-cache): refusing to use it$" "$log")" -eq 1 ]
	! grep -q '^LAZYROOT-TEST' "$log"
	# still labelled data
	[ "$(dd if="$other" bs=1 skip=1144 count=4 2>/dev/null)" = data ]

	head -c 4096 /dev/urandom | dd of="$other" conv=notrunc 2>/dev/null
	VM_DISK=$other boot random
	[ "$(grep -c '^lazyroot: erofs.cache=/dev/vda: holds data but no lazyroot cache' "$log")" -eq 1 ]
	! grep -q '^LAZYROOT-TEST' "$log"
}
