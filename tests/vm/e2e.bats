#!/usr/bin/env bats
# End to end: a real kernel in QEMU boots the busybox initramfs, lazyrootd
# fetches the EROFS root from nginx on the host's loopback (10.0.2.2 in the
# guest), and the root's own init checks its files.

bats_require_minimum_version 1.5.0

setup_file() {
	. tests/lib/vm-env.sh
	vm_env_setup "$BATS_FILE_TMPDIR" 32
}

teardown_file() {
	for s in srv srv-wrong srv-slow; do
		tests/lib/https-server stop "$W/$s"
	done
}

setup() {
	. tests/lib/vm-env.sh
}

@test "boots the EROFS root over HTTPS; its files check out; the root is writable" {
	vm_boot_test good 120 erofs.fsid=rootfs-test erofs.url="$(vm_url "$PORT")"
	[ "$qemu_status" -eq 0 ]
	grep -q '^LAZYROOT-TEST: root is up: overlay' "$log"
	# the cache file system on a new zram device (not zram0), no loop device
	grep -Eq '^lazyroot: cache: [0-9]+[KMGT] ext2 on /dev/zram[1-9][0-9]* \(zram: in RAM as written, compressed\), mounted on /run/lazyroot/cache$' "$log"
	# busybox's mke2fs made it: ext2, block-mapped (the root's probe of its superblock)
	grep -Eq '^LAZYROOT-TEST: cache: /dev/zram[1-9][0-9]*, no extents$' "$log"
	grep -q '^LAZYROOT-TEST: sha256 ok (10 files)' "$log"
	grep -q '^LAZYROOT-TEST: root is writable' "$log"
	grep -q '^LAZYROOT-TEST: done' "$log"
	! grep -q 'sha256 FAILED' "$log"
	# named for systemd's shutdown to spare it: it is the root's storage
	grep -q '^LAZYROOT-TEST: lazyrootd alive as @lazyrootd$' "$log"
	# still alive after switch_root, answering SIGUSR1 with its counters
	grep -Eq '^lazyrootd: stats: opens 1, reads [1-9][0-9]*, closes 0, http requests [1-9][0-9]*, retries 0, bytes fetched [1-9][0-9]*, bytes written [1-9][0-9]* \(from disk 0\), errors 0$' "$log"
}

@test "only what boot touches crosses the wire, by range requests" {
	[ -f "$W/good.log" ] || skip "needs the boot of the previous test"
	image=$(stat -c %s "$W/www/img/rootfs-test")
	sent=$(tests/lib/https-server bytes "$W/srv")
	echo "image $image bytes, server sent $sent"
	[ "$sent" -gt 0 ]
	[ "$sent" -lt $((image / 4)) ]
	# every request for the image was a range request answered with 206
	# (its prefetch list, which this image has none of, is another file)
	! awk -F '\t' '$1 ~ /\/rootfs-test / && ($2 != 206 || $3 == "-")' \
		"$W/srv/access.log" | grep -q .
}

@test "mirrors: with the first mirror down, the next one serves the whole boot" {
	dead="https://10.0.2.2:1/img/" # the host refuses port 1
	vm_boot_test mirrors 120 erofs.fsid=rootfs-test erofs.url="$dead,$(vm_url "$PORT")" lazyroot.test=readbig
	[ "$qemu_status" -eq 0 ]
	grep -q '^LAZYROOT-TEST: sha256 ok (10 files)' "$log"
	grep -q '^LAZYROOT-TEST: read big rc=0 ' "$log"
	# the switch is told once; later reads go straight to the good mirror
	[ "$(grep -c "lazyrootd: mirror ${dead}rootfs-test failed (" "$log")" -eq 1 ]
	grep -Eq 'lazyrootd: stats: opens 1, .*errors 0$' "$log"
}

@test "an fsid the server lacks: one line naming it and the 404, and the VM stops" {
	vm_boot_test missing 120 erofs.fsid=nosuch erofs.url="$(vm_url "$PORT")"
	[ "$qemu_status" -ne 124 ]
	[ "$(grep -c "^lazyroot: cannot mount EROFS fsid=nosuch: $(vm_url "$PORT")nosuch: HTTP 404" "$log")" -eq 1 ]
	! grep -q '^LAZYROOT-TEST' "$log"
}

@test "a server certificate from another CA is refused with a TLS error" {
	tests/lib/https-server start "$W/srv-wrong" "$W/www" --wrong-ca
	vm_boot_test wrongca 120 erofs.fsid=rootfs-test erofs.url="$(vm_url "$(cat "$W/srv-wrong/port")")"
	[ "$qemu_status" -ne 124 ]
	grep -q '^lazyroot: cannot mount EROFS fsid=rootfs-test: .*: TLS: .*certificate' "$log"
	! grep -q '^LAZYROOT-TEST' "$log"
	# the refused server never got to answer a request for the image
	! grep -q rootfs-test "$W/srv-wrong/access.log"
}

@test "server stopped mid-read, erofs.onerror=fail: the reader gets an I/O error within the time limit" {
	# Same CA as the initramfs trusts; responses throttled.
	mkdir -p "$W/srv-slow"
	cp "$W/srv/ca.pem" "$W/srv/ca.key" "$W/srv-slow/"
	LIMIT_RATE=256k tests/lib/https-server start "$W/srv-slow" "$W/www"
	log="$W/stall.log"
	vm_boot stall 180 erofs.fsid=rootfs-test erofs.timeout=10 erofs.onerror=fail \
		erofs.url="$(vm_url "$(cat "$W/srv-slow/port")")" lazyroot.test=readbig &
	qemu=$!
	# Wait (bounded) until the guest is reading, then take the server away.
	for _ in $(seq 600); do
		grep -q 'LAZYROOT-TEST: reading big' "$log" 2>/dev/null && break
		kill -0 "$qemu" 2>/dev/null || break
		sleep 0.2
	done
	grep -v '^\[' "$log" | tail -n 30
	grep -q 'LAZYROOT-TEST: reading big' "$log"
	sleep 2
	tests/lib/https-server stop "$W/srv-slow"
	status=0
	wait "$qemu" || status=$?
	grep -v '^\[' "$log" | tail -n 30
	[ "$status" -eq 0 ]
	line=$(grep '^LAZYROOT-TEST: read big' "$log")
	echo "$line"
	[[ "$line" =~ rc=1\ after\ ([0-9]+)s ]]
	# 2 s of reading, one 10 s time limit of retries (later blocks fail
	# fast while the server is down), slack for a slow emulated guest
	[ "${BASH_REMATCH[1]}" -le 22 ]
	grep -q 'lazyrootd: .*server unreachable for 10s' "$log"
	grep -q 'lazyrootd: blob rootfs-test: cannot read bytes .*gave up after' "$log"
	grep -q '^LAZYROOT-TEST: done' "$log"
}
