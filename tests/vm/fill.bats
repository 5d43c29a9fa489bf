#!/usr/bin/env bats
# Background fill (erofs.fill=on) with erofs.cache=: after boot the daemon
# fetches the rest of the image at erofs.fillrate=, says when the copy is
# complete and closes its connections; the server then sees no more
# requests, even when every byte is read again with the page cache dropped.
# A later boot with the server gone boots from that copy. Plain through
# fscache, verified through NBD: both front ends, both sources.

bats_require_minimum_version 1.5.0

setup_file() {
	# the test root asks the daemon's status when the fill is complete
	export LAZYROOT_CTL=${LAZYROOT_CTL:-build/static/lazyrootctl}
	[ -x "$LAZYROOT_CTL" ] || {
		echo "$LAZYROOT_CTL missing: run make static" >&2
		return 1
	}
	. tests/lib/vm-env.sh
	vm_env_setup "$BATS_FILE_TMPDIR" 4
	vm_verified_image || return 1
}

teardown_file() {
	tests/lib/https-server stop "$W/srv"
}

setup() {
	. tests/lib/vm-env.sh
}

requests() { tests/lib/https-server log "$W/srv" | wc -l; }

# fill_boot NAME DISK KERNEL-ARGS...: boots with the fill on at 1 MiB/s; sets
# log, qemu_status, at_complete (the server's requests when the guest said
# the fill is complete) and at_end (once the boot is over)
fill_boot() {
	local name=$1 disk=$2 pid i
	shift 2
	log="$W/$name.log"
	rm -f "$log"
	VM_DISK=$disk vm_boot "$name" 300 erofs.cache=/dev/vda erofs.timeout=5 \
		erofs.fill=on erofs.fillrate=1M lazyroot.test=fill "$@" 3>&- &
	pid=$!
	at_complete=
	for i in $(seq 1 3000); do
		if grep -q '^LAZYROOT-TEST: fill complete' "$log" 2>/dev/null; then
			at_complete=$(requests)
			break
		fi
		kill -0 "$pid" 2>/dev/null || break
		sleep 0.1
	done
	qemu_status=0
	wait "$pid" || qemu_status=$?
	at_end=$(requests)
	grep -v '^\[' "$log" | tail -n 40
	echo "requests: at fill complete $at_complete, at the end $at_end"
}

# offline_boot NAME DISK KERNEL-ARGS...: the server down
offline_boot() {
	local name=$1 disk=$2
	shift 2
	tests/lib/https-server stop "$W/srv"
	VM_DISK=$disk vm_boot_test "$name" 180 erofs.cache=/dev/vda erofs.timeout=5 "$@"
	tests/lib/https-server start "$W/srv" "$W/www"
}

# filled_ok: one line saying the copy is complete and the connections closed,
# whole: N of N KiB; at most 1 MiB/s after the first 4 MiB; then no request
filled_ok() {
	local line held total fetched ms
	vm_booted_ok
	grep -q '^LAZYROOT-TEST: read again ok' "$log"
	[ "$(grep -c 'lazyrootd: fill: complete' "$log")" -eq 1 ]
	grep -q 'lazyrootd: fill: boot is over: fetching the rest of [0-9]* blobs ([0-9]* KiB) at most 1024 KiB/s' "$log"
	line=$(grep -o 'fill: complete: [0-9]* of [0-9]* KiB held locally, [0-9]* KiB fetched in [0-9]* requests in [0-9]* ms; the image no longer needs the network: connections closed' "$log")
	read -r held total fetched ms < <(echo "$line" |
		sed 's/fill: complete: \([0-9]*\) of \([0-9]*\) KiB held locally, \([0-9]*\) KiB fetched in [0-9]* requests in \([0-9]*\) ms.*/\1 \2 \3 \4/')
	[ "$held" -eq "$total" ] && [ "$fetched" -gt 0 ] && [ "$fetched" -le "$total" ]
	# the rate limit: a burst of one 4 MiB job, then 1 MiB a second at most
	[ "$fetched" -le 4096 ] || [ "$ms" -ge $(((fetched - 4096) * 1000 / 1024 - 1000)) ]
	[ -n "$at_complete" ]
	[ "$at_complete" -eq "$at_end" ]
}

@test "plain image through fscache: the fill completes, the server sees no more requests; with the server gone the filled copy boots" {
	truncate -s 128M "$W/plain.disk"
	fill_boot fill-plain "$W/plain.disk" erofs.fsid=rootfs-test erofs.url="$(vm_url "$PORT")"
	filled_ok
	grep -Eq 'lazyrootd: stats: blob rootfs-test: ([0-9]+) of \1 pages on disk, 0 bytes waiting' "$log"
	offline_boot offline-plain "$W/plain.disk" erofs.fsid=rootfs-test erofs.url="$(vm_url "$PORT")"
	vm_booted_ok
	grep -q 'lazyrootd: blob rootfs-test: booting from the local copy in /run/lazyroot/cache/store: no mirror answers' "$log"
	grep -Eq 'lazyrootd: stats: .*bytes fetched 0, .*errors 0$' "$log"
}

@test "verified image through NBD: the fill completes, the server sees no more requests; with the server gone the filled copy boots" {
	truncate -s 128M "$W/verified.disk"
	fill_boot fill-verified "$W/verified.disk" erofs.backend=nbd erofs.fsid=rootfs-v \
		erofs.url="https://10.0.2.2:$PORT/vimg/" erofs.digest="$DIGEST"
	filled_ok
	grep -q 'lazyrootd: nbd0: rootfs-v, [0-9]* bytes, read-only' "$log"
	offline_boot offline-verified "$W/verified.disk" erofs.backend=nbd erofs.fsid=rootfs-v \
		erofs.url="https://10.0.2.2:$PORT/vimg/" erofs.digest="$DIGEST"
	vm_booted_ok
	grep -q 'lazyrootd: booting from the local copy in /run/lazyroot/cache/store: no mirror answers' "$log"
	grep -Eq 'lazyrootd: stats: chunks verified 0, failed verification 0$' "$log"
}
