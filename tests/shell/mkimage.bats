#!/usr/bin/env bats
# images/lazyroot-mkimage: what it publishes, the image's contents (read back with fsck.erofs
# --extract, and through a loop mount when the host kernel has EROFS), reproducibility,
# tarball input, fsid rules, refusing to overwrite.

bats_require_minimum_version 1.5.0

MK=$BATS_TEST_DIRNAME/../../images/lazyroot-mkimage

# A root tree with what a root filesystem has: owners, setuid and sticky modes, a secret,
# symlinks, a hard link, device nodes, a FIFO, an empty file, files above and below a block.
make_tree() {
	t=$1
	mkdir -p "$t/bin" "$t/etc" "$t/dev" "$t/run" "$t/tmp" "$t/home/user" "$t/usr/bin" \
		"$t/empty" "$t/dir with space"
	openssl enc -aes-128-ctr -pass pass:lazyroot -nosalt -pbkdf2 -in /dev/zero 2>/dev/null |
		head -c 300000 >"$t/bin/big"
	head -c 5000 /dev/zero >"$t/bin/zeros"
	printf 'small\n' >"$t/etc/hostname"
	: >"$t/etc/empty-file"
	printf 'root:*:19000:0:99999:7:::\n' >"$t/etc/shadow"
	chown 0:42 "$t/etc/shadow"
	chmod 0640 "$t/etc/shadow"
	printf 'mine\n' >"$t/home/user/notes"
	chown -R 1000:1001 "$t/home/user"
	chmod 0750 "$t/home/user"
	printf '#!/bin/sh\n' >"$t/usr/bin/su"
	chmod 4755 "$t/usr/bin/su"
	ln "$t/usr/bin/su" "$t/usr/bin/su-hardlink"
	chmod 1777 "$t/tmp"
	ln -s big "$t/bin/sh"
	ln -s /proc/self/mounts "$t/etc/mtab"
	mknod "$t/dev/null" c 1 3
	mknod -m 0660 "$t/dev/loop0" b 7 0
	mkfifo "$t/run/initctl"
	printf 'x\n' >"$t/dir with space/caf$(printf '\303\251')"
	chmod 0755 "$t"
}

# manifest DIR [nlink]: every entry's type, mode, owner, symlink target, device number and
# content (and link count with nlink), sorted.
manifest() {
	(
		cd "$1"
		if [ "${2-}" = nlink ]; then
			find . -printf '%y %#m %U:%G n%n %p -> %l\n'
		else
			find . -printf '%y %#m %U:%G %p -> %l\n'
		fi
		find . -type f -exec sha256sum {} +
		find . \( -type b -o -type c \) -exec stat -c 'dev %n %t:%T' {} +
	) | LC_ALL=C sort
}

# manifest_x DIR: manifest for a tree from fsck.erofs 1.5 --extract, which loses the
# setuid and setgid bits (it chowns after chmod); the raw inode keeps them (raw_mode).
manifest_x() {
	manifest "$1" | sed 's/^f 0[2467]\([0-7][0-7][0-7]\) /f 0\1 /' | LC_ALL=C sort
}

# raw_mode IMAGE PATH: i_mode (octal) of PATH's inode, read from the image itself: the
# inode is at meta_blkaddr * 4096 + nid * 32, its mode 4 bytes in.
raw_mode() {
	nid=$(dump.erofs --path="$2" "$1" | sed -n 's/^NID: \([0-9]*\) .*/\1/p')
	meta=$(od -An -tu4 -j1064 -N4 "$1" | tr -d ' ')
	od -An -to2 -j$((meta * 4096 + nid * 32 + 4)) -N2 "$1" | tr -d ' '
}

# extract IMAGE DIR: unpack IMAGE with fsck.erofs, which checks it on the way.
extract() {
	fsck.erofs --extract="$2" --preserve "$1" >/dev/null
}

# mount_image IMAGE DIR: loop-mount IMAGE read-only, or skip when the host cannot.
mount_image() {
	grep -qw erofs /proc/filesystems || modprobe erofs 2>/dev/null || :
	grep -qw erofs /proc/filesystems || skip "the host kernel has no EROFS (checked with fsck.erofs instead)"
	mkdir -p "$2"
	mount -t erofs -o loop,ro "$1" "$2" 2>"$BATS_TEST_TMPDIR/mount.err" ||
		skip "cannot loop-mount here: $(cat "$BATS_TEST_TMPDIR/mount.err")"
	echo "$2" >>"$BATS_TEST_TMPDIR/mounts"
}

# an fsid and the files written in DIR
listing() {
	ls -A "$1" | tr '\n' ' '
}

