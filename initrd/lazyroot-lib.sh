# shellcheck shell=sh disable=SC3043,SC2034
# (local: busybox ash, dash and bash all have it; SC2034: the variables are for the callers)
# lazyroot-lib.sh: the boot steps both initramfs kinds share, in the order both run them:
#
#   lr_parse_root      erofs.fsid=, erofs.url=, erofs.cachesize=, erofs.cache=, erofs.backend=,
#                      erofs.timeout=, erofs.onerror=, erofs.prefetch=, erofs.fill=,
#                      erofs.fillrate= (checked here, read again by lazyrootd)
#   lr_kernel_check    fscache or NBD (LR_BACKEND), or what the kernel lacks, in one line
#   (the network: the busybox /init's lr_net_setup, or dracut's network module)
#   lr_cache_setup     the cache directory cachefiles needs; for NBD only erofs.cache=
#   lr_daemon_start    lazyrootd, bound to /dev/cachefiles or its NBD devices when it returns
#   lr_mount_root DIR  EROFS at $LR_RUN/lower, a tmpfs overlay on DIR
#
# Sourced by the busybox /init (initrd/init, after lazyroot-busybox.sh) and by the dracut
# module's hook and netroot handler (after dracut-lib.sh). It defines only lr_ and LR_ names
# and uses the init's own getarg and info: dracut-lib.sh's, or the stand-ins in
# lazyroot-busybox.sh. Functions report a failure by setting LR_ERR to one line naming the
# bad value or the missing piece and returning 1; the init decides how to die. LR_TAG goes
# before every line the functions print: dracut's info says "dracut: ", so the module sets
# LR_TAG="lazyroot: "; the busybox info says "lazyroot: " itself.
#
# The kernel command line grammar and every parameter: docs/cmdline.md.

LR_RUN=${LR_RUN:-/run/lazyroot}
LR_PROC=${LR_PROC:-/proc}
LR_DEV=${LR_DEV:-/dev}
LR_SYS=${LR_SYS:-/sys}
LR_NBD_MAP=${LR_NBD_MAP:-$LR_RUN/nbd-map}
LR_SIZE_MIN=16777216            # 16M: room for cachefiles' directories, not much more
LR_SIZE_MAX=1099511627776       # 1T

lr_info() {
	info "${LR_TAG-}$*"
}

# lr_size_bytes VALUE MAX: set LR_BYTES to the bytes in VALUE (digits plus an optional K, M, G
# or T suffix, binary units, either case). Returns 1 when VALUE is not such a size, 2 when it
# is more than MAX; the callers say which parameter and why.
lr_size_bytes() {
	local v="$1" n suf mult
	n=${v%[KkMmGgTt]}
	suf=${v#"$n"}
	case $n in
	'' | *[!0-9]*) return 1 ;;
	esac
	n=${n#"${n%%[!0]*}"} # no leading zeros: sh arithmetic reads 010 as octal
	[ -n "$n" ] || n=0
	case $suf in
	'') mult=1 ;;
	[Kk]) mult=1024 ;;
	[Mm]) mult=1048576 ;;
	[Gg]) mult=1073741824 ;;
	[Tt]) mult=1099511627776 ;;
	esac
	if [ ${#n} -gt 15 ] || [ "$n" -gt $(($2 / mult)) ]; then
		return 2
	fi
	LR_BYTES=$((n * mult))
}

# lr_parse_size VALUE: set LR_SIZE to the bytes in VALUE (digits plus an optional K, M, G or
# T suffix, binary units, either case), which must lie within LR_SIZE_MIN..LR_SIZE_MAX.
lr_parse_size() {
	local ret=0
	lr_size_bytes "$1" "$LR_SIZE_MAX" || ret=$?
	case $ret in
	1)
		LR_ERR="erofs.cachesize=$1: expected a size like 4G (digits and an optional K, M, G or T)"
		return 1
		;;
	2)
		LR_ERR="erofs.cachesize=$1: too large (at most 1T)"
		return 1
		;;
	esac
	LR_SIZE=$LR_BYTES
	if [ "$LR_SIZE" -lt "$LR_SIZE_MIN" ]; then
		LR_ERR="erofs.cachesize=$1: too small (at least 16M)"
		return 1
	fi
}

