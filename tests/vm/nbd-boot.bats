#!/usr/bin/env bats
# The real boot over NBD: the busybox initramfs (lazyroot-mkinitrd) and the
# dracut initramfs (systemd init; the shell init and verified images through
# dracut are booted on Debian's own kernel, tests/vm/stock-kernel.bats) boot
# the test root over NBD, plain and verified: lazyrootd serves the image as
# /dev/nbdN, the init mounts EROFS from the devices of its map, and the root's
# own init checks its files. Most
# boots use the test kernel built as distributions build theirs, without
# on-demand cachefiles (tests/kernel/no-ondemand.config), where
# erofs.backend=auto must take NBD; the test kernel proper, which has both,
# takes fscache with auto and NBD when asked.

bats_require_minimum_version 1.5.0

setup_file() {
	. tests/lib/vm-env.sh
	vm_env_setup "$BATS_FILE_TMPDIR" 8
	vm_verified_image || return 1
	# A mirror whose copy differs in one byte of the largest pack (the
	# random /data/big's chunks).
	cp -a "$W/www/vimg" "$W/www/vbad"
	pack=$(ls -S "$W/www/vbad/packs/"*.pack | head -n 1)
	off=$(($(stat -c %s "$pack") / 2))
	byte=$(od -An -tu1 -j "$off" -N1 "$pack" | tr -d ' ')
	printf "$(printf '\\%03o' $(((byte + 1) % 256)))" |
		dd of="$pack" bs=1 seek="$off" conv=notrunc status=none
	! cmp -s "$pack" "$W/www/vimg/packs/${pack##*/}"
	KERNEL_NBD=$(tests/lib/build-kernel no-ondemand)
	cp "$W/initrd.img" "$W/busybox.img" # lazyroot-mkinitrd's, as vm_env_setup made it
	if command -v dracut >/dev/null; then
		. tests/lib/dracut-env.sh
		dracut_env_setup "$W" "$W/srv/ca.pem"
		dracut_image "$W/systemd.img" "$DRACUT_SYSTEMD_MODULES" "" --no-compress
	fi
	export W KERNEL_NBD
}

teardown_file() {
	tests/lib/https-server stop "$W/srv"
	[ ! -d "$W/srv-wrong" ] || tests/lib/https-server stop "$W/srv-wrong"
}

setup() {
	. tests/lib/vm-env.sh
}

# boot IMAGE NAME KERNEL-ARGS...: boots $W/IMAGE.img ($DISK, if set, as
# /dev/vda) on the kernel without on-demand cachefiles ($KERNEL_NBD, or
# $BOOT_KERNEL if set); sets log and qemu_status
boot() {
	local img=$1
	log="$W/$2.log"
	shift 2
	qemu_status=0
	tests/lib/qemu-run --kernel "${BOOT_KERNEL:-$KERNEL_NBD}" --initrd "$W/$img.img" ${DISK:+--disk "$DISK"} --log "$log" \
		--timeout 300 --append "console=ttyS0 panic=-1 rd.shell=0 rd.emergency=reboot $*" ||
		qemu_status=$?
	# Shown by bats only when the test fails.
	grep -v '^\[' "$log" | tail -n 40
}

need_dracut() {
	command -v dracut >/dev/null || skip "dracut not installed (scripts/install-deps)"
}

# booted_ok FILES: the root came up from the image, its files check out, a file
# boot never read reads after switch_root, and lazyrootd served it all
booted_ok() {
	[ "$qemu_status" -eq 0 ]
	grep -q '^LAZYROOT-TEST: root is up: overlay' "$log"
	grep -q "^LAZYROOT-TEST: sha256 ok ($1 files)" "$log"
	grep -q '^LAZYROOT-TEST: root is writable' "$log"
	grep -q '^LAZYROOT-TEST: read big rc=0 ' "$log"
	grep -q '^LAZYROOT-TEST: lazyrootd alive as @lazyrootd$' "$log"
	grep -Eq 'lazyrootd: stats: opens [1-9], .*errors 0$' "$log"
	grep -q '^LAZYROOT-TEST: done' "$log"
}

