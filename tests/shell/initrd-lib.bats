#!/usr/bin/env bats
# Unit tests of initrd/lazyroot-lib.sh, the boot steps the busybox /init and the dracut module
# share: the root's parameters, the kernel check, the cache's helpers, the EROFS mount's
# failure. The library is sourced into the test shell after lazyroot-busybox.sh, whose
# getarg/info/warn stand in for the init's (the parameters are also read through dracut's own
# getarg, below); functions that report through variables are called directly (not through
# `run`, which would lose the variables).

bats_require_minimum_version 1.5.0

load ../lib/initrd-test

# --- sizes ---------------------------------------------------------------------------------

@test "lr_parse_size: suffixes K M G T in either case, and plain bytes" {
	lr_parse_size 4G
	[ "$LR_SIZE" = 4294967296 ]
	lr_parse_size 4g
	[ "$LR_SIZE" = 4294967296 ]
	lr_parse_size 16M
	[ "$LR_SIZE" = 16777216 ]
	lr_parse_size 65536k
	[ "$LR_SIZE" = 67108864 ]
	lr_parse_size 1T
	[ "$LR_SIZE" = 1099511627776 ]
	lr_parse_size 33554432
	[ "$LR_SIZE" = 33554432 ]
}

@test "lr_parse_size: leading zeros are decimal, not octal" {
	lr_parse_size 0032M
	[ "$LR_SIZE" = 33554432 ]
	lr_parse_size 010G
	[ "$LR_SIZE" = 10737418240 ]
}

@test "lr_parse_size: malformed values are refused, naming the value" {
	for v in '' G 4X 4GB 4.5G -1 ' 4G' 4G4 0x10M 1e9 4M+; do
		LR_ERR=
		if lr_parse_size "$v"; then
			echo "accepted '$v'"
			return 1
		fi
		[ "$LR_ERR" = "erofs.cachesize=$v: expected a size like 4G (digits and an optional K, M, G or T)" ]
	done
}

@test "lr_parse_size: below 16M is too small" {
	fails lr_parse_size 15M
	[ "$LR_ERR" = "erofs.cachesize=15M: too small (at least 16M)" ]
	fails lr_parse_size 0
	fails lr_parse_size 16777215
	lr_parse_size 16777216
}

@test "lr_parse_size: above 1T is too large, without arithmetic overflow" {
	fails lr_parse_size 1025G
	[ "$LR_ERR" = "erofs.cachesize=1025G: too large (at most 1T)" ]
	fails lr_parse_size 2T
	# 2^64 + a bit: would wrap around in 64-bit shell arithmetic
	fails lr_parse_size 18446744073709551617
	[ "$LR_ERR" = "erofs.cachesize=18446744073709551617: too large (at most 1T)" ]
	fails lr_parse_size 17179869184T
	fails lr_parse_size 99999999999999999999999999G
}

@test "lr_inode_ratio: one inode per 256K, clamped to 4096..65536 inodes" {
	[ "$(lr_inode_ratio 16777216)" = 4096 ]              # 16M: 4096 inodes
	[ "$(lr_inode_ratio 4294967296)" = 262144 ]          # 4G: 16384 inodes
	[ "$(lr_inode_ratio 1099511627776)" = 16777216 ]     # 1T: 65536 inodes
}

# --- URL, fsid, init ---------------------------------------------------------------------

@test "lr_check_url accepts https:// URLs with a host" {
	lr_check_url https://10.0.2.2:8443/img/
	lr_check_url https://boot.example/images
	lr_check_url 'https://[fd00::1]:8443/img/'
}

@test "lr_check_url takes a list of up to 8 mirrors, each checked" {
	lr_check_url https://a/img/,https://10.0.2.2:8443/img
	lr_check_url https://a/,https://b/,https://c/,https://d/,https://e/,https://f/,https://g/,https://h/
	fails lr_check_url https://a/,https://b/,https://c/,https://d/,https://e/,https://f/,https://g/,https://h/,https://i/
	[ "$LR_ERR" = "erofs.url=https://a/,https://b/,https://c/,https://d/,https://e/,https://f/,https://g/,https://h/,https://i/: more than 8 mirrors" ]
	fails lr_check_url https://a/,http://b/
	[ "$LR_ERR" = "erofs.url=https://a/,http://b/: must start with https:// (the root image must come from an authenticated server) (entry http://b/)" ]
	for u in https://a/, ,https://a/ https://a/,,https://b/; do
		fails lr_check_url "$u"
		[ "$LR_ERR" = "erofs.url=$u: empty entry in the mirror list" ]
	done
	fails lr_check_url https://a/,https:///x
	[ "$LR_ERR" = "erofs.url=https://a/,https:///x: no host after the scheme (entry https:///x)" ]
}

