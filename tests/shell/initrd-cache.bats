#!/usr/bin/env bats
# lr_cache_setup for real, with busybox's truncate/mke2fs/losetup/mount as in the initramfs:
# the cache filesystem it makes must be mountable, small in RAM, 4K-block, and offer what
# cachefiles needs (user xattrs, O_TMPFILE). It is made on a new zram device where the kernel
# has zram, else on a loop device over a sparse file; the loop tests hide zram with LR_SYS.
# Needs root and loop devices; runs in a private mount namespace and removes its zram or
# loop device afterwards.

bats_require_minimum_version 1.5.0

setup() {
	[ "$(id -u)" -eq 0 ] || skip "needs root (loop devices, mounts)"
	[ -e /dev/loop-control ] || skip "no loop devices here"
	command -v unshare >/dev/null || skip "needs unshare"
	TOP=$(cd "$BATS_TEST_DIRNAME/../.." && pwd)
	BB=$BATS_TEST_TMPDIR/bb
	mkdir -p "$BB" "$BATS_TEST_TMPDIR/nosys"
	for a in truncate mke2fs losetup mount umount; do
		ln -s /bin/busybox "$BB/$a"
	done
	# LR_SYS for the loop tests: a /sys without zram-control
	export TOP BB RUNDIR=$BATS_TEST_TMPDIR/run NOSYS=$BATS_TEST_TMPDIR/nosys
}

need_zram() {
	[ -w /sys/class/zram-control/hot_add ] || skip "the kernel here has no zram (CONFIG_ZRAM)"
}

teardown() {
	# the namespace's mount is gone with it; loop and zram devices are global
	if [ -n "${RUNDIR:-}" ] && [ -e "$RUNDIR/cache.img" ]; then
		for dev in $(losetup -j "$RUNDIR/cache.img" -O NAME -n 2>/dev/null); do
			losetup -d "$dev" || :
		done
	fi
	if [ -s "$BATS_TEST_TMPDIR/zram" ]; then
		cat "$BATS_TEST_TMPDIR/zram" >/sys/class/zram-control/hot_remove || :
	fi
}

# in_ns SIZE SCRIPT [SYS]: lr_cache_setup with erofs.cachesize=SIZE (and LR_SYS=SYS) in a
# private mount namespace, then SCRIPT (sh) with $dir = the mounted cache directory and $dev
# its device; then unmounts it and removes the device. busybox's mke2fs, or the one in
# $MKE2FS_DIR.
in_ns() {
	unshare -m sh -c '
		set -e
		mount --make-rprivate /
		PATH=${MKE2FS_DIR:+$MKE2FS_DIR:}$BB:$PATH
		. "$TOP/initrd/lazyroot-busybox.sh"
		. "$TOP/initrd/lazyroot-lib.sh"
		LR_RUN=$RUNDIR LR_SYS=${3:-/sys}
		mkdir -p "$LR_RUN"
		lr_parse_size "$1"
		LR_CACHESIZE=$LR_SIZE LR_CACHESIZE_ARG=$1
		lr_cache_setup || { echo "FAILED: $LR_ERR"; exit 1; }
		dir=$LR_RUN/cache
		dev=$(awk -v d="$dir" "\$2 == d { print \$1 }" /proc/mounts)
		case $dev in /dev/zram*) echo "${dev#/dev/zram}" >"$ZRAM_ID" ;; esac
		eval "$2"
		umount "$dir"
		case $dev in
		/dev/zram*) echo "${dev#/dev/zram}" >/sys/class/zram-control/hot_remove && : >"$ZRAM_ID" ;;
		*) losetup -d "$dev" ;;
		esac
	' sh "$@"
}
export ZRAM_ID=$BATS_TEST_TMPDIR/zram

# mounted_64m SYS [SCRIPT]: in_ns 64M with LR_SYS=SYS; checks what every cache needs: an ext2
# (or ext4) mount ("DEVICE TYPE" in lines[0]), 4K blocks, writable; SCRIPT prints from lines[3]
mounted_64m() {
	run --separate-stderr in_ns 64M '
		awk -v d="$dir" "\$2 == d { print \$1, \$3 }" /proc/mounts
		stat -f -c "bsize=%S" "$dir"
		touch "$dir/probe" && echo writable
		'"${2-}" "$1"
	[ "$status" -eq 0 ]
	case ${lines[0]} in *" ext4" | *" ext2") ;; *)
		echo "mount: ${lines[0]}"
		return 1
		;;
	esac
	[ "${lines[1]}" = bsize=4096 ]
	[ "${lines[2]}" = writable ]
}