# over_nbd N: lazyrootd served the image on N NBD devices (nbd0, and nbd1 for a
# verified image's data), EROFS mounted from nbd0, and no cachefiles cache on a
# loop device was set up. These lines reach the console from either init (the
# initramfs's own "lazyroot:" lines go only to the journal under systemd).
over_nbd() {
	grep -q 'lazyrootd: nbd0: rootfs-[a-z]*, [0-9]* bytes, read-only$' "$log"
	if [ "$1" -eq 2 ]; then
		grep -Eq 'lazyrootd: nbd1: [0-9a-f]{64}, [0-9]+ bytes, read-only$' "$log"
	else
		run ! grep -q 'lazyrootd: nbd1:' "$log"
	fi
	grep -q 'erofs: (device nbd0): mounted' "$log"
	# no cache file system either (zram, or a loop device without it)
	run ! grep -Eq '(loop0|zram[1-9][0-9]*): detected capacity change' "$log"
}

# the busybox init's own lines for NBD: DEVICES as lr_mount_erofs names them
busybox_over_nbd() {
	grep -q '^lazyroot: starting lazyrootd (backend nbd)$' "$log"
	grep -q "^lazyroot: mounting EROFS fsid=rootfs-[a-z]* from $1\$" "$log"
	run ! grep -q '^lazyroot: cache: ' "$log"
}

@test "busybox init, no on-demand cachefiles, erofs.backend=auto: takes NBD, the plain root mounts from /dev/nbd0" {
	boot busybox bb-nbd erofs.fsid=rootfs-test erofs.url="$(vm_url "$PORT")" lazyroot.test=readbig
	booted_ok 10
	over_nbd 1
	busybox_over_nbd /dev/nbd0
	grep -q '^lazyroot: backend nbd: no fscache route: /dev/cachefiles has no on-demand mode (CONFIG_CACHEFILES_ONDEMAND), EROFS has no fscache mode (CONFIG_EROFS_FS_ONDEMAND)$' "$log"
}

@test "busybox init, no on-demand cachefiles: a verified root, its data blob on /dev/nbd1" {
	boot busybox bb-nbd-v erofs.fsid=rootfs-v erofs.digest="$DIGEST" \
		erofs.url="https://10.0.2.2:$PORT/vimg/" lazyroot.test=readbig
	booted_ok 10
	over_nbd 2
	busybox_over_nbd "/dev/nbd0 with /dev/nbd1"
	grep -Eq 'lazyrootd: stats: chunks verified [1-9][0-9]*, failed verification 0$' "$log"
}

@test "busybox init, no on-demand cachefiles: an fsid the server lacks stops with one line" {
	boot busybox bb-nbd-missing erofs.fsid=nosuch erofs.url="$(vm_url "$PORT")"
	[ "$qemu_status" -eq 1 ] # /init died: the kernel panicked
	# the same line as with fscache
	[ "$(grep -c "^lazyroot: cannot mount EROFS fsid=nosuch: $(vm_url "$PORT")nosuch: HTTP 404" "$log")" -eq 1 ]
	run ! grep -q '^LAZYROOT-TEST' "$log"
}