@test "lr_check_url refuses other schemes and missing hosts, naming the value" {
	for u in ftp://h/x file:///img 10.0.2.2/img HTTPS://h/x https:/h/x 'https//h' \
		' https://h/' https:// https:///img http://:80/img http://boot.example/; do
		LR_ERR=
		if lr_check_url "$u"; then
			echo "accepted '$u'"
			return 1
		fi
		case $LR_ERR in
		"erofs.url=$u: "*) ;;
		*)
			echo "bad message for '$u': $LR_ERR"
			return 1
			;;
		esac
	done
	fails lr_check_url ftp://h/x
	[ "$LR_ERR" = "erofs.url=ftp://h/x: must start with https:// (the root image must come from an authenticated server)" ]
	fails lr_check_url http://boot.example/
	[ "$LR_ERR" = "erofs.url=http://boot.example/: must start with https:// (the root image must come from an authenticated server)" ]
	fails lr_check_url https:///img
	[ "$LR_ERR" = "erofs.url=https:///img: no host after the scheme" ]
}

@test "lr_check_fsid refuses what would break the mount options" {
	lr_check_fsid rootfs-v2
	lr_check_fsid 'a.b_c:d/e'
	fails lr_check_fsid 'a,dax'
	[ "$LR_ERR" = "erofs.fsid=a,dax: must not contain ',', quotes or blanks" ]
	fails lr_check_fsid 'a b'
	fails lr_check_fsid 'a"b'
}

@test "lr_default_cachesize: 4G, or half the RAM when that is less" {
	printf 'MemTotal:       24000000 kB\nMemFree: 1 kB\n' > "$BATS_TEST_TMPDIR/big"
	LR_MEMINFO="$BATS_TEST_TMPDIR/big" lr_default_cachesize
	[ "$LR_CACHESIZE" = 4294967296 ] && [ "$LR_CACHESIZE_ARG" = 4G ]
	printf 'MemTotal:        1004112 kB\n' > "$BATS_TEST_TMPDIR/small"
	LR_MEMINFO="$BATS_TEST_TMPDIR/small" lr_default_cachesize
	[ "$LR_CACHESIZE" = $((490 * 1048576)) ] && [ "$LR_CACHESIZE_ARG" = 490M ]
	printf 'garbage\n' > "$BATS_TEST_TMPDIR/bad"
	LR_MEMINFO="$BATS_TEST_TMPDIR/bad" lr_default_cachesize
	[ "$LR_CACHESIZE_ARG" = 4G ]
}

@test "lr_parse_root: erofs.cache= names a block device, and is not erofs.cachesize=" {
	CMDLINE='erofs.fsid=r erofs.url=https://h/ erofs.cachesize=512M'
	lr_parse_root
	[ -z "$LR_CACHEDEV" ]
	CMDLINE='erofs.fsid=r erofs.url=https://h/ erofs.cache=/dev/vdb'
	lr_parse_root
	[ "$LR_CACHEDEV" = /dev/vdb ]
	CMDLINE='erofs.fsid=r erofs.url=https://h/ erofs.cache=/dev/disk/by-label/lazyroot-cache'
	lr_parse_root
	[ "$LR_CACHEDEV" = /dev/disk/by-label/lazyroot-cache ]
	for v in vdb /tmp/x /dev/ '/dev/a b' /dev/../etc/x '/dev/$(x)'; do
		CMDLINE="erofs.fsid=r erofs.url=https://h/ erofs.cache=\"$v\""
		fails lr_parse_root
		[ "$LR_ERR" = "erofs.cache=$v: expected a block device path such as /dev/vdb" ]
	done
}

@test "lr_disk_label and lr_disk_blank tell a lazyroot cache, another file system and data apart" {
	d=$BATS_TEST_TMPDIR/disk
	truncate -s 16M "$d"
	lr_disk_blank "$d"
	! lr_disk_label "$d"
	mke2fs -q -F -L lazyroot-cache "$d"
	[ "$(lr_disk_label "$d")" = lazyroot-cache ]
	! lr_disk_blank "$d"
	mke2fs -q -F -t ext4 -L data "$d"
	[ "$(lr_disk_label "$d")" = data ]
	dd if=/dev/zero of="$d" bs=1M count=1 conv=notrunc 2>/dev/null
	lr_disk_blank "$d"
	printf x | dd of="$d" bs=1 seek=1048575 conv=notrunc 2>/dev/null
	! lr_disk_blank "$d"
	! lr_disk_label "$d"
}

@test "lr_parse_root: erofs.backend= is auto (the default, also when empty), fscache or nbd" {
	CMDLINE='erofs.fsid=r erofs.url=https://h/'
	lr_parse_root
	[ "$LR_BACKEND_ARG" = auto ]
	for v in auto fscache nbd; do
		CMDLINE="erofs.fsid=r erofs.url=https://h/ erofs.backend=$v"
		lr_parse_root
		[ "$LR_BACKEND_ARG" = "$v" ]
	done
	CMDLINE='erofs.fsid=r erofs.url=https://h/ erofs.backend='
	lr_parse_root
	[ "$LR_BACKEND_ARG" = auto ]
	for v in NBD ublk 'nbd,fscache'; do
		CMDLINE="erofs.fsid=r erofs.url=https://h/ erofs.backend=$v"
		fails lr_parse_root
		[ "$LR_ERR" = "erofs.backend=$v: expected auto, fscache or nbd" ]
	done
}

