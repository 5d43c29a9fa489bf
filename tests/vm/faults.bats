#!/usr/bin/env bats
# Boots through tests/lib/fault-server: a root must not fail while one honest
# copy exists. Plain: a single flaky mirror that is down for 15 s early in the
# boot and slower than the time limit later, through fscache and through NBD.
# Verified: a mirror that lies in every pack answer plus a flaky honest one. Every file's sha256 is checked in
# the guest, and each fault is counted at the server.

bats_require_minimum_version 1.5.0

setup_file() {
	. tests/lib/vm-env.sh
	vm_env_setup "$BATS_FILE_TMPDIR" 16
	vm_verified_image || return 1
	sha256sum "$W/rootfs/data/big" | cut -d' ' -f1 > "$W/big.sha256"
}

teardown_file() {
	tests/lib/https-server stop "$W/srv"
}

setup() {
	. tests/lib/vm-env.sh
}

teardown() {
	for f in "$W"/fault-*; do
		[ ! -d "$f" ] || tests/lib/fault-server stop "$f"
	done
}

# faulty NAME SCHEDULE: a fault server NAME over $W/www with SCHEDULE; prints its port
faulty() {
	mkdir -p "$W/fault-$1"
	printf "$2" > "$W/fault-$1/schedule"
	tests/lib/fault-server start "$W/fault-$1" "$W/www" "$W/srv"
	cat "$W/fault-$1/port"
}

fired() { tests/lib/fault-server fired "$W/fault-$1" "$2"; }

# boot NAME TIMEOUT KERNEL-ARGS...: sets log and qemu_status
boot() {
	log="$W/$1.log"
	run vm_boot "$@"
	qemu_status=$status
	grep -v '^\[' "$log" | grep -v 'retrying' | tail -n 40
	grep 'lazyrootd: .*wait' "$log" || true
}

@test "plain: a single flaky mirror, down for 15 s early and slower than the time limit later: the boot waits it out, every byte right" {
	port=$(faulty flaky '3 outage 15 refuse\n*5 reset match=rootfs-test\n*7 503 1 match=rootfs-test\n*11 truncate match=rootfs-test\n*13 ignore-range match=rootfs-test\n*17 shift 1 match=rootfs-test\n*19 slow 200000 match=rootfs-test\n')
	boot plain 600 erofs.fsid=rootfs-test erofs.url="https://10.0.2.2:$port/img/" erofs.timeout=5 lazyroot.test=readbig
	tests/lib/fault-server fired "$W/fault-flaky"
	[ "$qemu_status" -eq 0 ]
	grep -q '^LAZYROOT-TEST: sha256 ok (10 files)' "$log"
	grep -q '^LAZYROOT-TEST: read big rc=0 ' "$log"
	! grep -q 'sha256 FAILED' "$log"
	[ "$(fired flaky outage)" -eq 1 ]
	for f in reset 503 truncate ignore-range shift slow; do
		[ "$(fired flaky "$f")" -ge 1 ]
	done
	# the outage's wait is told, and its end; a request that later meets
	# fault after fault for longer than the time limit waits again (how
	# often depends on how the requests fall on the schedule): every wait
	# is told once, with its end
	grep 'waiting until the server answers (reads of the image wait' "$log" | head -n 1 |
		grep -q 'Could not connect to server'
	waits=$(grep -c 'waiting until the server answers (reads of the image wait' "$log")
	[ "$(grep -c "lazyrootd: https://10.0.2.2:$port/img/rootfs-test answers again after [0-9]*s without one: waiting reads go on" "$log")" -eq "$waits" ]
	! grep -q 'cannot read bytes' "$log"
	grep -Eq 'lazyrootd: stats: opens 1, .*errors 0$' "$log"
}

@test "plain over NBD: the same flaky mirror with a 15 s outage: the block device waits it out, every byte right" {
	port=$(faulty nbd '3 outage 15 refuse\n*5 reset match=rootfs-test\n*7 503 1 match=rootfs-test\n*11 truncate match=rootfs-test\n*13 ignore-range match=rootfs-test\n')
	boot nbd 600 erofs.backend=nbd erofs.fsid=rootfs-test erofs.url="https://10.0.2.2:$port/img/" erofs.timeout=5 lazyroot.test=readbig
	tests/lib/fault-server fired "$W/fault-nbd"
	[ "$qemu_status" -eq 0 ]
	grep -q '^LAZYROOT-TEST: sha256 ok (10 files)' "$log"
	grep -q '^LAZYROOT-TEST: read big rc=0 ' "$log"
	[ "$(fired nbd outage)" -eq 1 ]
	for f in reset 503 truncate ignore-range; do
		[ "$(fired nbd "$f")" -ge 1 ]
	done
	[ "$(grep -c 'waiting until the server answers (reads of the image wait' "$log")" -eq 1 ]
	! grep -q 'cannot read bytes' "$log"
	grep -Eq 'lazyrootd: stats: .*errors 0$' "$log"
}

@test "verified: a mirror that lies in every pack answer plus a flaky honest one: every chunk right" {
	liar=$(faulty liar '+1 flip match=.pack\n')
	honest=$(faulty honest '*3 reset match=.pack\n*5 503 1 match=.pack\n*7 truncate match=.pack\n*11 ignore-range match=.pack\n*13 shift 3 match=.pack\n')
	boot verified 600 erofs.fsid=rootfs-v erofs.digest="$DIGEST" \
		erofs.url="https://10.0.2.2:$liar/vimg/,https://10.0.2.2:$honest/vimg/" lazyroot.test=sumbig
	tests/lib/fault-server fired "$W/fault-liar"
	tests/lib/fault-server fired "$W/fault-honest"
	[ "$qemu_status" -eq 0 ]
	grep -q '^LAZYROOT-TEST: sha256 ok (10 files)' "$log"
	grep -q "^LAZYROOT-TEST: big sha256 $(cat "$W/big.sha256")$" "$log"
	[ "$(fired liar flip)" -ge 1 ]
	for f in reset 503 truncate ignore-range shift; do
		[ "$(fired honest "$f")" -ge 1 ]
	done
	grep -q "lazyrootd: mirror https://10.0.2.2:$liar/vimg served bad data: trying https://10.0.2.2:$honest/vimg first from now on" "$log"
	grep -Eq 'lazyrootd: stats: chunks verified [1-9][0-9]*, failed verification [1-9][0-9]*$' "$log"
	# no read failed, not even one the guest did not notice
	! grep -q 'cannot read bytes' "$log"
	grep -Eq 'lazyrootd: stats: opens 2, .*errors 0$' "$log"
}