# lr_check_fillrate VALUE: erofs.fillrate= is bytes a second as lazyrootd reads it (digits
# plus an optional K, M or G, binary units, either case), within 64K..10G.
lr_check_fillrate() {
	local ret=0
	lr_size_bytes "$1" 10737418240 || ret=$?
	case $ret in
	1)
		LR_ERR="erofs.fillrate=$1: expected bytes a second like 4M (digits and an optional K, M or G)"
		return 1
		;;
	2)
		LR_ERR="erofs.fillrate=$1: outside 64K..10G (bytes a second)"
		return 1
		;;
	esac
	if [ "$LR_BYTES" -lt 65536 ]; then
		LR_ERR="erofs.fillrate=$1: outside 64K..10G (bytes a second)"
		return 1
	fi
}

# lr_default_cachesize: 4G, or half the RAM (in MiB) when that is less: the
# cache image lives in /run, a tmpfs that holds at most half the RAM, and
# an ext2 larger than what can back it fails with I/O errors when full.
# Reads /proc/meminfo, or $LR_MEMINFO in tests.
lr_default_cachesize() {
	local kb mb
	kb=$(sed -n 's/^MemTotal: *\([0-9]*\) kB$/\1/p' "${LR_MEMINFO:-$LR_PROC/meminfo}")
	LR_CACHESIZE=4294967296 LR_CACHESIZE_ARG=4G
	case $kb in
	'' | *[!0-9]*) return 0 ;;
	esac
	mb=$((kb / 2048))
	if [ "$mb" -lt 4096 ]; then
		LR_CACHESIZE=$((mb * 1048576)) LR_CACHESIZE_ARG=${mb}M
	fi
}

# lr_check_url URLS: erofs.url is one https://HOST[...] URL or a comma-separated list of them
# (mirrors, tried in order by lazyrootd): the root image must come from an authenticated server.
lr_check_url() {
	local rest list="$1" u n=0 in=
	case $list in
	'' | ,* | *, | *,,*)
		LR_ERR="erofs.url=$list: empty entry in the mirror list"
		return 1
		;;
	esac
	while [ -n "$list" ]; do
		u=${list%%,*}
		case $list in
		*,*) list=${list#*,} ;;
		*) list= ;;
		esac
		n=$((n + 1))
		[ "$u" = "$1" ] || in=" (entry $u)"
		case $u in
		https://*) ;;
		*)
			LR_ERR="erofs.url=$1: must start with https:// (the root image must come from an authenticated server)$in"
			return 1
			;;
		esac
		rest=${u#*://}
		case ${rest%%/*} in
		'' | :* | @*)
			LR_ERR="erofs.url=$1: no host after the scheme$in"
			return 1
			;;
		esac
	done
	if [ "$n" -gt 8 ]; then
		LR_ERR="erofs.url=$1: more than 8 mirrors"
		return 1
	fi
}

# lr_check_cachedev DEV: erofs.cache= names a block device by its /dev path.
lr_check_cachedev() {
	case $1 in
	/dev/?*) ;;
	*)
		LR_ERR="erofs.cache=$1: expected a block device path such as /dev/vdb"
		return 1
		;;
	esac
	case $1 in
	*[!A-Za-z0-9/._:-]* | */../* | */..)
		LR_ERR="erofs.cache=$1: expected a block device path such as /dev/vdb"
		return 1
		;;
	esac
}