@test "lr_parse_root: erofs.prefetch= is on, off or empty; anything else, the line lazyrootd gives" {
	for v in on off ''; do
		CMDLINE="erofs.fsid=r erofs.url=https://h/ erofs.prefetch=$v"
		lr_parse_root
	done
	for v in yes OFF 1; do
		CMDLINE="erofs.fsid=r erofs.url=https://h/ erofs.prefetch=$v"
		fails lr_parse_root
		[ "$LR_ERR" = "erofs.prefetch=$v: expected on or off" ]
	done
	echo 'erofs.url=https://h/ erofs.prefetch=yes' > "$BATS_TEST_TMPDIR/cmdline"
	run --separate-stderr daemon/lazyrootd --cache-dir /nonexistent --cmdline "$BATS_TEST_TMPDIR/cmdline"
	[ "$status" -eq 2 ]
	[ "$stderr" = "lazyrootd: erofs.prefetch=yes: expected on or off" ]
}

@test "lr_parse_root: erofs.fill= is on, off or empty; erofs.fillrate= 64K..10G; anything else, the line lazyrootd gives" {
	for v in on off ''; do
		CMDLINE="erofs.fsid=r erofs.url=https://h/ erofs.fill=$v"
		lr_parse_root
	done
	for v in yes ON 1; do
		CMDLINE="erofs.fsid=r erofs.url=https://h/ erofs.fill=$v"
		fails lr_parse_root
		[ "$LR_ERR" = "erofs.fill=$v: expected on or off" ]
	done
	for v in 64K 64k 4M 0004m 10G 10240M 1048576 ''; do
		CMDLINE="erofs.fsid=r erofs.url=https://h/ erofs.fillrate=$v"
		lr_parse_root
	done
	for v in 63K 65535 11G 1T 99999999999999999999; do
		CMDLINE="erofs.fsid=r erofs.url=https://h/ erofs.fillrate=$v"
		fails lr_parse_root
		[ "$LR_ERR" = "erofs.fillrate=$v: outside 64K..10G (bytes a second)" ]
	done
	for v in 4MB fast -1M 4M/s K; do
		CMDLINE="erofs.fsid=r erofs.url=https://h/ erofs.fillrate=$v"
		fails lr_parse_root
		[ "$LR_ERR" = "erofs.fillrate=$v: expected bytes a second like 4M (digits and an optional K, M or G)" ]
	done
	# lazyrootd says the same in one line
	for v in 'erofs.fill=yes' 'erofs.fillrate=63K' 'erofs.fillrate=4MB'; do
		CMDLINE="erofs.fsid=r erofs.url=https://h/ $v"
		fails lr_parse_root
		echo "erofs.url=https://h/ $v" > "$BATS_TEST_TMPDIR/cmdline"
		run --separate-stderr daemon/lazyrootd --cache-dir /nonexistent --cmdline "$BATS_TEST_TMPDIR/cmdline"
		[ "$status" -eq 2 ]
		[ "$stderr" = "lazyrootd: $LR_ERR" ]
	done
}

@test "lr_parse_root: erofs.onerror= is wait (the default, also when empty) or fail; erofs.timeout= 1..86400" {
	CMDLINE='erofs.fsid=r erofs.url=https://h/'
	lr_parse_root
	[ "$LR_ONERROR" = wait ]
	for v in wait fail; do
		CMDLINE="erofs.fsid=r erofs.url=https://h/ erofs.onerror=$v erofs.timeout=86400"
		lr_parse_root
		[ "$LR_ONERROR" = "$v" ]
	done
	CMDLINE='erofs.fsid=r erofs.url=https://h/ erofs.onerror= erofs.timeout='
	lr_parse_root
	[ "$LR_ONERROR" = wait ]
	for v in soft FAIL 'wait,fail'; do
		CMDLINE="erofs.fsid=r erofs.url=https://h/ erofs.onerror=$v"
		fails lr_parse_root
		[ "$LR_ERR" = "erofs.onerror=$v: expected wait or fail" ]
	done
	for v in 0 86401 10s -1 1234567890; do
		CMDLINE="erofs.fsid=r erofs.url=https://h/ erofs.timeout=$v"
		fails lr_parse_root
		[ "$LR_ERR" = "erofs.timeout=$v: expected a number of seconds in 1..86400" ]
	done
}

@test "lr_parse_root: missing or empty erofs.fsid is named" {
	CMDLINE='erofs.url=https://h/'
	fails lr_parse_root
	[ "$LR_ERR" = "missing erofs.fsid= on the kernel command line (the fsid of the EROFS image)" ]
	CMDLINE='erofs.fsid= erofs.url=https://h/'
	fails lr_parse_root
	case $LR_ERR in "missing erofs.fsid="*) ;; *) return 1 ;; esac
}

@test "lr_parse_root: missing erofs.url is named" {
	CMDLINE='erofs.fsid=a'
	fails lr_parse_root
	case $LR_ERR in "missing erofs.url="*) ;; *) return 1 ;; esac
}