setup_file() {
	[ "$(id -u)" -eq 0 ] || skip "needs root (owners, device nodes)"
	export D=$BATS_FILE_TMPDIR
	unset SOURCE_DATE_EPOCH
	make_tree "$D/src"
	"$MK" "$D/src" "$D/out" >"$D/stdout" 2>"$D/stderr"
	read -r FSID <"$D/stdout"
	export FSID
	export IMG=$D/out/$FSID
	extract "$IMG" "$D/x"
}

teardown() {
	if [ -f "$BATS_TEST_TMPDIR/mounts" ]; then
		while read -r m; do umount "$m"; done <"$BATS_TEST_TMPDIR/mounts"
	fi
	if [ -f "$BATS_TEST_TMPDIR/remove" ]; then
		while read -r d; do rm -rf "$d"; done <"$BATS_TEST_TMPDIR/remove"
	fi
}

@test "stdout is only the fsid; OUTDIR holds the image and its .sha256, nothing else" {
	[ "$(wc -l <"$D/stdout")" -eq 1 ]
	[[ $FSID =~ ^rootfs-[0-9a-f]{16}$ ]]
	sum=$(sha256sum <"$IMG")
	[ "rootfs-${sum:0:16}" = "$FSID" ]
	[ "$(listing "$D/out")" = "$FSID $FSID.sha256 " ]
	[ "$(cat "$D/out/$FSID.sha256")" = "${sum%% *}  $FSID" ]
	(cd "$D/out" && sha256sum -c --quiet "$FSID.sha256")
	# progress went to stderr, prefixed
	grep -q "^lazyroot-mkimage: wrote $D/out/$FSID (" "$D/stderr"
	run grep -v '^lazyroot-mkimage: ' "$D/stderr"
	[ -z "$output" ]
}

@test "the image is EROFS with 4096-byte blocks, uncompressed, a fixed UUID and build time 0" {
	[ "$(od -An -tx1 -j1024 -N4 "$IMG" | tr -d ' ')" = e2e1f5e0 ]
	[ "$(od -An -tu1 -j1036 -N1 "$IMG" | tr -d ' ')" = 12 ]
	[ $(($(wc -c <"$IMG") % 4096)) -eq 0 ]
	fsck.erofs "$IMG"
	run dump.erofs -s "$IMG"
	[[ $output == *"Filesystem UUID:"*" 5a1e0b7c-1a2b-4c3d-8e4f-6c617a79726f"* ]]
	[[ $output == *"Filesystem created:"*"Thu Jan  1 00:00:00 1970"* ]]
	run dump.erofs --path=/bin/big "$IMG"
	[[ $output == *"Compression ratio: 100.00%"* ]]
	[[ $output == *"Layout: 0"* || $output == *"Layout: 2"* ]]
}

@test "fsck.erofs --extract gives back the tree: names, types, modes, owners, contents, devices" {
	diff <(manifest_x "$D/src") <(manifest "$D/x")
	[ "$(raw_mode "$IMG" /usr/bin/su)" = 104755 ]
	[ "$(raw_mode "$IMG" /tmp)" = 041777 ]
	# and it is not empty by accident
	[ "$(manifest "$D/x" | grep -c '^f ')" -ge 8 ]
	manifest "$D/x" | grep -qxF 'c 0644 0:0 ./dev/null -> '
	manifest "$D/x" | grep -qxF 'dev ./dev/loop0 7:0'
	manifest "$D/x" | grep -qxF 'f 0640 0:42 ./etc/shadow -> '
	manifest "$D/x" | grep -qxF 'd 01777 0:0 ./tmp -> '
	manifest "$D/x" | grep -qxF 'p 0644 0:0 ./run/initctl -> '
	manifest "$D/x" | grep -qxF 'l 0777 0:0 ./etc/mtab -> /proc/self/mounts'
}

@test "the image loop-mounts and shows the tree exactly, hard links included" {
	mount_image "$IMG" "$BATS_TEST_TMPDIR/m"
	diff <(manifest "$D/src" nlink) <(manifest "$BATS_TEST_TMPDIR/m" nlink)
	[ "$(stat -c %i "$BATS_TEST_TMPDIR/m/usr/bin/su")" = "$(stat -c %i "$BATS_TEST_TMPDIR/m/usr/bin/su-hardlink")" ]
	[ "$(stat -c %a "$BATS_TEST_TMPDIR/m")" = 755 ]
}