# lr_check_fsid FSID: the fsid goes into the mount options, so no ',' (or blanks or quotes).
lr_check_fsid() {
	case $1 in
	*[,\"\ \	]*)
		LR_ERR="erofs.fsid=$1: must not contain ',', quotes or blanks"
		return 1
		;;
	esac
}

# lr_required NAME WHAT: LR_VAL is the value of NAME=, which must not be empty; else LR_ERR
# says that NAME= (WHAT) is missing.
lr_required() {
	LR_VAL=$(getarg "$1=") || LR_VAL=''
	[ -n "$LR_VAL" ] && return 0
	LR_ERR="missing $1= on the kernel command line ($2)"
	return 1
}

# lr_parse_root: the parameters of the root image and its cache, through the init's getarg.
# Sets LR_FSID, LR_URL, LR_CACHESIZE (bytes), LR_CACHESIZE_ARG (as given, or the default),
# LR_CACHEDEV (empty: the cache is in RAM), LR_BACKEND_ARG (auto, fscache or nbd), LR_ONERROR
# (wait or fail). An empty value is the same as none: the default, or for erofs.fsid= and
# erofs.url=, missing. erofs.timeout=, erofs.onerror=, erofs.prefetch=, erofs.fill= and
# erofs.fillrate= are lazyrootd's, checked here as it checks them (daemon/config.c), so a bad one stops the boot before the network.
lr_parse_root() {
	local v
	LR_ERR=''
	lr_required erofs.fsid 'the fsid of the EROFS image' && lr_check_fsid "$LR_VAL" || return 1
	LR_FSID=$LR_VAL
	lr_required erofs.url 'https://HOST/PATH of the image' && lr_check_url "$LR_VAL" || return 1
	LR_URL=$LR_VAL

	v=$(getarg erofs.cachesize=) || v=''
	if [ -n "$v" ]; then
		lr_parse_size "$v" || return 1
		LR_CACHESIZE=$LR_SIZE LR_CACHESIZE_ARG=$v
	else
		lr_default_cachesize
	fi

	v=$(getarg erofs.cache=) || v=''
	LR_CACHEDEV=
	if [ -n "$v" ]; then
		lr_check_cachedev "$v" || return 1
		LR_CACHEDEV=$v
	fi

	v=$(getarg erofs.backend=) || v=''
	case $v in
	'') LR_BACKEND_ARG=auto ;;
	auto | fscache | nbd) LR_BACKEND_ARG=$v ;;
	*)
		LR_ERR="erofs.backend=$v: expected auto, fscache or nbd"
		return 1
		;;
	esac

	v=$(getarg erofs.timeout=) || v=''
	case $v in
	'') ;;
	*[!0-9]* | ??????????*)
		LR_ERR="erofs.timeout=$v: expected a number of seconds in 1..86400"
		return 1
		;;
	*)
		if [ "$v" -lt 1 ] || [ "$v" -gt 86400 ]; then
			LR_ERR="erofs.timeout=$v: expected a number of seconds in 1..86400"
			return 1
		fi
		;;
	esac

	v=$(getarg erofs.onerror=) || v=''
	case $v in
	'') LR_ONERROR='wait' ;;
	wait | fail) LR_ONERROR=$v ;;
	*)
		LR_ERR="erofs.onerror=$v: expected wait or fail"
		return 1
		;;
	esac

	v=$(getarg erofs.prefetch=) || v=''
	case $v in
	'' | on | off) ;;
	*)
		LR_ERR="erofs.prefetch=$v: expected on or off"
		return 1
		;;
	esac

	v=$(getarg erofs.fill=) || v=''
	case $v in
	'' | on | off) ;;
	*)
		LR_ERR="erofs.fill=$v: expected on or off"
		return 1
		;;
	esac
	v=$(getarg erofs.fillrate=) || v=''
	[ -z "$v" ] || lr_check_fillrate "$v" || return 1
}

# lr_have_fs NAME [FILE]: NAME is listed in /proc/filesystems (or FILE).
lr_have_fs() {
	local dev fs
	while read -r dev fs; do
		[ -n "$fs" ] || fs=$dev
		[ "$fs" = "$1" ] && return 0
	done <"${2:-$LR_PROC/filesystems}"
	return 1
}

# lr_have_sym RE...: the kernel's symbol table lists a function whose whole name matches one
# of the extended regular expressions RE (built in, or in a loaded module). It looks in
# LR_KSYMS, the lines of /proc/kallsyms that lr_kernel_check keeps: a distribution kernel's
# table has some 150000 lines, slow to read (seconds under emulation), so it is read once.
lr_have_sym() {
	local names="$1" n
	shift
	for n; do
		names="$names|$n"
	done
	printf '%s\n' "${LR_KSYMS-}" | grep -qE "^[0-9a-f]+ [A-Za-z] ($names)([[:space:]]|\$)"
}

# lr_have_blkdev NAME: a block driver NAME is registered (listed under "Block devices:" in
# /proc/devices): loaded and initialised, unlike a directory in /sys/module.
lr_have_blkdev() {
	local major name blk=''
	[ -r "$LR_PROC/devices" ] || return 1
	while read -r major name; do
		[ "$major $name" = "Block devices:" ] && blk=1
		[ -n "$blk" ] && [ "$name" = "$1" ] && return 0
	done <"$LR_PROC/devices"
	return 1
}