@test "lr_parse_root: a bad erofs.url is named with its value" {
	CMDLINE='erofs.fsid=a erofs.url=tftp://10.0.2.2/img'
	fails lr_parse_root
	[ "$LR_ERR" = "erofs.url=tftp://10.0.2.2/img: must start with https:// (the root image must come from an authenticated server)" ]
}

# --- environment probes ------------------------------------------------------------------

@test "lr_have_fs reads /proc/filesystems' two layouts" {
	printf 'nodev\tsysfs\nnodev\ttmpfs\n\text4\n\terofs\nnodev\toverlay\n' >"$BATS_TEST_TMPDIR/fs"
	lr_have_fs erofs "$BATS_TEST_TMPDIR/fs"
	lr_have_fs overlay "$BATS_TEST_TMPDIR/fs"
	lr_have_fs ext4 "$BATS_TEST_TMPDIR/fs"
	fails lr_have_fs ext2 "$BATS_TEST_TMPDIR/fs"
	fails lr_have_fs erof "$BATS_TEST_TMPDIR/fs"
	fails lr_have_fs nodev "$BATS_TEST_TMPDIR/fs"
}

# --- the EROFS mount failure ------------------------------------------------------------

@test "lr_erofs_mount_error: lazyrootd's error file wins" {
	echo 'https://10.0.2.2:8443/img/rootfs-v2: HTTP 404' >"$BATS_TEST_TMPDIR/error"
	lr_erofs_mount_error rootfs-v2 'mount: mounting none on /run/lazyroot/lower failed: Input/output error' "$BATS_TEST_TMPDIR/error"
	[ "$LR_ERR" = "cannot mount EROFS fsid=rootfs-v2: https://10.0.2.2:8443/img/rootfs-v2: HTTP 404" ]
	# only its first line
	printf 'first\nsecond\n' >"$BATS_TEST_TMPDIR/error"
	lr_erofs_mount_error r x "$BATS_TEST_TMPDIR/error"
	[ "$LR_ERR" = "cannot mount EROFS fsid=r: first" ]
	# without a final newline
	printf 'no newline' >"$BATS_TEST_TMPDIR/error"
	lr_erofs_mount_error r x "$BATS_TEST_TMPDIR/error"
	[ "$LR_ERR" = "cannot mount EROFS fsid=r: no newline" ]
	: >"$BATS_TEST_TMPDIR/error"
	lr_erofs_mount_error r x "$BATS_TEST_TMPDIR/error"
	[ "$LR_ERR" = "cannot mount EROFS fsid=r: lazyrootd failed the request (empty $BATS_TEST_TMPDIR/error)" ]
}

@test "lr_erofs_mount_error: ENOENT means the kernel ignored fsid= (no CONFIG_EROFS_FS_ONDEMAND)" {
	lr_erofs_mount_error rootfs-v2 'mount: mounting none on /run/lazyroot/lower failed: No such file or directory' "$BATS_TEST_TMPDIR/none"
	[ "$LR_ERR" = "cannot mount EROFS fsid=rootfs-v2: the kernel's EROFS lacks on-demand fscache (CONFIG_EROFS_FS_ONDEMAND); see docs/kernel.md" ]
}

@test "lr_erofs_mount_error: ENOBUFS means nothing is bound to /dev/cachefiles" {
	lr_erofs_mount_error r 'mount: mounting none on /run/lazyroot/lower failed: No buffer space available' "$BATS_TEST_TMPDIR/none"
	[ "$LR_ERR" = "cannot mount EROFS fsid=r: no cache is bound to /dev/cachefiles (lazyrootd is not serving)" ]
}

@test "lr_erofs_mount_error: other errors are passed on" {
	lr_erofs_mount_error r 'mount: mounting none on /run/lazyroot/lower failed: Invalid argument' "$BATS_TEST_TMPDIR/none"
	[ "$LR_ERR" = "cannot mount EROFS fsid=r: Invalid argument (lazyrootd reported no error)" ]
	lr_erofs_mount_error r '' "$BATS_TEST_TMPDIR/none"
	[ "$LR_ERR" = "cannot mount EROFS fsid=r: mount failed (lazyrootd reported no error)" ]
}


# --- the root's parameters, through either init's getarg -----------------------------------

# dracut_parse_root CMDLINE: lr_parse_root in a shell whose getarg is dracut's own (the
# dracut-getarg of dracut-util, as dracut-lib.sh calls it); prints its result or LR_ERR
dracut_parse_root() {
	local util=/usr/lib/dracut/dracut-util
	[ -x "$util" ] || skip "dracut not installed (scripts/install-deps)"
	mkdir -p "$BATS_TEST_TMPDIR/bin"
	ln -sf "$util" "$BATS_TEST_TMPDIR/bin/dracut-getarg"
	CMDLINE=$1 PATH=$BATS_TEST_TMPDIR/bin:$PATH sh -c '
		getarg() { dracut-getarg "$1"; }
		info() { :; }
		. "$1"
		lr_parse_root || { echo "$LR_ERR"; exit 1; }
		echo "$LR_FSID|$LR_URL|$LR_CACHESIZE_ARG|$LR_CACHEDEV"' sh "$LIB"
}