@test "without SOURCE_DATE_EPOCH every mtime in the image is 0" {
	run find "$D/x" ! -type l -newermt @0
	[ -z "$output" ]
	run dump.erofs --path=/home/user/notes "$IMG"
	[[ $output == *"Timestamp: 1970-01-01 00:00:00.000000000"* ]]
}

@test "with SOURCE_DATE_EPOCH later mtimes become it and earlier ones are kept" {
	cp -a "$D/src" "$BATS_TEST_TMPDIR/src"
	touch -h -d '2001-02-03 04:05:06.5 UTC' "$BATS_TEST_TMPDIR/src/etc/hostname"
	SOURCE_DATE_EPOCH=1600000000 run --separate-stderr "$MK" "$BATS_TEST_TMPDIR/src" "$BATS_TEST_TMPDIR/out"
	[ "$status" -eq 0 ]
	img=$BATS_TEST_TMPDIR/out/$output
	run dump.erofs --path=/etc/hostname "$img"
	[[ $output == *"Timestamp: 2001-02-03 04:05:06.500000000"* ]]
	run dump.erofs --path=/bin/big "$img"
	[[ $output == *"Timestamp: 2020-09-13 12:26:40.000000000"* ]]
	run dump.erofs -s "$img"
	[[ $output == *"Filesystem created:"*"Sun Sep 13 12:26:40 2020"* ]]
}

@test "copies of the tree made at different times give byte-identical images" {
	T=$BATS_TEST_TMPDIR
	mkdir "$T/t1" "$T/t2"
	# new inode numbers; mtimes of now, and (for the first copy) of later
	cp -R --preserve=mode,ownership,links "$D/src" "$T/a"
	cp -R --preserve=mode,ownership,links "$D/src" "$T/b"
	find "$T/a" -exec touch -h -d '2030-01-01 UTC' {} +
	[ "$(stat -c %i "$T/a/bin/big")" != "$(stat -c %i "$T/b/bin/big")" ]
	[ "$(stat -c %Y "$T/a/bin/big")" != "$(stat -c %Y "$T/b/bin/big")" ]
	fa=$(TMPDIR=$T/t1 "$MK" "$T/a" "$T/oa")
	fb=$(TMPDIR=$T/t2 "$MK" "$T/b" "$T/ob")
	[ "$fa" = "$FSID" ]
	[ "$fb" = "$FSID" ]
	cmp "$T/oa/$fa" "$IMG"
	cmp "$T/ob/$fb" "$IMG"
	# the same with a SOURCE_DATE_EPOCH before the copies were made
	fa=$(SOURCE_DATE_EPOCH=1600000000 "$MK" "$T/a" "$T/sa")
	fb=$(SOURCE_DATE_EPOCH=1600000000 "$MK" "$T/b" "$T/sb")
	[ "$fa" = "$fb" ]
	[ "$fa" != "$FSID" ]
	cmp "$T/sa/$fa" "$T/sb/$fb"
}

@test "a tarball of the tree, plain or compressed, gives the same image as the tree" {
	T=$BATS_TEST_TMPDIR
	tar -C "$D/src" --numeric-owner -cf "$T/root.tar" .
	gzip -c "$T/root.tar" >"$T/root.tar.gz"
	xz -c "$T/root.tar" >"$T/root.tar.xz"
	exts='tar tar.gz tar.xz'
	if command -v zstd >/dev/null; then
		zstd -q -c "$T/root.tar" >"$T/root.tar.zst"
		exts="$exts tar.zst"
	fi
	mkdir "$T/tmp"
	for ext in $exts; do
		TMPDIR=$T/tmp run --separate-stderr "$MK" "$T/root.$ext" "$T/out-$ext"
		[ "$status" -eq 0 ] || { echo "$ext: $stderr"; return 1; }
		[ "$output" = "$FSID" ] || { echo "$ext: fsid $output"; return 1; }
		cmp "$T/out-$ext/$FSID" "$IMG"
		[[ $stderr == *"unpacking $T/root.$ext"* ]]
	done
	# the unpacked copy is gone
	[ -z "$(ls -A "$T/tmp")" ]
	command -v zstd >/dev/null || skip "zstd not installed: .tar.zst not tried"
}

@test "a tarball's numeric owners are kept, not its user names; a root without './' is 0755 and the files are 0644, whatever the umask" {
	T=$BATS_TEST_TMPDIR
	mkdir -p "$T/x/etc"
	printf 'x\n' >"$T/x/etc/f"
	# user name root, uid 4321: this host would map the name back to 0
	tar -C "$T/x" --owner=root:4321 --group=root:4322 -cf "$T/x.tar" etc
	fsid=$(umask 077 && "$MK" "$T/x.tar" "$T/out")
	[ "$(stat -c %a "$T/out" "$T/out/$fsid" "$T/out/$fsid.sha256" | tr '\n' ' ')" = '755 644 644 ' ]
	run dump.erofs --path=/etc/f "$T/out/$fsid"
	[[ $output == *"Uid: 4321   Gid: 4322 "* ]]
	[ "$(raw_mode "$T/out/$fsid" /)" = 040755 ]
}