# lr_kernel_lacks_ondemand ANY RE: the kernel has a feature's code (a function matching ANY is
# listed) but not its on-demand part (none matches RE). Without a symbol table (no
# CONFIG_KALLSYMS), or when nothing in it matches ANY, nothing can be told and this is false:
# lazyrootd's bind or the mount says it later.
lr_kernel_lacks_ondemand() {
	lr_have_sym "$1" && ! lr_have_sym "$2"
}

# lr_kernel_check: which route serves the root, in LR_BACKEND: fscache (on-demand cachefiles
# and EROFS's fscache mode) or nbd (the nbd block driver); erofs.backend= (LR_BACKEND_ARG)
# allows one or, auto, both, fscache first. When auto takes NBD, LR_BACKEND_WHY says what
# fscache lacks (lr_daemon_start logs it). When no allowed route is complete, everything the
# kernel lacks is named in one line in LR_ERR, before anything is set up. The kernel's modules
# must be loaded first (modprobe nbd). What it looks at: /dev/cachefiles (a char device),
# /proc/devices (nbd), /proc/filesystems, and for the on-demand parts, which have no file of
# their own, /proc/kallsyms: cachefiles' ondemand.c and EROFS's fscache.c are built only with
# those options (their stubs otherwise are static inline).
lr_kernel_check() {
	local com='' fs='' nb='' want="${LR_BACKEND_ARG:-auto}" ext=''
	LR_BACKEND='' LR_BACKEND_WHY=''
	# the symbols lr_kernel_lacks_ondemand asks about, in one pass over the table
	LR_KSYMS=$(grep -F -e ' erofs_' -e ' cachefiles_' "$LR_PROC/kallsyms" 2>/dev/null) || LR_KSYMS=''
	lr_have_fs ext4 || lr_have_fs ext2 ||
		ext=", no ext4 or ext2 for the cache in /proc/filesystems (CONFIG_EXT4_FS)"
	if ! lr_have_fs erofs; then
		com="$com, no EROFS in /proc/filesystems (CONFIG_EROFS_FS)"
	elif lr_kernel_lacks_ondemand 'erofs_(fc_)?fill_super|erofs_fc_parse_param' \
		'erofs_fscache_[a-z0-9_]+'; then
		fs="$fs, EROFS has no fscache mode (CONFIG_EROFS_FS_ONDEMAND)"
	fi
	lr_have_fs overlay ||
		com="$com, no overlayfs in /proc/filesystems (CONFIG_OVERLAY_FS)"
	if [ ! -c "$LR_DEV/cachefiles" ]; then
		fs=", no /dev/cachefiles (CONFIG_CACHEFILES)$fs"
	elif lr_kernel_lacks_ondemand 'cachefiles_daemon_(write|bind|open)' \
		'cachefiles_ondemand_[a-z0-9_]+'; then
		fs=", /dev/cachefiles has no on-demand mode (CONFIG_CACHEFILES_ONDEMAND)$fs"
	fi
	fs=$fs$ext
	lr_have_blkdev nbd || nb=", no NBD block driver in /proc/devices (CONFIG_BLK_DEV_NBD)"
	# NBD needs a cache file system only for the disk store
	[ -z "${LR_CACHEDEV:-}" ] || nb=$nb$ext

	if [ "$want" != nbd ] && [ -z "$fs" ]; then
		LR_BACKEND=fscache
	elif [ "$want" != fscache ] && [ -z "$nb" ]; then
		LR_BACKEND=nbd
		# auto: say why not fscache, the route with the kernel's own cache
		[ "$want" = nbd ] || LR_BACKEND_WHY="no fscache route: ${fs#, }"
	fi
	if [ -n "$LR_BACKEND" ] && [ -z "$com" ]; then
		return 0
	fi
	if [ -z "$LR_BACKEND" ]; then
		case $want in
		fscache) com="$com$fs" ;;
		nbd) com="$com$nb" ;;
		*) com="$com; for fscache:${fs#,}; for NBD:${nb#,}" ;;
		esac
	fi
	com=${com#, }
	case $want in
	auto) want='' ;;
	*) want=" (erofs.backend=$want)" ;;
	esac
	LR_ERR="this kernel cannot serve the root on demand$want: ${com#; }; see docs/kernel.md"
	LR_BACKEND=
	return 1
}

