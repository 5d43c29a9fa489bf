#!/usr/bin/env bats
# A crash of lazyrootd's worker does not take the root with it: on the 6.12
# test kernel (cachefiles with "restore"; Debian's 6.1 has it too), kill -9 of the worker while the
# initramfs mounts the image and again while the root reads its files; the
# supervisor starts another worker each time, which takes over (fscache:
# "restore", the kernel sends the requests again; NBD: a new connection
# through NBD_CMD_RECONFIGURE), and every byte the root reads is right.

bats_require_minimum_version 1.5.0

setup_file() {
	. tests/lib/vm-env.sh
	VM_KERNEL_VARIANT=v6.12 vm_env_setup "$BATS_FILE_TMPDIR" 16
	vm_verified_image || return 1
	BIG_SHA=$(sha256sum "$W/rootfs/data/big" | cut -d' ' -f1)
	KERNEL_61=$(tests/lib/build-kernel)
	# The initramfs plus a killer started before its /init (rdinit=/test/init):
	# twice, once the EROFS image is mounted, while the init sets up the root.
	# The init waits before it moves /proc into the root until the killer is
	# done (/test/hold gone, at most 120 s): without that, a quick boot
	# switched root between two looks of the killer (CI, once).
	mkdir -p "$W/killer/test"
	cp "$W/rootfs/bin/kill-worker" "$W/killer/test/kill-worker"
	cat > "$W/killer/test/init" <<-'INIT'
		#!/bin/sh
		PATH=/usr/sbin:/usr/bin:/sbin:/bin
		: > /test/hold
		sed '/^for d in dev proc sys run; do$/i\
		n=1200; while [ -e /test/hold ] && [ "$n" -gt 0 ]; do n=$((n - 1)); sleep 0.1; done' \
			/init > /test/init.held && chmod 755 /test/init.held
		grep -q '/test/hold' /test/init.held || echo "LAZYROOT-TEST: cannot make /init wait for the killer"
		(
			while [ ! -c /dev/console ]; do /bin/busybox sleep 0.1; done
			/test/kill-worker 2 /run/lazyroot/lower >/dev/console 2>&1
			rm -f /test/hold
		) &
		exec /test/init.held "$@"
	INIT
	chmod 755 "$W/killer/test/init"
	# the background job's stdin, before /init mounts devtmpfs
	mkdir -p "$W/killer/dev"
	mknod "$W/killer/dev/null" c 1 3
	(cd "$W/killer" && find test dev | cpio -o -H newc --quiet) > "$W/killer.cpio"
	# the kernel looks for the next archive at a 4-byte boundary, past zeros
	cp "$W/initrd.img" "$W/crash.img"
	truncate -s %512 "$W/crash.img"
	cat "$W/killer.cpio" >> "$W/crash.img"
	if command -v dracut >/dev/null; then
		. tests/lib/dracut-env.sh
		dracut_env_setup "$W" "$W/srv/ca.pem"
		dracut_image "$W/systemd.img" "$DRACUT_SYSTEMD_MODULES" "" --no-compress
	fi
	export W BIG_SHA KERNEL_61
}

teardown_file() {
	tests/lib/https-server stop "$W/srv"
}

setup() {
	. tests/lib/vm-env.sh
}

# boot NAME KERNEL-ARGS...: boots crash.img ($IMG.img if set: dracut's, no
# killer in it) on the 6.12 kernel ($BOOT_KERNEL if set), the worker
# killed in the initramfs and $KILLS (3) times in the root; sets log and
# qemu_status
boot() {
	local init=rdinit=/test/init
	log="$W/$1.log"
	shift
	[ -z "${IMG:-}" ] || init='rd.shell=0 rd.emergency=reboot'
	qemu_status=0
	tests/lib/qemu-run --kernel "${BOOT_KERNEL:-$KERNEL}" --initrd "$W/${IMG:-crash}.img" --log "$log" \
		--timeout 400 --append "console=ttyS0 panic=-1 $init lazyroot.test=crash lazyroot.kills=${KILLS:-3} $*" ||
		qemu_status=$?
	# Shown by bats only when the test fails.
	grep -v '^\[' "$log" | tail -n 60
}

# survived: the boot completed with every byte right, after kills in the
# initramfs and in the root, each logged by the supervisor and followed by
# a worker that took over
survived() {
	[ "$qemu_status" -eq 0 ]
	grep -q "Linux version ${LINUX:-6\.12\.}" "$log"
	# killed in the initramfs, before the root's init ran
	[ -n "${IMG:-}" ] || sed -n '/LAZYROOT-TEST: root is up/q; p' "$log" | grep -q '^LAZYROOT-TEST: killed worker [0-9]* (1 of 2)$'
	grep -q '^LAZYROOT-TEST: killed worker [0-9]* (3 of 3)$' "$log"
	kills=$(grep -c '^LAZYROOT-TEST: killed worker ' "$log")
	[ "$(grep -c 'lazyrootd: worker [0-9]* was killed by signal 9 (Killed); starting another to take over (restart [0-9]*)$' "$log")" -eq "$kills" ]
	# a worker killed while it takes over is replaced too; the last one serves
	last=$(grep -n 'lazyrootd: worker [0-9]* was killed by signal 9' "$log" | tail -n 1 | cut -d: -f1)
	after_last=$(tail -n +"$last" "$log")
	grep -q "lazyrootd: serving .* again (worker [0-9]* took over)$" <<< "$after_last"
	grep -q '^LAZYROOT-TEST: root is up: overlay' "$log"
	grep -q '^LAZYROOT-TEST: sha256 ok (10 files)$' "$log"
	grep -q "^LAZYROOT-TEST: big sha256 $BIG_SHA\$" "$log"
	grep -q '^LAZYROOT-TEST: sha256 again ok (10 files)$' "$log"
	grep -q '^LAZYROOT-TEST: lazyrootd alive as @lazyrootd$' "$log"
	grep -q '^LAZYROOT-TEST: done' "$log"
	run ! grep -q 'FAILED' "$log"
	run ! grep -q 'giving up' "$log"
}