# busybox_parse_root CMDLINE: the same with the busybox /init's getarg
busybox_parse_root() {
	CMDLINE=$1
	lr_parse_root || { echo "$LR_ERR"; return 1; }
	echo "$LR_FSID|$LR_URL|$LR_CACHESIZE_ARG|$LR_CACHEDEV"
}

@test "lr_parse_root reads the same under the busybox getarg and dracut's" {
	export LR_MEMINFO="$BATS_TEST_TMPDIR/meminfo"
	printf 'MemTotal:       24000000 kB\n' > "$LR_MEMINFO"
	for c in 'erofs.fsid=r erofs.url="https://h/x/" erofs.cachesize=64M erofs.cache=/dev/vdb' \
		'erofs.fsid=a erofs.fsid=b erofs.url=https://h/' \
		'"erofs.fsid=q" erofs.url=https://h/,https://i/ erofs.cachesize=32m' \
		'erofs.fsid=r erofs.url=https://h/ erofs.cachesize=lots' \
		'erofs.url=https://h/' 'erofs.fsid= erofs.url=https://h/' 'erofs.fsid=r erofs.url=' \
		'erofs.fsid=r erofs.url=https://h/ erofs.cache=vdb'; do
		bb=$(busybox_parse_root "$c") || :
		dr=$(dracut_parse_root "$c") || :
		[ "$bb" = "$dr" ] || { printf 'cmdline: %s\nbusybox: %s\ndracut:  %s\n' "$c" "$bb" "$dr"; return 1; }
	done
	[ "$(busybox_parse_root 'erofs.fsid=a erofs.fsid=b erofs.url=https://h/')" = "b|https://h/|4G|" ]
}

@test "lr_parse_root: an empty erofs.cachesize= or erofs.cache= is the default, under both getargs" {
	export LR_MEMINFO="$BATS_TEST_TMPDIR/meminfo"
	printf 'MemTotal:       1004112 kB\n' > "$LR_MEMINFO"
	c='erofs.fsid=r erofs.url=https://h/ erofs.cachesize= erofs.cache='
	[ "$(busybox_parse_root "$c")" = "r|https://h/|490M|" ]
	[ "$(dracut_parse_root "$c")" = "r|https://h/|490M|" ]
}

@test "lr_parse_root: the grammar's one difference, dracut's getarg reads on after --" {
	c='erofs.fsid=r erofs.url=https://h/ -- erofs.cachesize=lots'
	[ "$(busybox_parse_root "$c")" = "r|https://h/|4G|" ]
	run dracut_parse_root "$c"
	[ "$output" = "erofs.cachesize=lots: expected a size like 4G (digits and an optional K, M, G or T)" ]
}

# --- the kernel check ----------------------------------------------------------------------

# fake_kernel FEATURE...: a /proc and /dev with these: cachefiles, ondemand (cachefiles'
# on-demand code), erofs, fscache (EROFS's fscache mode), overlay, ext4, nbd (the block
# driver in /proc/devices), nosyms (no /proc/kallsyms); LR_PROC and LR_DEV point at them
fake_kernel() {
	local k=$BATS_TEST_TMPDIR/kernel f
	rm -rf "$k"
	mkdir -p "$k/proc" "$k/dev"
	printf 'nodev\tsysfs\nnodev\ttmpfs\n' >"$k/proc/filesystems"
	printf 'Character devices:\n  1 mem\n 10 misc\n\nBlock devices:\n  7 loop\n' >"$k/proc/devices"
	printf 'ffffffff81000000 T _text\n0000000000000000 t some_function\n' >"$k/proc/kallsyms"
	for f; do
		case $f in
		cachefiles)
			mknod "$k/dev/cachefiles" c 10 123
			printf 'ffffffffc0a01000 t cachefiles_daemon_write\t[cachefiles]\n' >>"$k/proc/kallsyms"
			;;
		ondemand)
			printf 'ffffffffc0a02000 t cachefiles_ondemand_copen\t[cachefiles]\n' >>"$k/proc/kallsyms"
			;;
		erofs)
			printf '\terofs\n' >>"$k/proc/filesystems"
			printf '0000000000000000 t erofs_fc_fill_super\n' >>"$k/proc/kallsyms"
			;;
		fscache)
			printf '0000000000000000 T erofs_fscache_register_fs\n' >>"$k/proc/kallsyms"
			;;
		overlay) printf 'nodev\toverlay\n' >>"$k/proc/filesystems" ;;
		ext4) printf '\text4\n' >>"$k/proc/filesystems" ;;
		nbd) printf ' 43 nbd\n' >>"$k/proc/devices" ;;
		nosyms) rm "$k/proc/kallsyms" ;;
		esac
	done
	LR_PROC=$k/proc LR_DEV=$k/dev LR_BACKEND_ARG=auto LR_CACHEDEV=
}

# the two routes' lines when a kernel has neither
NO_NBD='for NBD: no NBD block driver in /proc/devices (CONFIG_BLK_DEV_NBD)'
NO_ONDEMAND='/dev/cachefiles has no on-demand mode (CONFIG_CACHEFILES_ONDEMAND), EROFS has no fscache mode (CONFIG_EROFS_FS_ONDEMAND)'