@test "lr_cache_setup makes and mounts an ext2 cache on a new zram device" {
	need_zram
	mounted_64m /sys 'cat "/sys/block/${dev#/dev/}/disksize"'
	[[ ${lines[0]} == /dev/zram* ]]
	[ "${lines[3]}" = 67108864 ]
	dev=${lines[0]%% *}
	[ "$stderr" = "lazyroot: cache: 64M ext2 on $dev (zram: in RAM as written, compressed), mounted on $RUNDIR/cache" ]
	[ ! -e "$RUNDIR/cache.img" ]
	# not zram0, which the module makes at load and a root may take for swap
	[ "$dev" != /dev/zram0 ]
	# the device is gone again after in_ns
	[ ! -e "/sys/block/${dev#/dev/}" ]
}

@test "without zram: an ext2 cache on a loop device over a sparse file, and a line saying why" {
	mounted_64m "$NOSYS"
	[[ ${lines[0]} == /dev/loop* ]]
	case $stderr in "lazyroot: cache: 64M sparse ext2 image on /dev/loop"*" (no zram: the kernel lacks CONFIG_ZRAM), mounted on $RUNDIR/cache") ;; *)
		echo "info: $stderr"
		return 1
		;;
	esac
	[ "$(stat -c %s "$RUNDIR/cache.img")" -eq 67108864 ]
}

@test "a zram that fails: the half-made device is removed, the loop device serves, the line says why" {
	sys=$BATS_TEST_TMPDIR/fakesys
	mkdir -p "$sys/class/zram-control" "$sys/block/zram7/disksize"
	echo 7 >"$sys/class/zram-control/hot_add"
	: >"$sys/class/zram-control/hot_remove"
	# disksize is a directory here: setting the size fails
	run --separate-stderr in_ns 32M 'echo "$dev"' "$sys"
	[ "$status" -eq 0 ]
	[[ ${lines[0]} == /dev/loop* ]]
	[[ $stderr == *" (no zram: zram7: cannot set its size to 32M: "*"), mounted on $RUNDIR/cache" ]]
	[ "$(cat "$sys/class/zram-control/hot_remove")" = 7 ]
	echo 'no such device' >"$sys/class/zram-control/hot_add"
	run --separate-stderr in_ns 32M 'echo "$dev"' "$sys"
	[ "$status" -eq 0 ]
	[[ $stderr == *" (no zram: zram-control/hot_add gave 'no such device', not a device number), mounted on $RUNDIR/cache" ]]
}

@test "the 4G default costs a few MiB of RAM, not the inode tables of a 4G ext2" {
	run --separate-stderr in_ns 4G 'du -k "$LR_RUN/cache.img" | cut -f1' "$NOSYS"
	[ "$status" -eq 0 ]
	[ "$(stat -c %s "$RUNDIR/cache.img")" -eq 4294967296 ]
	[ "${lines[0]}" -le 16384 ] || { echo "image uses ${lines[0]} KiB"; return 1; }
}

@test "on zram too: the 4G default's file system costs a few MiB of RAM" {
	need_zram
	# mm_stat's third field: the RAM zram uses for what was written, in bytes
	run --separate-stderr in_ns 4G 'set -- $(cat "/sys/block/${dev#/dev/}/mm_stat"); echo "$3"'
	[ "$status" -eq 0 ]
	[ "${lines[0]}" -le 16777216 ] || { echo "zram uses ${lines[0]} bytes"; return 1; }
}