# lr_inode_ratio BYTES: bytes-per-inode for mke2fs: one inode per 256K, but 4096..65536
# inodes (cachefiles needs a few hundred directories; busybox mke2fs writes every inode
# table, and the image lives in RAM).
lr_inode_ratio() {
	local inodes=$(($1 / 262144))
	[ "$inodes" -ge 4096 ] || inodes=4096
	[ "$inodes" -le 65536 ] || inodes=65536
	echo $(($1 / inodes))
}

# lr_disk_label DEV: prints the volume label of an ext2/3/4 file system on DEV and returns 0;
# returns 1 when DEV holds no ext file system (its superblock magic is 0xEF53 at byte 1080).
lr_disk_label() {
	[ "$(dd if="$1" bs=1 skip=1080 count=2 2>/dev/null | od -An -tx1 | tr -d ' \n')" = 53ef ] ||
		return 1
	dd if="$1" bs=1 skip=1144 count=16 2>/dev/null | tr -d '\000'
}

# lr_disk_blank DEV: the first MiB of DEV is all zeros (no partition table, no file system).
lr_disk_blank() {
	[ "$(dd if="$1" bs=65536 count=16 2>/dev/null | tr -d '\000' | wc -c)" -eq 0 ]
}

# lr_mount_ext DEV DIR: mount the ext4 (or else ext2) file system on DEV at DIR; on failure,
# LR_MOUNT_OUT holds what mount said.
lr_mount_ext() {
	local out
	out=$(mount -t ext4 "$1" "$2" 2>&1) || out=$(mount -t ext2 "$1" "$2" 2>&1) || {
		LR_MOUNT_OUT=$out
		return 1
	}
}

# lr_cache_disk_setup: the cache on the block device LR_CACHEDEV (erofs.cache=), kept across
# boots in $LR_RUN/cache/store (lazyrootd --store-dir): an ext file system labelled
# lazyroot-cache is mounted as it is; a blank device (its first MiB zeros) gets one; anything
# else is refused, never formatted.
lr_cache_disk_setup() {
	local dev="$LR_CACHEDEV" dir="$LR_RUN/cache" out label i=0
	mkdir -p "$dir"
	# Block devices may show up a little after the network.
	while [ ! -b "$dev" ] && [ "$i" -lt "${LR_CACHEDEV_WAIT:-20}" ]; do
		sleep 0.5
		i=$((i + 1))
	done
	if [ ! -b "$dev" ]; then
		LR_ERR="erofs.cache=$dev: no such block device"
		return 1
	fi
	if label=$(lr_disk_label "$dev"); then
		if [ "$label" != lazyroot-cache ]; then
			LR_ERR="erofs.cache=$dev: holds an ext file system labelled '$label', not a lazyroot cache (label lazyroot-cache): refusing to use it"
			return 1
		fi
	elif lr_disk_blank "$dev"; then
		# ext4 with a journal: the disk outlives unclean stops (the daemon serves the
		# root to the end). busybox mke2fs (-t unknown to it) makes ext2 only; pages
		# read back are checked either way (docs/how-it-works.md).
		if out=$(mke2fs -F -t ext4 -b 4096 -m 0 -L lazyroot-cache "$dev" 2>&1); then
			lr_info "cache: formatted the blank $dev (ext4, with a journal)"
		elif out=$(mke2fs -F -b 4096 -m 0 -L lazyroot-cache "$dev" 2>&1); then
			lr_info "cache: formatted the blank $dev (ext2: this mke2fs makes no journal)"
		else
			LR_ERR="erofs.cache=$dev: mke2fs failed: $(printf '%s\n' "$out" | tail -n 1)"
			return 1
		fi
	else
		LR_ERR="erofs.cache=$dev: holds data but no lazyroot cache (an ext file system labelled lazyroot-cache): refusing to format it; zero its first MiB to let lazyroot use it"
		return 1
	fi
	if ! lr_mount_ext "$dev" "$dir"; then
		LR_ERR="erofs.cache=$dev: cannot mount it on $dir: $LR_MOUNT_OUT"
		return 1
	fi
	# cachefiles' own objects never outlive a boot; lazyrootd's store does.
	rm -rf "$dir/cache" "$dir/graveyard"
	if ! out=$(mkdir -p "$dir/store" 2>&1); then
		LR_ERR="erofs.cache=$dev: cannot create $dir/store: $out"
		return 1
	fi
	LR_STORE_DIR=$dir/store
	lr_info "cache: $dev (pages kept across boots), mounted on $dir"
}