@test "lr_kernel_check passes a kernel with everything" {
	fake_kernel cachefiles ondemand erofs fscache overlay ext4
	lr_kernel_check
	[ -z "$LR_ERR" ]
	[ "$LR_BACKEND" = fscache ]
}

@test "lr_kernel_check: a distribution kernel without NBD gets one line naming both routes" {
	fake_kernel cachefiles erofs overlay ext4
	fails lr_kernel_check
	[ "$LR_ERR" = "this kernel cannot serve the root on demand: for fscache: $NO_ONDEMAND; $NO_NBD; see docs/kernel.md" ]
	[ -z "$LR_BACKEND" ]
}

@test "lr_kernel_check names each missing piece, all in one line" {
	fake_kernel cachefiles ondemand erofs overlay ext4
	fails lr_kernel_check
	[ "$LR_ERR" = "this kernel cannot serve the root on demand: for fscache: EROFS has no fscache mode (CONFIG_EROFS_FS_ONDEMAND); $NO_NBD; see docs/kernel.md" ]
	# what both routes need comes first
	fake_kernel erofs fscache ext4
	fails lr_kernel_check
	[ "$LR_ERR" = "this kernel cannot serve the root on demand: no overlayfs in /proc/filesystems (CONFIG_OVERLAY_FS); for fscache: no /dev/cachefiles (CONFIG_CACHEFILES); $NO_NBD; see docs/kernel.md" ]
	fake_kernel
	fails lr_kernel_check
	[ "$LR_ERR" = "this kernel cannot serve the root on demand: no EROFS in /proc/filesystems (CONFIG_EROFS_FS), no overlayfs in /proc/filesystems (CONFIG_OVERLAY_FS); for fscache: no /dev/cachefiles (CONFIG_CACHEFILES), no ext4 or ext2 for the cache in /proc/filesystems (CONFIG_EXT4_FS); $NO_NBD; see docs/kernel.md" ]
	# ext2 does for the cache
	fake_kernel cachefiles ondemand erofs fscache overlay
	printf '\text2\n' >>"$LR_PROC/filesystems"
	lr_kernel_check
}

@test "lr_kernel_check: /dev/cachefiles must be a character device" {
	fake_kernel ondemand erofs fscache overlay ext4
	: >"$LR_DEV/cachefiles"
	fails lr_kernel_check
	[ "$LR_ERR" = "this kernel cannot serve the root on demand: for fscache: no /dev/cachefiles (CONFIG_CACHEFILES); $NO_NBD; see docs/kernel.md" ]
}

@test "lr_kernel_check: without a symbol table the on-demand parts cannot be told, and pass" {
	fake_kernel cachefiles erofs overlay ext4 nosyms
	lr_kernel_check
	# a table without cachefiles' or EROFS's code says nothing about their parts either
	fake_kernel cachefiles erofs overlay ext4
	printf 'ffffffff81000000 T _text\n' >"$LR_PROC/kallsyms"
	lr_kernel_check
}

@test "lr_kernel_check: any function of the on-demand code will do" {
	fake_kernel cachefiles erofs overlay ext4
	printf '0 t cachefiles_ondemand_some_later_name\t[cachefiles]\n0 T erofs_fscache_x\t[erofs]\n' \
		>>"$LR_PROC/kallsyms"
	lr_kernel_check
}

@test "lr_kernel_check matches whole symbol names only" {
	fake_kernel cachefiles erofs overlay ext4
	printf 'ffffffffc0a02000 t xcachefiles_ondemand_copen\t[cachefiles]\n0 t erofs_fscache\n0 t erofs_fscache_\n' \
		>>"$LR_PROC/kallsyms"
	fails lr_kernel_check
	case $LR_ERR in *CONFIG_CACHEFILES_ONDEMAND*CONFIG_EROFS_FS_ONDEMAND*) ;; *) return 1 ;; esac
}

@test "lr_kernel_check: a distribution kernel with NBD takes NBD, which needs no ext4 and no cachefiles" {
	fake_kernel cachefiles erofs overlay nbd
	lr_kernel_check
	[ "$LR_BACKEND" = nbd ]
	# auto says why not fscache (lr_daemon_start logs it)
	[ "$LR_BACKEND_WHY" = "no fscache route: $NO_ONDEMAND, no ext4 or ext2 for the cache in /proc/filesystems (CONFIG_EXT4_FS)" ]
	fake_kernel erofs overlay nbd
	lr_kernel_check
	[ "$LR_BACKEND" = nbd ]
	[ "$LR_BACKEND_WHY" = "no fscache route: no /dev/cachefiles (CONFIG_CACHEFILES), EROFS has no fscache mode (CONFIG_EROFS_FS_ONDEMAND), no ext4 or ext2 for the cache in /proc/filesystems (CONFIG_EXT4_FS)" ]
	# but the disk store (erofs.cache=) is an ext file system
	LR_CACHEDEV=/dev/vdb
	fails lr_kernel_check
	[ "$LR_ERR" = "this kernel cannot serve the root on demand: for fscache: no /dev/cachefiles (CONFIG_CACHEFILES), EROFS has no fscache mode (CONFIG_EROFS_FS_ONDEMAND), no ext4 or ext2 for the cache in /proc/filesystems (CONFIG_EXT4_FS); for NBD: no ext4 or ext2 for the cache in /proc/filesystems (CONFIG_EXT4_FS); see docs/kernel.md" ]
	# EROFS and overlayfs both routes need
	fake_kernel cachefiles nbd ext4
	fails lr_kernel_check
	[ "$LR_ERR" = "this kernel cannot serve the root on demand: no EROFS in /proc/filesystems (CONFIG_EROFS_FS), no overlayfs in /proc/filesystems (CONFIG_OVERLAY_FS); see docs/kernel.md" ]
}