@test "fscache on 6.12: the worker killed -9 during boot and after switch_root; the root boots and reads right" {
	boot fscache erofs.fsid=rootfs-test erofs.url="$(vm_url "$PORT")"
	survived
	grep -q '^lazyroot: starting lazyrootd (backend fscache)$' "$log"
	grep -q 'lazyrootd: cachefiles: restored: the kernel sends again what the last worker left unanswered$' <<< "$after_last"
	run ! grep -q 'restore.*fatal' "$log"
}

@test "fscache on 6.12, a verified image: the restarted workers serve the manifest vouched for at start" {
	boot fscache-v erofs.fsid=rootfs-v erofs.digest="$DIGEST" erofs.url="https://10.0.2.2:$PORT/vimg/"
	survived
	grep -q '^lazyroot: starting lazyrootd (backend fscache)$' "$log"
	# fetched once (its size asked once), before the first worker: the
	# others had it from the supervisor
	awk -F '\t' '$1 ~ /rootfs-v\.manifest/' "$W/srv/access.log"
	[ "$(awk -F '\t' '$1 ~ /^GET \/vimg\/rootfs-v\.manifest / && $3 == "bytes=0-0"' "$W/srv/access.log" | wc -l)" -eq 1 ]
}

@test "NBD on 6.12: the worker killed -9 during boot and after switch_root; each new worker reattaches the devices" {
	boot nbd erofs.backend=nbd erofs.fsid=rootfs-test erofs.url="$(vm_url "$PORT")"
	survived
	grep -q 'lazyrootd: nbd0: rootfs-test, [0-9]* bytes, read-only$' "$log"
	grep -q 'lazyrootd: nbd0: rootfs-test reattached on a new connection; the kernel sends it the reads it holds$' <<< "$after_last"
}

@test "fscache on 6.12: a worker that keeps dying: the supervisor gives up after 10 restarts within 60 s, with one line" {
	KILLS=20 boot giveup erofs.fsid=rootfs-test erofs.url="$(vm_url "$PORT")"
	[ "$qemu_status" -ne 124 ] # it ends, one way or another
	# 11 kills in all, in the initramfs and in the root: the 11th exit within 60 s
	[ "$(grep -c 'lazyrootd: worker [0-9]* was killed by signal 9 (Killed); starting another to take over' "$log")" -eq 10 ]
	[ "$(grep -c 'lazyrootd: worker [0-9]* was killed by signal 9 (Killed): 11 exits within 60 s, giving up: the cache is withdrawn and the root.s reads fail from now on$' "$log")" -eq 1 ]
	[ "$(grep -c '^LAZYROOT-TEST: killed worker ' "$log")" -eq 11 ]
	# no wrong byte: the right sum, or a failed read
	run ! grep -Eq '^LAZYROOT-TEST: big sha256 [0-9a-f]{64}$' <(grep -v "$BIG_SHA" "$log")
}

@test "NBD on 6.12: a worker that keeps dying: the supervisor gives up and disconnects the devices, so reads fail instead of waiting a day" {
	KILLS=20 boot giveup-nbd erofs.backend=nbd erofs.fsid=rootfs-test erofs.url="$(vm_url "$PORT")"
	# without the disconnect the root's readers wait for a connection past the VM's time limit
	[ "$qemu_status" -ne 124 ]
	[ "$(grep -c 'lazyrootd: worker [0-9]* was killed by signal 9 (Killed); starting another to take over' "$log")" -eq 10 ]
	[ "$(grep -c 'lazyrootd: worker [0-9]* was killed by signal 9 (Killed): 11 exits within 60 s, giving up: the NBD devices are disconnected and the root.s reads fail from now on$' "$log")" -eq 1 ]
	run ! grep -q 'NBD_CMD_DISCONNECT' "$log"
	run ! grep -Eq '^LAZYROOT-TEST: big sha256 [0-9a-f]{64}$' <(grep -v "$BIG_SHA" "$log")
}

@test "fscache on the 6.1 test kernel: Debian's 6.1 has restore (6.1.98), so a killed worker is replaced there too" {
	BOOT_KERNEL=$KERNEL_61 LINUX='6\.1\.' boot fscache-61 erofs.fsid=rootfs-test erofs.url="$(vm_url "$PORT")"
	LINUX='6\.1\.' survived
	grep -q 'lazyrootd: cachefiles: restored: ' <<< "$after_last"
	run ! grep -q 'has no "restore"' "$log"
}

@test "dracut, systemd init, fscache on 6.12: the worker killed -9 after switch-root is replaced in its service" {
	command -v dracut >/dev/null || skip "dracut not installed (scripts/install-deps)"
	IMG=systemd boot sd-fscache erofs.fsid=rootfs-test erofs.url="$(vm_url "$PORT")"
	IMG=systemd survived
	grep -q 'lazyrootd: cachefiles: restored: ' <<< "$after_last"
}