# lr_cache_zram: a new zram device of LR_CACHESIZE bytes in LR_CACHE_BLK (/dev/zramN), or
# return 1 with LR_CACHE_WHY saying why not (no zram in the kernel, or what failed; a device
# half made is removed). A RAM block device that allocates a page, compressed, when it is
# first written: the cache file system on it costs what it holds, compressed, with no tmpfs
# file and loop device between it and the RAM. A new device from zram-control: a zram0 the module made at load may be someone's swap. Its table costs
# 16 bytes of RAM per 4K of LR_CACHESIZE, allocated at once (0.4%: 16M for 4G).
lr_cache_zram() {
	local ctl="$LR_SYS/class/zram-control" id out
	LR_CACHE_BLK='' LR_CACHE_WHY=''
	if [ ! -r "$ctl/hot_add" ]; then
		LR_CACHE_WHY="the kernel lacks CONFIG_ZRAM"
		return 1
	fi
	if ! id=$(cat "$ctl/hot_add" 2>&1); then
		LR_CACHE_WHY="cannot add a zram device: ${id##*: }"
		return 1
	fi
	case $id in
	'' | *[!0-9]*)
		LR_CACHE_WHY="zram-control/hot_add gave '$id', not a device number"
		return 1
		;;
	esac
	if ! out=$( (echo "$LR_CACHESIZE" >"$LR_SYS/block/zram$id/disksize") 2>&1); then
		LR_CACHE_WHY="zram$id: cannot set its size to $LR_CACHESIZE_ARG: ${out##*: }"
	elif [ ! -b "$LR_DEV/zram$id" ]; then
		LR_CACHE_WHY="zram$id: no block device $LR_DEV/zram$id (devtmpfs?)"
	else
		LR_CACHE_BLK=$LR_DEV/zram$id
		return 0
	fi
	echo "$id" >"$ctl/hot_remove" 2>/dev/null || :
	return 1
}

# lr_cache_loop: the fallback without zram: an ext2 image file of LR_CACHESIZE bytes, sparse,
# in RAM under LR_RUN, on a loop device, in LR_CACHE_BLK; or LR_ERR and return 1.
lr_cache_loop() {
	local img="$LR_RUN/cache.img" dev out
	if ! out=$(truncate -s "$LR_CACHESIZE" "$img" 2>&1); then
		LR_ERR="cannot create the cache image $img ($LR_CACHESIZE_ARG): $out"
		return 1
	fi
	if ! dev=$(losetup -f 2>&1) || [ ! -b "$dev" ]; then
		LR_ERR="no free loop device for the cache (kernel needs CONFIG_BLK_DEV_LOOP): $dev"
		return 1
	fi
	if ! out=$(losetup "$dev" "$img" 2>&1); then
		LR_ERR="losetup $dev $img failed: $out"
		return 1
	fi
	LR_CACHE_BLK=$dev
}