@test "busybox init, no on-demand cachefiles: a digest that is not the manifest's stops with one line" {
	boot busybox bb-nbd-wrongdigest erofs.fsid=rootfs-v erofs.digest="sha256:$(printf '%064d' 0)" \
		erofs.url="https://10.0.2.2:$PORT/vimg/"
	[ "$qemu_status" -eq 1 ]
	[ "$(grep -c "lazyrootd: cannot load the manifest of fsid rootfs-v: https://10.0.2.2:$PORT/vimg/rootfs-v.manifest: no mirror serves a copy with sha256 0\{64\}" "$log")" -eq 1 ]
	run ! grep -q '^LAZYROOT-TEST' "$log"
	run ! grep -q 'lazyrootd: nbd0:' "$log"
}

@test "busybox init, no on-demand cachefiles: a server certificate from another CA is refused" {
	tests/lib/https-server start "$W/srv-wrong" "$W/www" --wrong-ca
	boot busybox bb-nbd-wrongca erofs.fsid=rootfs-test \
		erofs.url="$(vm_url "$(cat "$W/srv-wrong/port")")"
	[ "$qemu_status" -eq 1 ]
	grep -q '^lazyroot: cannot mount EROFS fsid=rootfs-test: .*: TLS: .*certificate' "$log"
	run ! grep -q '^LAZYROOT-TEST' "$log"
	# the refused server never got to answer a request for the image
	run ! grep -q rootfs-test "$W/srv-wrong/access.log"
}

@test "busybox init, no on-demand cachefiles: one byte changed on the only mirror fails that read; no wrong byte reaches the root" {
	boot busybox bb-nbd-flipped erofs.fsid=rootfs-v erofs.digest="$DIGEST" \
		erofs.url="https://10.0.2.2:$PORT/vbad/" lazyroot.test=sumbig
	[ "$qemu_status" -eq 0 ]
	over_nbd 2
	grep -q '^LAZYROOT-TEST: sha256 ok (10 files)' "$log"
	grep -Eq '^LAZYROOT-TEST: big sha256 FAILED: .*(I/O|Input/output) error' "$log"
	run ! grep -q '^LAZYROOT-TEST: big sha256 [0-9a-f]' "$log"
	grep -Eq 'lazyrootd: blob [0-9a-f]{64}: chunk [0-9]+ \(bytes [0-9]+-[0-9]+\) from .*/vbad failed verification: sha256 ' "$log"
	grep -Eq 'lazyrootd: stats: chunks verified [1-9][0-9]*, failed verification [1-9][0-9]*$' "$log"
}

@test "busybox init, erofs.backend=nbd on the test kernel, which has fscache too: takes NBD as asked" {
	BOOT_KERNEL=$KERNEL boot busybox bb-nbd-forced erofs.backend=nbd erofs.fsid=rootfs-test \
		erofs.url="$(vm_url "$PORT")" lazyroot.test=readbig
	booted_ok 10
	over_nbd 1
	busybox_over_nbd /dev/nbd0
}

@test "busybox init, no on-demand cachefiles, erofs.cache=: the first boot keeps what it fetched on the disk" {
	DISK=$W/cache.disk
	truncate -s 256M "$DISK"
	boot busybox bb-nbd-disk1 erofs.cache=/dev/vda erofs.fsid=rootfs-test \
		erofs.url="$(vm_url "$PORT")" lazyroot.test=readbig
	booted_ok 10
	over_nbd 1
	grep -q '^lazyroot: cache: formatted the blank /dev/vda (ext2: this mke2fs makes no journal)$' "$log"
	grep -q 'lazyrootd: blob rootfs-test: 0 of [0-9]* pages kept on disk from earlier boots' "$log"
}

@test "busybox init, no on-demand cachefiles, erofs.cache=: the next boot reads it from the disk" {
	DISK=$W/cache.disk
	[ -f "$DISK" ] || skip "needs the boot of the previous test"
	boot busybox bb-nbd-disk2 erofs.cache=/dev/vda erofs.fsid=rootfs-test \
		erofs.url="$(vm_url "$PORT")" lazyroot.test=readbig
	booted_ok 10
	over_nbd 1
	run ! grep -q 'formatting' "$log"
	grep -Eq 'lazyrootd: blob rootfs-test: [1-9][0-9]* of [0-9]+ pages kept on disk from earlier boots' "$log"
	grep -Eq 'lazyrootd: stats: .*\(from disk [1-9][0-9]*\), errors 0$' "$log"
}

@test "busybox init, erofs.backend=auto on the test kernel (on-demand cachefiles): takes fscache" {
	BOOT_KERNEL=$KERNEL boot busybox bb-auto erofs.backend=auto erofs.fsid=rootfs-test erofs.url="$(vm_url "$PORT")" \
		lazyroot.test=readbig
	booted_ok 10
	grep -q '^lazyroot: starting lazyrootd (backend fscache)$' "$log"
	grep -q '^lazyroot: mounting EROFS fsid=rootfs-test$' "$log"
	run ! grep -q 'nbd0' "$log"
}

@test "busybox init, erofs.backend=auto on a kernel without /dev/cachefiles: takes NBD" {
	# the test kernel has cachefiles built in: keep it from starting
	BOOT_KERNEL=$KERNEL boot busybox bb-auto-nbd erofs.fsid=rootfs-test erofs.url="$(vm_url "$PORT")" \
		initcall_blacklist=cachefiles_init lazyroot.test=readbig
	booted_ok 10
	over_nbd 1
	busybox_over_nbd /dev/nbd0
}

@test "dracut, systemd init, no on-demand cachefiles: the plain root mounts from /dev/nbd0" {
	need_dracut
	boot systemd sd-nbd erofs.fsid=rootfs-test erofs.url="$(vm_url "$PORT")" \
		lazyroot.test=readbig
	booted_ok 10
	over_nbd 1
}

@test "dracut, systemd init, erofs.backend=auto on the test kernel: takes fscache" {
	need_dracut
	BOOT_KERNEL=$KERNEL boot systemd sd-auto erofs.fsid=rootfs-test erofs.url="$(vm_url "$PORT")" lazyroot.test=readbig
	booted_ok 10
	# the EROFS mount took fscache, its cache on zram: no NBD device served it
	grep -Eq 'zram[1-9][0-9]*: detected capacity change' "$log"
	run ! grep -q 'nbd0' "$log"
}
