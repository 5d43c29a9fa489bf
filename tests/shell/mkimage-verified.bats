#!/usr/bin/env bats
# lazyroot-mkimage --verified and lazyroot-pack (docs/format.md): what is published, that it
# is reproducible, that --unpack gives back blobs the kernel mounts (the device tag and the
# superblock checksum right), that --previous reuses old packs, and one clear line for each
# broken input.

bats_require_minimum_version 1.5.0

MK=$BATS_TEST_DIRNAME/../../images/lazyroot-mkimage
PACK=$BATS_TEST_DIRNAME/../../build/lazyroot-pack

# A root tree of about 1.7 MB: incompressible "libraries" of different sizes, a
# compressible text, and the kinds of entry a root filesystem has.
make_tree() {
	t=$1
	mkdir -p "$t/bin" "$t/etc" "$t/dev" "$t/run" "$t/tmp" "$t/usr/lib" "$t/home/user" \
		"$t/empty"
	for i in $(seq 1 24); do
		openssl enc -aes-128-ctr -pass "pass:lib$i" -nosalt -pbkdf2 -in /dev/zero 2>/dev/null |
			head -c $((40000 + i * 2500)) >"$t/usr/lib/lib$i.so"
	done
	seq 1 30000 >"$t/usr/lib/numbers.txt"
	head -c 5000 /dev/zero >"$t/bin/zeros"
	printf 'small\n' >"$t/etc/hostname"
	: >"$t/etc/empty-file"
	printf 'root:*:19000:0:99999:7:::\n' >"$t/etc/shadow"
	chown 0:42 "$t/etc/shadow"
	chmod 0640 "$t/etc/shadow"
	printf 'mine\n' >"$t/home/user/notes"
	chown -R 1000:1001 "$t/home/user"
	printf '#!/bin/sh\n' >"$t/bin/su"
	chmod 4755 "$t/bin/su"
	ln "$t/bin/su" "$t/bin/su-hardlink"
	chmod 1777 "$t/tmp"
	ln -s ../usr/lib/lib1.so "$t/bin/sh"
	mknod "$t/dev/null" c 1 3
	mkfifo "$t/run/initctl"
	chmod 0755 "$t"
}

# manifest DIR: every entry's type, mode, owner, link count, symlink target, device number
# and content, sorted.
manifest() {
	(
		cd "$1"
		find . -printf '%y %#m %U:%G n%n %p -> %l\n'
		find . -type f -exec sha256sum {} +
		find . \( -type b -o -type c \) -exec stat -c 'dev %n %t:%T' {} +
	) | LC_ALL=C sort
}

# le16 FILE OFFSET
le16() {
	od -An -tu2 -j"$2" -N2 "$1" | tr -d ' '
}

# tag BOOTSTRAP SLOT: the tag in device slot SLOT, as text
tag() {
	off=$(($(le16 "$1" 1112) * 128 + $2 * 128))
	dd if="$1" bs=1 skip="$off" count=64 status=none | tr '\0' '@'
}