@test "lr_kernel_check: auto prefers fscache; erofs.backend= takes one route only" {
	fake_kernel cachefiles ondemand erofs fscache overlay ext4 nbd
	lr_kernel_check
	[ "$LR_BACKEND" = fscache ] && [ -z "$LR_BACKEND_WHY" ]
	LR_BACKEND_ARG=nbd
	lr_kernel_check
	# asked for: no reason to give
	[ "$LR_BACKEND" = nbd ] && [ -z "$LR_BACKEND_WHY" ]
	fake_kernel cachefiles erofs overlay ext4 nbd
	LR_BACKEND_ARG=fscache
	fails lr_kernel_check
	[ "$LR_ERR" = "this kernel cannot serve the root on demand (erofs.backend=fscache): $NO_ONDEMAND; see docs/kernel.md" ]
	[ -z "$LR_BACKEND" ]
	fake_kernel cachefiles ondemand erofs fscache overlay ext4
	LR_BACKEND_ARG=nbd
	fails lr_kernel_check
	[ "$LR_ERR" = "this kernel cannot serve the root on demand (erofs.backend=nbd): no NBD block driver in /proc/devices (CONFIG_BLK_DEV_NBD); see docs/kernel.md" ]
}

# --- the daemon ----------------------------------------------------------------------------

@test "lr_daemon_start runs the command with the cache's arguments, or says it failed" {
	LR_RUN=/run/lazyroot LR_STORE_DIR= LR_DEBUG= LR_BACKEND=
	run --separate-stderr lr_daemon_start echo @lazyrootd
	[ "$status" -eq 0 ]
	[ "$output" = "@lazyrootd --cache-dir /run/lazyroot/cache --error-file /run/lazyroot/error" ]
	[ "$stderr" = "lazyroot: starting lazyrootd" ]
	LR_BACKEND=fscache
	run --separate-stderr lr_daemon_start echo @lazyrootd
	[ "$output" = "@lazyrootd --backend fscache --cache-dir /run/lazyroot/cache --error-file /run/lazyroot/error" ]
	[ "$stderr" = "lazyroot: starting lazyrootd (backend fscache)" ]
	LR_STORE_DIR=/run/lazyroot/cache/store LR_DEBUG=1 LR_BACKEND=
	run lr_daemon_start echo
	[ "${lines[1]}" = "--cache-dir /run/lazyroot/cache --error-file /run/lazyroot/error --store-dir /run/lazyroot/cache/store --verbose" ]
	fails lr_daemon_start false
	[ "$LR_ERR" = "lazyrootd failed to start" ]
	# the daemon's error file, when it wrote one (NBD opens the image before it is up)
	LR_RUN=$BATS_TEST_TMPDIR LR_FSID=rootfs-v2
	echo "https://h/img/rootfs-v2: HTTP 404" >"$LR_RUN/error"
	fails lr_daemon_start false
	[ "$LR_ERR" = "cannot mount EROFS fsid=rootfs-v2: https://h/img/rootfs-v2: HTTP 404" ]
}

@test "lr_daemon_start for NBD: no cache directory, the map file instead" {
	LR_NBD_MAP=/run/lazyroot/nbd-map LR_RUN=/run/lazyroot LR_STORE_DIR= LR_DEBUG= LR_BACKEND=nbd
	run --separate-stderr lr_daemon_start echo @lazyrootd
	[ "$status" -eq 0 ]
	[ "$output" = "@lazyrootd --backend nbd --nbd-map /run/lazyroot/nbd-map --error-file /run/lazyroot/error" ]
	[ "$stderr" = "lazyroot: starting lazyrootd (backend nbd)" ]
	LR_STORE_DIR=/run/lazyroot/cache/store
	run lr_daemon_start echo
	[ "${lines[1]}" = "--backend nbd --nbd-map /run/lazyroot/nbd-map --error-file /run/lazyroot/error --store-dir /run/lazyroot/cache/store" ]
}

@test "lr_cache_setup: NBD without erofs.cache= needs no cache file system" {
	LR_RUN=$BATS_TEST_TMPDIR/run LR_BACKEND=nbd LR_CACHEDEV= LR_CACHESIZE=4294967296
	mke2fs() { echo "mke2fs called"; return 1; }
	lr_cache_setup
	[ -z "$LR_STORE_DIR" ]
	[ ! -e "$LR_RUN/cache.img" ]
}