# lr_cache_setup: the cache directory for cachefiles, which refuses tmpfs: the erofs.cache=
# device, or an ext4 file system (ext2 with busybox mke2fs) of LR_CACHESIZE bytes in RAM: on a
# zram device (lr_cache_zram), else on a loop device over a sparse file (lr_cache_loop). NBD
# needs none (the kernel's page cache holds what it read): only the erofs.cache= device, for
# the disk store. Sets LR_STORE_DIR for lazyrootd --store-dir (empty without erofs.cache=).
lr_cache_setup() {
	local dir="$LR_RUN/cache" pre='' post out fs
	LR_STORE_DIR=
	if [ -n "${LR_CACHEDEV:-}" ]; then
		lr_cache_disk_setup
		return
	fi
	[ "${LR_BACKEND:-}" != nbd ] || return 0
	mkdir -p "$dir"
	if lr_cache_zram; then
		post="on $LR_CACHE_BLK (zram: in RAM as written, compressed)"
	else
		lr_cache_loop || return 1
		pre='sparse ' post="image on $LR_CACHE_BLK (no zram: $LR_CACHE_WHY)"
	fi
	# ext4 with extents: cachefiles writes its files with direct I/O, which ext4 cannot use
	# to fill a hole of a block-mapped (ext2) file: each such write falls back to buffered
	# I/O and is written back at once. No journal: the file system ends with the boot.
	# busybox mke2fs (-t unknown to it) makes ext2 only. Inode tables are written now, as
	# ext2's are, rather than by the kernel's lazy init thread while the root boots.
	set -- -F -b 4096 -m 0 -i "$(lr_inode_ratio "$LR_CACHESIZE")" -L lazyroot-cache
	if out=$(mke2fs "$@" -t ext4 -O ^has_journal -E lazy_itable_init=0 "$LR_CACHE_BLK" 2>&1); then
		fs=ext4
	elif out=$(mke2fs "$@" "$LR_CACHE_BLK" 2>&1); then
		fs=ext2
	else
		LR_ERR="mke2fs $LR_CACHE_BLK failed: $(printf '%s\n' "$out" | tail -n 1)"
		return 1
	fi
	if ! lr_mount_ext "$LR_CACHE_BLK" "$dir"; then
		LR_ERR="cannot mount the cache filesystem $LR_CACHE_BLK on $dir (kernel needs CONFIG_EXT4_FS): $LR_MOUNT_OUT"
		return 1
	fi
	lr_info "cache: $LR_CACHESIZE_ARG $pre$fs $post, mounted on $dir"
}

# lr_daemon_start COMMAND...: start lazyrootd with COMMAND (which runs it as "@lazyrootd":
# systemd spares '@' processes at switch-root and shutdown, and this one is the root's
# storage), on the route lr_kernel_check chose (LR_BACKEND), giving it the cache set up by
# lr_cache_setup (fscache) or the file for its map of devices (NBD). The daemon's parent exits
# 0 once it is bound to /dev/cachefiles or its NBD devices are up, or prints one error line
# and exits non-zero. For NBD it opens the image before it is up: when that fails (an HTTP
# 404), its error file names why, and LR_ERR says it as a failed mount would with fscache.
lr_daemon_start() {
	local line=''
	[ -z "${LR_BACKEND_WHY:-}" ] || lr_info "backend $LR_BACKEND: $LR_BACKEND_WHY"
	lr_info "starting lazyrootd${LR_BACKEND:+ (backend $LR_BACKEND)}"
	if [ "${LR_BACKEND:-}" = nbd ]; then
		set -- "$@" --backend nbd --nbd-map "$LR_NBD_MAP"
	else
		set -- "$@" ${LR_BACKEND:+--backend "$LR_BACKEND"} --cache-dir "$LR_RUN/cache"
	fi
	"$@" --error-file "$LR_RUN/error" \
		${LR_STORE_DIR:+--store-dir "$LR_STORE_DIR"} ${LR_DEBUG:+--verbose} </dev/null && return 0
	LR_ERR="lazyrootd failed to start"
	[ -s "$LR_RUN/error" ] && IFS= read -r line <"$LR_RUN/error" && [ -n "$line" ] &&
		LR_ERR="cannot mount EROFS fsid=${LR_FSID-}: $line"
	return 1
}

# lr_erofs_mount_error FSID MOUNT_OUTPUT ERROR_FILE: set LR_ERR to why the EROFS mount failed.
# lazyrootd writes ERROR_FILE when it fails the kernel's OPEN request (e.g. HTTP 404). Without
# it, the errno tells: a kernel without CONFIG_EROFS_FS_ONDEMAND ignores fsid= and looks for a
# block device (or file) "none" (ENOENT); with it but no cache bound to /dev/cachefiles, fscache
# has nowhere to read from (ENOBUFS).
lr_erofs_mount_error() {
	local why="" line=""
	case $2 in
	*"failed: "*) why=${2##*failed: } ;;
	*) why=$2 ;;
	esac
	why=$(printf '%s' "$why" | tr '\n' ' ')
	if [ -e "$3" ]; then
		IFS= read -r line <"$3" || :
		LR_ERR="cannot mount EROFS fsid=$1: ${line:-lazyrootd failed the request (empty $3)}"
	else
		case $why in
		*"No such file or directory"*)
			LR_ERR="cannot mount EROFS fsid=$1: the kernel's EROFS lacks on-demand fscache (CONFIG_EROFS_FS_ONDEMAND); see docs/kernel.md"
			;;
		*"No buffer space available"*)
			LR_ERR="cannot mount EROFS fsid=$1: no cache is bound to /dev/cachefiles (lazyrootd is not serving)"
			;;
		*)
			LR_ERR="cannot mount EROFS fsid=$1: ${why:-mount failed} (lazyrootd reported no error)"
			;;
		esac
	fi
}