@test "xattrs in a tarball reach the image" {
	T=$BATS_TEST_TMPDIR
	mkdir -p "$T/x/etc"
	printf 'x\n' >"$T/x/etc/f"
	tar -C "$T/x" --format=pax --pax-option='SCHILY.xattr.user.lazyroot:=kept' -cf "$T/x.tar" .
	fsid=$("$MK" "$T/x.tar" "$T/out")
	run dump.erofs --path=/etc/f "$T/out/$fsid"
	[[ $output =~ Xattr\ size:\ [1-9] ]]
	# a tarball without the xattr makes another image
	tar -C "$T/x" --format=pax -cf "$T/plain.tar" .
	[ "$("$MK" "$T/plain.tar" "$T/out")" != "$fsid" ]
	mount_image "$T/out/$fsid" "$T/m"
	tar -C "$T/m" --xattrs --format=pax -cf - ./etc/f | grep -aq 'SCHILY.xattr.user.lazyroot=kept'
}

@test "--compress lz4hc compresses, and the tree comes back the same" {
	T=$BATS_TEST_TMPDIR
	run --separate-stderr "$MK" --compress lz4hc "$D/src" "$T/out"
	[ "$status" -eq 0 ]
	[ "$output" != "$FSID" ]
	img=$T/out/$output
	run dump.erofs --path=/bin/zeros "$img"
	[[ $output == *"Layout: 1"* || $output == *"Layout: 3"* ]]
	[[ $output != *"Compression ratio: 100.00%"* ]]
	extract "$img" "$T/x"
	diff <(manifest_x "$D/src") <(manifest "$T/x")
	[ "$(raw_mode "$img" /usr/bin/su)" = 104755 ]
	run --separate-stderr "$MK" --compress=none "$D/src" "$T/out2"
	[ "$output" = "$FSID" ]
}

@test "--fsid names the image and its checksum" {
	T=$BATS_TEST_TMPDIR
	name=$(printf 'A%.0s' $(seq 64))
	for fsid in "$name" a Rootfs-2024.06_1 0 a..b; do
		run --separate-stderr "$MK" --fsid "$fsid" "$D/src" "$T/out"
		[ "$status" -eq 0 ] || { echo "$fsid: $stderr"; return 1; }
		[ "$output" = "$fsid" ]
		cmp "$T/out/$fsid" "$IMG"
		grep -q "  $fsid\$" "$T/out/$fsid.sha256"
	done
	[ "$(ls -A "$T/out" | wc -l)" -eq 10 ]
	fsid=$("$MK" --fsid=eq "$D/src" "$T/out")
	[ "$fsid" = eq ]
}

@test "a bad fsid fails with one line, before anything is written" {
	T=$BATS_TEST_TMPDIR
	long=$(printf 'a%.0s' $(seq 65))
	for fsid in .hidden . .. a/b ../x 'a b' a,b "caf$(printf '\303\251')" "$long" 'a*' 'x;y' "a
b"; do
		run --separate-stderr "$MK" --fsid "$fsid" "$D/src" "$T/out"
		[ "$status" -eq 1 ] || { echo "accepted: $fsid"; return 1; }
		[ -z "$output" ]
		[ "${#stderr_lines[@]}" -eq 1 ] || { echo "$stderr"; return 1; }
		[[ $stderr == "lazyroot-mkimage: invalid fsid '"* ]]
	done
	run --separate-stderr "$MK" --fsid '' "$D/src" "$T/out"
	[ "$status" -eq 1 ]
	[ "${#stderr_lines[@]}" -eq 1 ]
	[ ! -e "$T/out" ]
}