# --- the NBD mount -------------------------------------------------------------------------

# nbd_map LINE...: lazyrootd's map in $LR_NBD_MAP
nbd_map() {
	LR_NBD_MAP=$BATS_TEST_TMPDIR/nbd-map LR_FSID=rootfs-v1
	printf '%s\n' "$@" >"$LR_NBD_MAP"
}

@test "lr_nbd_devices: the first device is the image, the others its extra devices" {
	nbd_map "rootfs-v1 /dev/nbd0"
	lr_nbd_devices "$LR_NBD_MAP"
	[ "$LR_NBD_DEV" = /dev/nbd0 ] && [ "$LR_NBD_OPTS" = ro ]
	nbd_map "rootfs-v1 /dev/nbd3" "$(printf '%064d' 7) /dev/nbd12"
	lr_nbd_devices "$LR_NBD_MAP"
	[ "$LR_NBD_DEV" = /dev/nbd3 ] && [ "$LR_NBD_OPTS" = ro,device=/dev/nbd12 ]
}

@test "lr_nbd_devices: an empty map or one naming anything but /dev/nbdN is refused" {
	nbd_map ""
	fails lr_nbd_devices "$LR_NBD_MAP"
	[ "$LR_ERR" = "cannot mount EROFS fsid=rootfs-v1: lazyrootd wrote no NBD devices to $LR_NBD_MAP" ]
	rm "$LR_NBD_MAP"
	fails lr_nbd_devices "$LR_NBD_MAP"
	for d in /dev/sda /dev/nbd0,dax /dev/nbd /dev/nbd1234 nbd0; do
		nbd_map "rootfs-v1 $d"
		fails lr_nbd_devices "$LR_NBD_MAP"
		[ "$LR_ERR" = "cannot mount EROFS fsid=rootfs-v1: $LR_NBD_MAP names '$d' for rootfs-v1, not an NBD device" ]
	done
}

@test "lr_mount_erofs: EROFS from the map's devices, or one line naming them and why" {
	nbd_map "rootfs-v1 /dev/nbd0" "$(printf '%064d' 7) /dev/nbd1"
	LR_RUN=$BATS_TEST_TMPDIR/run LR_BACKEND=nbd
	mount() { echo "mount $*" >>"$BATS_TEST_TMPDIR/calls"; }
	run --separate-stderr lr_mount_erofs
	[ "$status" -eq 0 ]
	[ "$stderr" = "lazyroot: mounting EROFS fsid=rootfs-v1 from /dev/nbd0 with /dev/nbd1" ]
	[ "$(cat "$BATS_TEST_TMPDIR/calls")" = "mount -t erofs -o ro,device=/dev/nbd1 /dev/nbd0 $LR_RUN/lower" ]
	mount() { echo "mount: mounting /dev/nbd0 on /x failed: Invalid argument" >&2; return 1; }
	fails lr_mount_erofs 2>/dev/null
	[ "$LR_ERR" = "cannot mount EROFS fsid=rootfs-v1 from /dev/nbd0 with /dev/nbd1 (NBD): Invalid argument" ]
	# the backend chosen, but no map: lazyrootd said nothing of its devices
	rm "$LR_NBD_MAP"
	fails lr_mount_erofs 2>/dev/null
	[ "$LR_ERR" = "cannot mount EROFS fsid=rootfs-v1: lazyrootd wrote no NBD devices to $LR_NBD_MAP" ]
}

@test "lr_info puts LR_TAG before the line (dracut's info says dracut: itself)" {
	info() { echo "dracut: $*" >&2; }
	LR_TAG='lazyroot: '
	run --separate-stderr lr_info "cache: 4G"
	[ "$stderr" = "dracut: lazyroot: cache: 4G" ]
}

# --- the library itself ----------------------------------------------------------------------

@test "lazyroot-lib.sh defines no name without the lr_ prefix (dracut-lib's stay dracut's)" {
	run env -i sh -c '. "$1"; set' sh "$LIB"
	vars=$(printf '%s\n' "$output" | sed -n 's/^\([A-Za-z_][A-Za-z0-9_]*\)=.*/\1/p' |
		grep -Ev '^(LR_[A-Z0-9_]+|PWD|PPID|IFS|OPTIND|PS[1-4]|HOME|PATH|SHLVL|_)$' || :)
	[ -z "$vars" ] || { echo "variables: $vars"; return 1; }
	funcs=$(sed -n 's/^\([A-Za-z_][A-Za-z0-9_]*\)() {.*/\1/p' "$LIB" | grep -v '^lr_' || :)
	[ -z "$funcs" ] || { echo "functions: $funcs"; return 1; }
	# and nothing but function definitions and LR_ settings at the top level
	run grep -Ev '^([[:space:]]|#|$|}|lr_[a-z_]+\(\) \{$|LR_[A-Z_]+=)' "$LIB"
	[ -z "$output" ] || { echo "top level: $output"; return 1; }
}