@test "the cache filesystem has user xattrs and O_TMPFILE, as cachefiles needs" {
	command -v python3 >/dev/null || skip "needs python3 for the probes"
	for sys in /sys "$NOSYS"; do
		run --separate-stderr in_ns 32M '
		python3 -c "
import os, sys
d = sys.argv[1]
os.setxattr(d, \"user.CacheFiles.cache\", b\"x\")
print(\"xattr\", os.getxattr(d, \"user.CacheFiles.cache\").decode())
fd = os.open(d, os.O_TMPFILE | os.O_RDWR, 0o600)
os.pwrite(fd, b\"data\", 1 << 20)
print(\"tmpfile ok\")
" "$dir"
		# cachefiles makes a fan-out of directories per volume
		i=0
		while [ $i -lt 300 ]; do mkdir "$dir/d$i"; i=$((i + 1)); done
		echo dirs ok' "$sys"
		echo "$sys: $output $stderr"
		[ "$status" -eq 0 ]
		[ "${lines[0]}" = "xattr x" ]
		[ "${lines[1]}" = "tmpfile ok" ]
		[ "${lines[2]}" = "dirs ok" ]
	done
}

@test "with e2fsprogs' mke2fs (dracut): ext4 with extents and no journal, on zram or the loop device" {
	command -v /sbin/dumpe2fs >/dev/null || skip "needs e2fsprogs"
	mkdir -p "$BATS_TEST_TMPDIR/e2fs"
	ln -s "$(command -v mke2fs)" "$BATS_TEST_TMPDIR/e2fs/mke2fs"
	export MKE2FS_DIR=$BATS_TEST_TMPDIR/e2fs
	sys_list=$NOSYS
	[ ! -w /sys/class/zram-control/hot_add ] || sys_list="/sys $NOSYS"
	for sys in $sys_list; do
		# cachefiles writes into holes with direct I/O: ext4 does that only with extents
		mounted_64m "$sys" '/sbin/dumpe2fs -h "$dev" 2>/dev/null | sed -n "s/^Filesystem features: *//p"'
		echo "$sys: $stderr; features: ${lines[3]}"
		[ "${lines[0]#* }" = ext4 ]
		[[ " ${lines[3]} " == *" extent "* ]]
		[[ " ${lines[3]} " != *" has_journal "* ]]
		case $sys in
		/sys) [[ $stderr == "lazyroot: cache: 64M ext4 on /dev/zram"*" (zram: in RAM as written, compressed), mounted on $RUNDIR/cache" ]] ;;
		*) [[ $stderr == "lazyroot: cache: 64M sparse ext4 image on /dev/loop"*" (no zram: the kernel lacks CONFIG_ZRAM), mounted on $RUNDIR/cache" ]] ;;
		esac
	done
	# and the 4G default stays a few MiB: inode tables written, nothing else
	run --separate-stderr in_ns 4G 'du -k "$LR_RUN/cache.img" | cut -f1' "$NOSYS"
	[ "$status" -eq 0 ]
	[ "${lines[0]}" -le 16384 ] || { echo "image uses ${lines[0]} KiB"; return 1; }
}

@test "lr_cache_setup reports a failing step in one line" {
	# a directory where the image should go: truncate fails
	run unshare -m sh -c '
		PATH=$BB:$PATH
		. "$TOP/initrd/lazyroot-busybox.sh"
		. "$TOP/initrd/lazyroot-lib.sh"
		LR_RUN=$RUNDIR LR_SYS=$NOSYS
		mkdir -p "$LR_RUN/cache.img"
		LR_CACHESIZE=16777216 LR_CACHESIZE_ARG=16M
		lr_cache_setup || { echo "$LR_ERR"; exit 1; }'
	[ "$status" -eq 1 ]
	[ "${#lines[@]}" -eq 1 ]
	case $output in "cannot create the cache image $RUNDIR/cache.img (16M): "*) ;; *) return 1 ;; esac
}

# disk_ns MKE2FS_DIR: lr_cache_disk_setup on a blank loop device with the mke2fs found
# first in MKE2FS_DIR; prints its info line, then the journal flag of what it made
disk_ns() {
	rm -f "$BATS_TEST_TMPDIR/disk"
	truncate -s 64M "$BATS_TEST_TMPDIR/disk"
	dev=$(losetup -f --show "$BATS_TEST_TMPDIR/disk")
	unshare -m sh -c '
		mount --make-rprivate /
		PATH=$1:$PATH
		. "$TOP/initrd/lazyroot-busybox.sh"
		. "$TOP/initrd/lazyroot-lib.sh"
		LR_RUN=$RUNDIR LR_CACHEDEV=$2
		mkdir -p "$LR_RUN"
		lr_cache_disk_setup 2>&1 | grep formatted || { echo "FAILED: $LR_ERR"; exit 1; }
		umount "$LR_RUN/cache"
		/sbin/dumpe2fs -h "$2" 2>/dev/null | grep -c has_journal
	' sh "$1" "$dev"
	rc=$?
	losetup -d "$dev"
	return $rc
}

@test "a blank erofs.cache= disk gets ext4 with a journal; with busybox's mke2fs, ext2 and a line saying so" {
	command -v /sbin/dumpe2fs > /dev/null || skip "needs e2fsprogs"
	mkdir -p "$BATS_TEST_TMPDIR/e2fs"
	ln -s "$(command -v mke2fs)" "$BATS_TEST_TMPDIR/e2fs/mke2fs"
	run disk_ns "$BATS_TEST_TMPDIR/e2fs"
	echo "$output"
	[[ ${lines[0]} == "lazyroot: cache: formatted the blank /dev/loop"*" (ext4, with a journal)" ]]
	[ "${lines[1]}" = 1 ]
	run disk_ns "$BB"
	echo "$output"
	[[ ${lines[0]} == "lazyroot: cache: formatted the blank /dev/loop"*" (ext2: this mke2fs makes no journal)" ]]
	[ "${lines[1]}" = 0 ]
}