@test "an existing file with other content is never replaced; the same content is fine" {
	T=$BATS_TEST_TMPDIR
	cp -a "$D/src" "$T/other"
	printf 'changed\n' >"$T/other/etc/hostname"
	"$MK" --fsid v1 "$D/src" "$T/out" >/dev/null
	cp "$T/out/v1" "$T/v1.orig"
	cp "$T/out/v1.sha256" "$T/v1.sha256.orig"
	run --separate-stderr "$MK" --fsid v1 "$T/other" "$T/out"
	[ "$status" -eq 1 ]
	[ -z "$output" ]
	[ "${#stderr_lines[@]}" -eq 2 ] # the progress line, then why
	[ "${stderr_lines[1]}" = "lazyroot-mkimage: $T/out/v1 already exists with other content; not replacing it (remove it, or choose another --fsid)" ]
	cmp "$T/out/v1" "$T/v1.orig"
	cmp "$T/out/v1.sha256" "$T/v1.sha256.orig"
	[ "$(listing "$T/out")" = "v1 v1.sha256 " ]
	# same content again: success, nothing changes
	run --separate-stderr "$MK" --fsid v1 "$D/src" "$T/out"
	[ "$status" -eq 0 ]
	[ "$output" = v1 ]
	[[ $stderr == *"already there with the same content"* ]]
	cmp "$T/out/v1" "$T/v1.orig"
	[ "$(listing "$T/out")" = "v1 v1.sha256 " ]
	# a stale checksum stops the image from being written at all
	printf 'junk\n' >"$T/out/v2.sha256"
	run --separate-stderr "$MK" --fsid v2 "$D/src" "$T/out"
	[ "$status" -eq 1 ]
	[[ ${stderr_lines[1]} == *"$T/out/v2.sha256 already exists with other content"* ]]
	[ ! -e "$T/out/v2" ]
	# a missing checksum is added next to the right image
	rm "$T/out/v1.sha256"
	"$MK" --fsid v1 "$D/src" "$T/out" >/dev/null
	cmp "$T/out/v1.sha256" "$T/v1.sha256.orig"
	[ "$(listing "$T/out")" = "v1 v1.sha256 v2.sha256 " ]
}

@test "unpacking a tarball as non-root is refused with one line saying why" {
	command -v setpriv >/dev/null || skip "needs setpriv"
	# somewhere the nobody user can reach (bats's own directories are private)
	T=$(mktemp -d /tmp/lazyroot-mkimage-test.XXXXXX)
	echo "$T" >>"$BATS_TEST_TMPDIR/remove"
	chmod 0755 "$T"
	tar -C "$D/src" -cf "$T/root.tar" ./etc/hostname
	mkdir -m 0777 "$T/out"
	run --separate-stderr setpriv --reuid=65534 --regid=65534 --clear-groups "$MK" "$T/root.tar" "$T/out"
	[ "$status" -eq 1 ]
	[ -z "$output" ]
	[ "${#stderr_lines[@]}" -eq 1 ]
	[[ $stderr == "lazyroot-mkimage: unpacking a tarball needs root"* ]]
	[ -z "$(ls -A "$T/out")" ]
	# a directory is read, with a warning about owners
	mkdir -m 0755 "$T/tree"
	printf 'x\n' >"$T/tree/f"
	run --separate-stderr setpriv --reuid=65534 --regid=65534 --clear-groups "$MK" "$T/tree" "$T/out"
	[ "$status" -eq 0 ]
	[[ $output == rootfs-* ]]
	[[ ${stderr_lines[0]} == "lazyroot-mkimage: warning: not running as root"* ]]
}

@test "usage errors are one line each" {
	T=$BATS_TEST_TMPDIR
	: >"$T/root.zip"
	mkdir -p "$T/tree/sub"
	for args in "--compress zstd $D/src $T/out" "--frobnicate $D/src $T/out" "$D/src" \
		"$D/src $T/out extra" "$T/missing $T/out" "$T/root.zip $T/out" "--fsid" \
		"$T/tree $T/tree/sub/out" "$T/tree $T/tree" "$D/src /nonexistent/dir/out"; do
		# shellcheck disable=SC2086
		run --separate-stderr "$MK" $args
		[ "$status" -eq 1 ] || { echo "status $status: $args"; return 1; }
		[ -z "$output" ]
		[ "${#stderr_lines[@]}" -eq 1 ] || { echo "$args: $stderr"; return 1; }
		[[ $stderr == "lazyroot-mkimage: "* ]]
	done
	[ ! -e "$T/out" ]
	[ ! -e "$T/tree/sub/out" ]
	run "$MK" --help
	[ "$status" -eq 0 ]
	[[ $output == "usage: lazyroot-mkimage "* ]]
}

@test "the script is POSIX sh: dash, busybox sh and shellcheck accept it" {
	[ "$(head -n 1 "$MK")" = '#!/bin/sh' ]
	[ -x "$MK" ]
	dash -n "$MK"
	busybox sh -n "$MK"
	command -v shellcheck >/dev/null || skip "shellcheck not installed"
	run shellcheck -s sh -S warning "$MK"
	[ "$status" -eq 0 ] || { echo "$output"; return 1; }
}