# blobs DIR: the unpacked bootstrap (the one with an EROFS superblock) and blob in DIR,
# as "BOOT BLOB"
blobs() {
	for f in "$1"/*; do
		if [ "$(le16 "$f" 1024)" = 57826 ]; then boot=$f; else blob=$f; fi
	done
	echo "$boot $blob"
}

# need_mount: skip unless the host kernel has EROFS and loop devices.
need_mount() {
	grep -qw erofs /proc/filesystems || modprobe erofs 2>/dev/null || :
	grep -qw erofs /proc/filesystems ||
		skip "the host kernel has no EROFS (fsck.erofs --device checks the image instead)"
	losetup -f >/dev/null 2>&1 || skip "no free loop device here"
}

# loop FILE: a read-only loop device of FILE, detached after the test
loop() {
	l=$(losetup -f --show -r "$1") || return 1
	echo "$l" >>"$BATS_TEST_TMPDIR/loops"
	echo "$l"
}

# mount_verified BOOT BLOB DIR: mount the bootstrap as EROFS with the blob as its extra
# device (device=: outside fscache mode the kernel opens the path given, not the tag).
mount_verified() {
	need_mount
	lb=$(loop "$2")
	l0=$(loop "$1")
	mkdir -p "$3"
	mount -t erofs -o ro,device="$lb" "$l0" "$3" || return 1
	echo "$3" >>"$BATS_TEST_TMPDIR/mounts"
}

# flip FILE OFFSET: change the byte at OFFSET
flip() {
	b=$(od -An -tu1 -j"$2" -N1 "$1" | tr -d ' ')
	# shellcheck disable=SC2059
	printf "$(printf '\\%03o' $(((b + 1) % 256)))" |
		dd of="$1" bs=1 seek="$2" conv=notrunc status=none
}

setup_file() {
	[ "$(id -u)" -eq 0 ] || skip "needs root (owners, device nodes)"
	[ -x "$PACK" ] || {
		echo "build/lazyroot-pack is missing: make build/lazyroot-pack" >&2
		return 1
	}
	export D=$BATS_FILE_TMPDIR
	export SOURCE_DATE_EPOCH=1700000000
	make_tree "$D/src"
	"$MK" --verified "$D/src" "$D/out" >"$D/stdout" 2>"$D/stderr" || {
		cat "$D/stderr" >&2
		return 1
	}
	read -r FSID DIGEST <"$D/stdout"
	export FSID DIGEST
	"$PACK" --unpack "$D/out" "$D/out/$FSID.manifest" "$D/x" 2>"$D/unpack.err"
}

teardown() {
	if [ -f "$BATS_TEST_TMPDIR/mounts" ]; then
		while read -r m; do umount "$m"; done <"$BATS_TEST_TMPDIR/mounts"
	fi
	if [ -f "$BATS_TEST_TMPDIR/loops" ]; then
		while read -r l; do losetup -d "$l"; done <"$BATS_TEST_TMPDIR/loops"
	fi
}

@test "stdout is 'fsid sha256:digest'; OUTDIR holds the manifest and its packs; stderr has the boot words and new bytes" {
	[ "$(wc -l <"$D/stdout")" -eq 1 ]
	[[ $FSID =~ ^rootfs-[0-9a-f]{16}$ ]]
	[[ $DIGEST =~ ^sha256:[0-9a-f]{64}$ ]]
	hex=${DIGEST#sha256:}
	[ "$FSID" = "rootfs-${hex:0:16}" ]
	[ "$(sha256sum <"$D/out/$FSID.manifest")" = "$hex  -" ]
	[ "$(LC_ALL=C ls -A "$D/out" | tr '\n' ' ')" = "packs $FSID.manifest " ]
	# packs are named by their sha256, and readable by a web server
	for p in "$D/out/packs/"*; do
		[ "$(sha256sum <"$p")" = "$(basename "$p" .pack)  -" ]
		[ "$(stat -c %a "$p")" = 644 ]
	done
	[ "$(stat -c %a "$D/out/$FSID.manifest" "$D/out/packs" | tr '\n' ' ')" = '644 755 ' ]
	grep -qF "erofs.fsid=$FSID erofs.digest=$DIGEST" "$D/stderr"
	grep -Eq '^lazyroot-pack: new bytes ([0-9]+) of \1 \(100\.0%\) in 1 pack$' "$D/stderr"
	grep -Eq '^lazyroot-pack: [0-9]+ chunks .* ratio [0-9.]+$' "$D/stderr"
	# the manifest header
	[ "$(head -c 8 "$D/out/$FSID.manifest")" = LZRMANI1 ]
	# read -r works as documented
	read -r a b <"$D/stdout"
	[ "$a $b" = "$FSID $DIGEST" ]
}

@test "two builds from copies made at different times give the same bytes and digest" {
	T=$BATS_TEST_TMPDIR
	cp -R --preserve=mode,ownership,links "$D/src" "$T/a"
	cp -R --preserve=mode,ownership,links "$D/src" "$T/b"
	find "$T/a" -exec touch -h -d '2030-01-01 UTC' {} +
	ra=$("$MK" --verified "$T/a" "$T/oa" 2>/dev/null)
	rb=$("$MK" --verified "$T/b" "$T/ob" 2>/dev/null)
	[ "$ra" = "$FSID $DIGEST" ]
	[ "$rb" = "$FSID $DIGEST" ]
	diff -r "$T/oa" "$D/out"
	diff -r "$T/ob" "$D/out"
	# another SOURCE_DATE_EPOCH, other mtimes: another bootstrap, so another pack
	SOURCE_DATE_EPOCH=1 "$MK" --verified "$D/src" "$T/other" >/dev/null 2>&1
	[ "$(ls "$T/other/packs")" != "$(ls "$D/out/packs")" ]
}

@test "--unpack writes blobs named by their sha256; the bootstrap's device tag is the blob's sha256" {
	[ -z "$(grep -v '^lazyroot-pack: .* all as the manifest says; written to ' "$D/unpack.err")" ]
	[ "$(ls "$D/x" | wc -l)" -eq 2 ]
	for f in "$D/x"/*; do
		[ "$(sha256sum <"$f")" = "$(basename "$f")  -" ]
	done
	read -r boot blob <<<"$(blobs "$D/x")"
	[ "$(le16 "$boot" 1110)" = 1 ] # one extra device
	[ "$(tag "$boot" 0)" = "$(basename "$blob")" ]
	# what fsck.erofs sees through the blob is the tree
	fsck.erofs --device="$blob" --extract="$BATS_TEST_TMPDIR/e" --preserve "$boot" >/dev/null
	[ "$(cat "$BATS_TEST_TMPDIR/e/usr/lib/numbers.txt" | wc -l)" -eq 30000 ]
	cmp "$BATS_TEST_TMPDIR/e/usr/lib/lib24.so" "$D/src/usr/lib/lib24.so"
}

@test "the kernel mounts the unpacked bootstrap with its blob (superblock checksum right) and shows the tree exactly" {
	read -r boot blob <<<"$(blobs "$D/x")"
	mount_verified "$boot" "$blob" "$BATS_TEST_TMPDIR/m"
	# (diff -r only compares files; manifest the rest)
	diff -r -x null -x initctl "$D/src" "$BATS_TEST_TMPDIR/m"
	diff <(manifest "$D/src") <(manifest "$BATS_TEST_TMPDIR/m")
}

@test "the kernel checks the checksum that covers the tag: a tag changed alone is refused" {
	T=$BATS_TEST_TMPDIR
	read -r boot blob <<<"$(blobs "$D/x")"
	cp "$boot" "$T/boot"
	flip "$T/boot" $(($(le16 "$boot" 1112) * 128 + 5))
	# lazyroot-pack refuses it, with one line
	mkdir "$T/o"
	run --separate-stderr "$PACK" "$T/o" "$T/boot" "$blob"
	[ "$status" -eq 1 ]
	[ "${#stderr_lines[@]}" -eq 1 ]
	[[ $stderr == "lazyroot-pack: $T/boot: superblock checksum is 0x"*", the superblock says 0x"*" (damaged?)" ]]
	# and so does the kernel: the tool's checksum is what makes the mounts above work
	need_mount
	lb=$(loop "$blob")
	l0=$(loop "$T/boot")
	mkdir "$T/m"
	run mount -t erofs -o ro,device="$lb" "$l0" "$T/m"
	[ "$status" -ne 0 ] || { umount "$T/m"; return 1; }
}

@test "--previous: a one-file change adds one small pack; the old packs are reused as hard links" {
	T=$BATS_TEST_TMPDIR
	cp -a "$D/src" "$T/src2"
	printf 'changed' | dd of="$T/src2/usr/lib/lib12.so" bs=1 seek=20000 conv=notrunc status=none
	run --separate-stderr "$MK" --verified --previous "$D/out" "$T/src2" "$T/out2"
	[ "$status" -eq 0 ] || { echo "$stderr"; return 1; }
	read -r fsid2 digest2 <<<"$output"
	[ "$fsid2" != "$FSID" ]
	line=$(grep '^lazyroot-pack: new bytes ' <<<"$stderr")
	[[ $line =~ new\ bytes\ ([0-9]+)\ of\ ([0-9]+)\ \(([0-9.]+)%\)\ in\ 2\ packs$ ]]
	new=${BASH_REMATCH[1]} total=${BASH_REMATCH[2]}
	echo "new $new of $total"
	[ "$new" -gt 0 ]
	[ $((new * 5)) -lt "$total" ]
	# the old pack, hard-linked; the new one holds only the new bytes
	old=$(ls "$D/out/packs")
	[ "$(stat -c %i "$D/out/packs/$old")" = "$(stat -c %i "$T/out2/packs/$old")" ]
	[ "$(ls "$T/out2/packs" | wc -l)" -eq 2 ]
	newpack=$(ls "$T/out2/packs" | grep -vx "$old")
	[ "$(stat -c %s "$T/out2/packs/$newpack")" -eq "$new" ]
	# the new image is whole and right
	"$PACK" --unpack "$T/out2" "$T/out2/$fsid2.manifest" "$T/x2" 2>/dev/null
	read -r boot blob <<<"$(blobs "$T/x2")"
	fsck.erofs --device="$blob" --extract="$T/e" --preserve "$boot" >/dev/null
	cmp "$T/e/usr/lib/lib12.so" "$T/src2/usr/lib/lib12.so"
	# the same inputs and --previous give the same output
	"$MK" --verified --previous "$D/out" "$T/src2" "$T/out3" >/dev/null 2>&1
	diff -r "$T/out2" "$T/out3"
}

@test "--previous OUTDIR: a new version lands next to the old one; the same tree again adds nothing" {
	T=$BATS_TEST_TMPDIR
	cp -a "$D/out" "$T/pub"
	cp -a "$D/src" "$T/src2"
	printf 'v2\n' >"$T/src2/etc/hostname"
	run --separate-stderr "$MK" --verified --previous "$T/pub" "$T/src2" "$T/pub"
	[ "$status" -eq 0 ]
	read -r fsid2 _ <<<"$output"
	[ "$(ls "$T/pub"/*.manifest | wc -l)" -eq 2 ]
	[ "$(ls "$T/pub/packs" | wc -l)" -eq 2 ]
	# both versions stay whole
	"$PACK" --unpack "$T/pub" "$T/pub/$FSID.manifest" "$T/x1" 2>/dev/null
	"$PACK" --unpack "$T/pub" "$T/pub/$fsid2.manifest" "$T/x2" 2>/dev/null
	cp -a "$T/pub" "$T/before"
	run --separate-stderr "$MK" --verified --previous "$T/pub" "$T/src2" "$T/pub"
	[ "$status" -eq 0 ]
	[ "$(cut -d' ' -f1 <<<"$output")" = "$fsid2" ]
	[[ $stderr == *"lazyroot-pack: new bytes 0 of "* ]]
	[[ $stderr == *"$T/pub/$fsid2.manifest is already there with the same content"* ]]
	diff -r "$T/before" "$T/pub"
	[ -z "$(ls -A "$T/pub" | grep '^\.')" ]
}

@test "a changed byte in a pack: --unpack fails with one line naming the chunk" {
	T=$BATS_TEST_TMPDIR
	cp -a "$D/out" "$T/bad"
	pack=$(ls "$T/bad/packs/"*)
	flip "$pack" $(($(stat -c %s "$pack") / 2))
	run --separate-stderr "$PACK" --unpack "$T/bad" "$T/bad/$FSID.manifest" "$T/x"
	[ "$status" -eq 1 ]
	[ "${#stderr_lines[@]}" -eq 1 ]
	echo "$stderr"
	[[ $stderr =~ ^lazyroot-pack:\ chunk\ [0-9]+\ \(blob\ [01],\ bytes\ [0-9]+-[0-9]+\)\ in\ pack\ 0,\ $T/bad/packs/[0-9a-f]{64}\.pack,\ offset\ [0-9]+,\ [0-9]+\ bytes:\ (zstd|sha256\ [0-9a-f]+…,\ not\ the\ manifest|not\ one|the\ zstd) ]]
	# no partial blob is left under a blob's name
	[ -z "$(ls -A "$T/x" | grep -v '^[0-9a-f]\{64\}$' || :)" ]
	for f in "$T/x"/*; do
		[ -e "$f" ] || continue
		[ "$(sha256sum <"$f")" = "$(basename "$f")  -" ]
	done
}

@test "a truncated pack and a missing pack: one clear line each" {
	T=$BATS_TEST_TMPDIR
	cp -a "$D/out" "$T/bad"
	pack=$(ls "$T/bad/packs/"*)
	size=$(stat -c %s "$pack")
	truncate -s $((size - 100)) "$pack"
	run --separate-stderr "$PACK" --unpack "$T/bad" "$T/bad/$FSID.manifest" "$T/x"
	[ "$status" -eq 1 ]
	[ "${#stderr_lines[@]}" -eq 1 ]
	[ "$stderr" = "lazyroot-pack: pack 0, $pack: $((size - 100)) bytes, the manifest says $size (truncated?)" ]
	[ ! -e "$T/x" ]
	rm "$pack"
	run --separate-stderr "$PACK" --unpack "$T/bad" "$T/bad/$FSID.manifest" "$T/x"
	[ "$status" -eq 1 ]
	[ "${#stderr_lines[@]}" -eq 1 ]
	[ "$stderr" = "lazyroot-pack: pack 0, $pack: No such file or directory" ]
	# and as --previous
	run --separate-stderr "$MK" --verified --previous "$T/bad" "$D/src" "$T/o"
	[ "$status" -eq 1 ]
	[ "${#stderr_lines[@]}" -eq 2 ] # the progress line, then why
	[ "${stderr_lines[1]}" = "lazyroot-pack: --previous $T/bad: $pack, pack 0 of $FSID.manifest: No such file or directory" ]
	# a manifest that is not one
	printf 'junk' >"$T/junk.manifest"
	run --separate-stderr "$PACK" --unpack "$T/bad" "$T/junk.manifest" "$T/x"
	[ "$status" -eq 1 ]
	[ "$stderr" = "lazyroot-pack: $T/junk.manifest: not a valid manifest: header: truncated, 4 of 64 bytes" ]
}

@test "a changed byte in a --previous pack: its chunks are not reused, the build stops with one line" {
	T=$BATS_TEST_TMPDIR
	cp -a "$D/out" "$T/bad"
	pack=$(ls "$T/bad/packs/"*)
	flip "$pack" $(($(stat -c %s "$pack") / 2))
	run --separate-stderr "$MK" --verified --previous "$T/bad" "$D/src" "$T/o"
	[ "$status" -eq 1 ]
	[ -z "$output" ]
	[ "${#stderr_lines[@]}" -eq 2 ]
	[[ ${stderr_lines[1]} =~ ^lazyroot-pack:\ --previous\ $pack:\ the\ chunk\ at\ offset\ [0-9]+\ \([0-9]+\ bytes\)(:\ |\ is\ not\ the\ one\ its\ manifest\ names$) ]]
	# nothing published, no temporary file left
	[ "$(ls -A "$T/o")" = packs ]
	[ -z "$(ls -A "$T/o/packs")" ]
}

@test "a bootstrap whose devices do not match the blobs given, or no EROFS at all: one line each" {
	T=$BATS_TEST_TMPDIR
	mkdir "$T/o"
	mkfs.erofs -T0 "$T/plain.img" "$D/src/etc" >/dev/null 2>&1
	head -c 8192 /dev/urandom >"$T/blob"
	run --separate-stderr "$PACK" "$T/o" "$T/plain.img" "$T/blob"
	[ "$status" -eq 1 ]
	[ "$stderr" = "lazyroot-pack: $T/plain.img: the image has 0 extra devices, but 1 blob file was given" ]
	read -r boot blob <<<"$(blobs "$D/x")"
	cp "$boot" "$T/boot"
	run --separate-stderr "$PACK" "$T/o" "$T/boot"
	[ "$status" -eq 1 ]
	[ "$stderr" = "lazyroot-pack: $T/boot: the image has 1 extra device, but 0 blob files were given" ]
	run --separate-stderr "$PACK" "$T/o" "$T/blob" "$T/boot"
	[ "$status" -eq 1 ]
	[ "$stderr" = "lazyroot-pack: $T/blob: not an EROFS image (no superblock magic at byte 1024)" ]
	run --separate-stderr "$PACK" "$T/o" "$T/boot" "$T/boot"
	[ "$status" -eq 1 ]
	[ "$stderr" = "lazyroot-pack: $T/boot and $T/boot are the same file" ]
	: >"$T/empty"
	run --separate-stderr "$PACK" "$T/o" "$T/boot" "$T/empty"
	[ "$status" -eq 1 ]
	[ "$stderr" = "lazyroot-pack: $T/empty: empty" ]
	# nothing was written
	[ -z "$(ls -A "$T/o")" ] || [ "$(ls -A "$T/o")" = packs ]
	[ -z "$(ls -A "$T/o/packs" 2>/dev/null)" ]
	# a plain image alone is a verified image of one blob
	run --separate-stderr "$PACK" "$T/o" "$T/plain.img"
	[ "$status" -eq 0 ]
	"$PACK" --unpack "$T/o" "$T/o/$output.manifest" "$T/x" 2>/dev/null
	cmp "$T/x/$(sha256sum <"$T/plain.img" | cut -c1-64)" "$T/plain.img"
}

@test "a tree without file data makes a verified image too" {
	T=$BATS_TEST_TMPDIR
	mkdir -p "$T/t/etc" "$T/t/dir"
	: >"$T/t/etc/empty"
	ln -s /nowhere "$T/t/link"
	run --separate-stderr "$MK" --verified "$T/t" "$T/o"
	[ "$status" -eq 0 ] || { echo "$stderr"; return 1; }
	read -r fsid _ <<<"$output"
	"$PACK" --unpack "$T/o" "$T/o/$fsid.manifest" "$T/x" 2>/dev/null
	read -r boot blob <<<"$(blobs "$T/x")"
	[ "$(tag "$boot" 0)" = "$(basename "$blob")" ]
	mount_verified "$boot" "$blob" "$T/m"
	diff <(manifest "$T/t") <(manifest "$T/m")
}

@test "an existing manifest with other content is never replaced" {
	T=$BATS_TEST_TMPDIR
	"$MK" --verified --fsid v1 "$D/src" "$T/o" >/dev/null 2>&1
	cp "$T/o/v1.manifest" "$T/v1.orig"
	cp -a "$D/src" "$T/other"
	printf 'other\n' >"$T/other/etc/hostname"
	run --separate-stderr "$MK" --verified --fsid v1 "$T/other" "$T/o"
	[ "$status" -eq 1 ]
	[ -z "$output" ]
	[ "${stderr_lines[-1]}" = "lazyroot-mkimage: $T/o/v1.manifest already exists with other content; not replacing it (remove it, or choose another --fsid)" ]
	cmp "$T/o/v1.manifest" "$T/v1.orig"
	[ -z "$(ls -A "$T/o" | grep '^\.')" ]
}

@test "usage errors of --verified are one line each, before anything is written" {
	T=$BATS_TEST_TMPDIR
	for args in "--verified --compress lz4hc $D/src $T/out" "--verified --compress=lz4hc $D/src $T/out" \
		"--previous $D/out $D/src $T/out" "--verified --previous $T/missing $D/src $T/out" \
		"--verified --previous"; do
		# shellcheck disable=SC2086
		run --separate-stderr "$MK" $args
		[ "$status" -eq 1 ] || { echo "status $status: $args"; return 1; }
		[ -z "$output" ]
		[ "${#stderr_lines[@]}" -eq 1 ] || { echo "$args: $stderr"; return 1; }
		[[ $stderr == "lazyroot-mkimage: "* ]]
	done
	[ ! -e "$T/out" ]
	run --separate-stderr "$MK" --verified --compress lz4hc "$D/src" "$T/out"
	[ "$stderr" = "lazyroot-mkimage: --compress lz4hc cannot be used with --verified (lazyroot-pack compresses the image with zstd)" ]
	LAZYROOT_PACK=$T/nothing run --separate-stderr "$MK" --verified "$D/src" "$T/out"
	[ "$status" -eq 1 ]
	[ "$stderr" = "lazyroot-mkimage: LAZYROOT_PACK=$T/nothing is not an executable file" ]
	[ ! -e "$T/out" ]
	run "$MK" --help
	[[ ${lines[1]} == *"--verified [--previous DIR]..."* ]]
}

@test "lazyroot-pack: usage errors are one line each; --help says what it does" {
	T=$BATS_TEST_TMPDIR
	mkdir "$T/o"
	for args in "" "$T/o" "--level 0 $T/o x" "--level 99 $T/o x" "--level x $T/o x" "--frob" \
		"--unpack $T/o" "--unpack --previous $T/o $T/o a b" "--previous" "$T/nothing x"; do
		# shellcheck disable=SC2086
		run --separate-stderr "$PACK" $args
		[ "$status" -eq 1 ] || { echo "status $status: $args"; return 1; }
		[ -z "$output" ]
		[ "${#stderr_lines[@]}" -eq 1 ] || { echo "$args: $stderr"; return 1; }
		[[ $stderr == "lazyroot-pack: "* ]]
	done
	run "$PACK" --help
	[ "$status" -eq 0 ]
	[[ ${lines[0]} == "usage: lazyroot-pack [--previous DIR]..."* ]]
	[[ $output == *"--unpack"* ]]
}

@test "make install: the installed lazyroot-mkimage finds the installed lazyroot-pack" {
	T=$BATS_TEST_TMPDIR
	make -s -C "$BATS_TEST_DIRNAME/../.." install PREFIX="$T/p" DRACUTMODULESDIR="$T/d" >/dev/null
	[ -x "$T/p/lib/lazyroot/lazyroot-pack" ]
	[ -x "$T/p/lib/lazyroot/lazyroot-mkimage" ]
	run --separate-stderr env -u LAZYROOT_PACK "$T/p/bin/lazyroot-mkimage" --verified "$D/src" "$T/o"
	[ "$status" -eq 0 ] || { echo "$stderr"; return 1; }
	[ "$output" = "$FSID $DIGEST" ]
}

@test "--sign: NAME.manifest.sig that openssl checks with the public key; kept when it already signs; refused otherwise" {
	T=$BATS_TEST_TMPDIR
	openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$T/key.pem" 2>/dev/null
	openssl pkey -in "$T/key.pem" -pubout -out "$T/pub.pem"
	openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out "$T/rsa.pem" 2>/dev/null
	run --separate-stderr "$MK" --verified --sign "$T/key.pem" --fsid v "$D/src" "$T/out"
	[ "$status" -eq 0 ]
	[[ $output =~ ^v\ sha256:[0-9a-f]{64}$ ]]
	openssl dgst -sha256 -verify "$T/pub.pem" -signature "$T/out/v.manifest.sig" "$T/out/v.manifest"
	[[ $stderr == *"lazyroot-mkimage: wrote $T/out/v.manifest.sig"* ]]
	[[ $stderr == *"/etc/lazyroot/image-key.pem"*"erofs.fsid=v erofs.url="* ]]
	# the same build again: the signature there signs it, so it stays
	cp "$T/out/v.manifest.sig" "$T/sig1"
	run --separate-stderr "$MK" --verified --sign "$T/key.pem" --fsid v "$D/src" "$T/out"
	[ "$status" -eq 0 ]
	cmp "$T/sig1" "$T/out/v.manifest.sig"
	[[ $stderr == *"$T/out/v.manifest.sig is already there and signs it"* ]]
	# another key: the signature there is not its, and is never replaced
	run --separate-stderr "$MK" --verified --sign "$T/rsa.pem" --fsid v "$D/src" "$T/out"
	[ "$status" -eq 1 ]
	[[ $stderr == *"lazyroot-mkimage: $T/out/v.manifest.sig is already there and is not this key's signature of the manifest; not replacing it" ]]
	cmp "$T/sig1" "$T/out/v.manifest.sig"
	# before anything is built: a key that is not a private key, --sign without --verified
	run --separate-stderr "$MK" --verified --sign "$T/pub.pem" --fsid w "$D/src" "$T/out2"
	[ "$status" -eq 1 ]
	[[ $stderr == "lazyroot-mkimage: --sign $T/pub.pem: not a PEM private key (make one with: "* ]]
	run --separate-stderr "$MK" --sign "$T/key.pem" "$D/src" "$T/out2"
	[ "$status" -eq 1 ]
	[ "$stderr" = "lazyroot-mkimage: --sign needs --verified" ]
	[ ! -e "$T/out2" ]
}