# lr_nbd_devices MAP: lazyrootd's map of NBD devices, "NAME /dev/nbdN" lines, the image
# first, then a verified image's extra devices: sets LR_NBD_DEV to the first device and
# LR_NBD_OPTS to the mount options (ro, and device=DEV for each other one).
lr_nbd_devices() {
	local name dev
	LR_NBD_DEV='' LR_NBD_OPTS=ro
	[ -r "$1" ] && while read -r name dev; do
		[ -n "$name" ] || continue
		case $dev in
		/dev/nbd[0-9] | /dev/nbd[0-9][0-9] | /dev/nbd[0-9][0-9][0-9]) ;;
		*)
			LR_ERR="cannot mount EROFS fsid=$LR_FSID: $1 names '$dev' for $name, not an NBD device"
			return 1
			;;
		esac
		if [ -z "$LR_NBD_DEV" ]; then
			LR_NBD_DEV=$dev
		else
			LR_NBD_OPTS=$LR_NBD_OPTS,device=$dev
		fi
	done <"$1"
	[ -n "$LR_NBD_DEV" ] && return 0
	LR_ERR="cannot mount EROFS fsid=$LR_FSID: lazyrootd wrote no NBD devices to $1"
	return 1
}

# lr_mount_erofs: the EROFS image LR_FSID on $LR_RUN/lower: from lazyrootd's NBD devices when
# it wrote their map, else through fscache (-o fsid=; lazyrootd writes $LR_RUN/error when it
# fails the kernel's OPEN request).
lr_mount_erofs() {
	local out devs
	if [ "${LR_BACKEND:-}" != nbd ] && [ ! -e "$LR_NBD_MAP" ]; then
		lr_info "mounting EROFS fsid=$LR_FSID"
		out=$(mount -t erofs -o "fsid=$LR_FSID" none "$LR_RUN/lower" 2>&1) && return 0
		lr_erofs_mount_error "$LR_FSID" "$out" "$LR_RUN/error"
		return 1
	fi
	lr_nbd_devices "$LR_NBD_MAP" || return 1
	devs=$LR_NBD_DEV
	case $LR_NBD_OPTS in
	*,*) devs="$devs with $(printf '%s' "${LR_NBD_OPTS#ro,}" | sed 's/device=//g; s/,/, /g')" ;;
	esac
	lr_info "mounting EROFS fsid=$LR_FSID from $devs"
	out=$(mount -t erofs -o "$LR_NBD_OPTS" "$LR_NBD_DEV" "$LR_RUN/lower" 2>&1) && return 0
	out=$(printf '%s' "${out##*failed: }" | tr '\n' ' ')
	LR_ERR="cannot mount EROFS fsid=$LR_FSID from $devs (NBD): ${out:-mount failed}"
	return 1
}

# lr_mount_root DIR: the EROFS image LR_FSID (lr_mount_erofs) on $LR_RUN/lower, and over it a
# writable tmpfs overlay on DIR.
lr_mount_root() {
	local out
	mkdir -p "$LR_RUN/lower" "$LR_RUN/rw"
	lr_mount_erofs || return 1
	if ! out=$(mount -t tmpfs -o mode=0755 tmpfs "$LR_RUN/rw" 2>&1); then
		LR_ERR="cannot mount a tmpfs on $LR_RUN/rw: $out"
		return 1
	fi
	mkdir -p "$LR_RUN/rw/upper" "$LR_RUN/rw/work"
	if ! out=$(mount -t overlay overlay \
		-o "lowerdir=$LR_RUN/lower,upperdir=$LR_RUN/rw/upper,workdir=$LR_RUN/rw/work" \
		"$1" 2>&1); then
		LR_ERR="cannot mount the overlay on $1: $out"
		return 1
	fi
}
