#!/usr/bin/env bats
# lazyroot-mkimage --prefetch RECORD: a plain image gets NAME.prefetch beside it; a
# verified image gets the record in its manifest (version 2, a prefetch table of refs,
# by content, so a record of version N serves N+1). Without a record the output is the
# same bytes as ever. Bad records: one line, nothing written.

bats_require_minimum_version 1.5.0

MK=$BATS_TEST_DIRNAME/../../images/lazyroot-mkimage
PACK=$BATS_TEST_DIRNAME/../../build/lazyroot-pack

le32() {
	od -An -tu4 -j"$2" -N4 "$1" | tr -d ' '
}

make_tree() {
	mkdir -p "$1/usr/lib" "$1/etc"
	for i in $(seq 1 12); do
		openssl enc -aes-128-ctr -pass "pass:lib$i" -nosalt -pbkdf2 -in /dev/zero 2>/dev/null |
			head -c $((60000 + i * 7000)) >"$1/usr/lib/lib$i.so"
	done
	printf 'host\n' >"$1/etc/hostname"
}

setup_file() {
	[ -x "$PACK" ] || {
		echo "build/lazyroot-pack is missing: make build/lazyroot-pack" >&2
		return 1
	}
	export D=$BATS_FILE_TMPDIR
	export SOURCE_DATE_EPOCH=1700000000
	make_tree "$D/src"
}

@test "plain: the record is published as NAME.prefetch; the image is the same bytes as without" {
	T=$BATS_TEST_TMPDIR
	fsid=$("$MK" --fsid img "$D/src" "$T/a" 2>/dev/null)
	[ "$(ls "$T/a")" = "$(printf 'img\nimg.sha256')" ]
	printf 'lazyroot-prefetch 1\n# recorded\nimg 0 8192 1\nimg 65536 4096 5\n' >"$T/rec"
	run --separate-stderr "$MK" --fsid img --prefetch "$T/rec" "$D/src" "$T/b"
	[ "$status" -eq 0 ]
	[ "$output" = img ]
	[[ $stderr == *"wrote $T/b/img.prefetch (2 ranges)"* ]]
	cmp "$T/a/img" "$T/b/img"
	cmp "$T/a/img.sha256" "$T/b/img.sha256"
	cmp "$T/rec" "$T/b/img.prefetch"
	# a newer record for the same image replaces the list
	printf 'lazyroot-prefetch 1\nimg 4096 4096 1\n' >"$T/rec2"
	"$MK" --fsid img --prefetch "$T/rec2" "$D/src" "$T/b" 2>/dev/null
	cmp "$T/rec2" "$T/b/img.prefetch"
	[ -z "$(ls -A "$T/b" | grep '^\.')" ]
}

@test "plain: a record of another image, or not a record, is refused with one line, nothing written" {
	T=$BATS_TEST_TMPDIR
	printf 'lazyroot-prefetch 1\nother 0 4096 1\n' >"$T/other"
	run --separate-stderr "$MK" --fsid img --prefetch "$T/other" "$D/src" "$T/o"
	[ "$status" -eq 1 ]
	# known once the image is built, before anything is published
	[ "$(tail -n 1 <<<"$stderr")" = "lazyroot-mkimage: --prefetch $T/other: recorded on image other, not img: a plain image's record fits only the image it was made on" ]
	[ -z "$(ls -A "$T/o")" ]
	printf '\177ELF' >"$T/bin"
	run --separate-stderr "$MK" --prefetch "$T/bin" "$D/src" "$T/o2"
	[ "$status" -eq 1 ]
	[ "$stderr" = "lazyroot-mkimage: --prefetch $T/bin: line 1: not a record (lazyrootctl record writes one)" ]
	[ ! -e "$T/o2" ]
	printf 'lazyroot-prefetch 1\nimg 100 4096 1\n' >"$T/odd"
	run --separate-stderr "$MK" --fsid img --prefetch "$T/odd" "$D/src" "$T/o3"
	[ "$status" -eq 1 ]
	[ "$stderr" = "lazyroot-mkimage: --prefetch $T/odd: line 2: not NAME OFFSET LENGTH MS in whole pages" ]
	run --separate-stderr "$MK" --fsid img --prefetch "$T/missing" "$D/src" "$T/o4"
	[ "$status" -eq 1 ]
	[ "$stderr" = "lazyroot-mkimage: --prefetch $T/missing: cannot read the record" ]
}

@test "verified: the record goes into the manifest (version 2), its chunks into a pack of their own, first touch first" {
	T=$BATS_TEST_TMPDIR
	read -r fsid digest < <("$MK" --verified --fsid v1 "$D/src" "$T/pub" 2>/dev/null)
	m1=$T/pub/v1.manifest
	[ "$(le32 "$m1" 8)" -eq 1 ]
	[ "$(le32 "$m1" 16)" -eq 1 ]
	[ "$(le32 "$m1" 32)" -eq 0 ]
	"$PACK" --unpack "$T/pub" "$m1" "$T/x" 2>/dev/null
	tag=$(ls "$T/x" | while read -r f; do [ "$(od -An -tu2 -j1024 -N2 "$T/x/$f" | tr -d ' ')" = 57826 ] || echo "$f"; done)
	[ ${#tag} -eq 64 ]
	# boot read the bootstrap's first pages, then data far into the blob, then its start
	printf 'lazyroot-prefetch 1\nv1 0 8192 1\n%s 393216 65536 2\n%s 0 4096 3\n' \
		"$tag" "$tag" >"$T/rec"
	# as publishing.md has it: the first version's chunks reused (--previous)
	run --separate-stderr "$MK" --verified --fsid v1p --previous "$T/pub" --prefetch "$T/rec" "$D/src" "$T/pub"
	[ "$status" -eq 0 ] || { echo "$stderr"; return 1; }
	echo "$stderr"
	m2=$T/pub/v1p.manifest
	n=$(le32 "$m2" 32)
	[ "$(le32 "$m2" 8)" -eq 2 ]
	[ "$n" -ge 3 ]
	[[ $stderr == *"lazyroot-pack: prefetch table: $n of "* ]]
	# the table is the manifest's last 4 x n bytes; the first entry is blob 0's first ref
	size=$(stat -c %s "$m2")
	[ "$(le32 "$m2" $((size - 4 * n)))" -eq 0 ]
	# two packs: the boot set's, new (the size the line gives), and v1's for the rest
	[ "$(le32 "$m2" 16)" -eq 2 ]
	bytes=$(echo "$stderr" | sed -n "s/^lazyroot-pack: boot set: $n chunks ($n of them reused, \([0-9]*\) bytes stored) in a pack of their own, first touch first$/\1/p")
	[[ $stderr == *"lazyroot-pack: new bytes $bytes of "* ]]
	boot=$(find "$T/pub/packs" -name '*.pack' -size "${bytes}c")
	[ -f "$boot" ]
	[ "$(ls "$T/pub/packs" | wc -l)" -eq 2 ]
	# the table's chunks are the boot pack's, back to back from its start, in the
	# table's order (the manifest's layout: docs/format.md, section 3)
	python3 - "$m2" "$(sha256sum < "$boot" | cut -c1-64)" <<'PY'
import struct, sys
m = open(sys.argv[1], "rb").read()
nblobs, npacks, nchunks, nrefs, _, npf = struct.unpack_from("<6I", m, 12)
packs = 64 + 96 * nblobs
chunks = packs + 48 * npacks
refs = chunks + 56 * nchunks
table = refs + 4 * nrefs
boot = [i for i in range(npacks) if m[packs + 48 * i:packs + 48 * i + 32].hex() == sys.argv[2]]
assert len(boot) == 1, boot
at, seen = 0, set()
for k in range(npf):
    (ref,) = struct.unpack_from("<I", m, table + 4 * k)
    (c,) = struct.unpack_from("<I", m, refs + 4 * ref)
    off, pack, stored = struct.unpack_from("<QII", m, chunks + 56 * c + 32)
    if c in seen:
        continue
    seen.add(c)
    assert (pack, off) == (boot[0], at), (k, pack, off, at)
    at += stored
print("boot pack: %d chunks, %d bytes, in the table's order" % (len(seen), at))
PY
	# the same plain bytes
	"$PACK" --unpack "$T/pub" "$m2" "$T/x2" 2>/dev/null
	diff -r "$T/x" "$T/x2"
	# the same again: the boot pack holds the table in its order, so nothing is copied
	run --separate-stderr "$MK" --verified --fsid v1p --previous "$T/pub" --prefetch "$T/rec" "$D/src" "$T/pub"
	[ "$status" -eq 0 ]
	[[ $stderr == *"lazyroot-pack: boot set: $n chunks, already in one pack in first-touch order: kept there"* ]]
	[[ $stderr == *"is already there with the same content"* ]]
	[ "$(ls "$T/pub/packs" | wc -l)" -eq 2 ]
	# without a record: one pack, as ever
	"$MK" --verified --fsid v1 "$D/src" "$T/pub3" >/dev/null 2>&1
	cmp "$m1" "$T/pub3/v1.manifest"
}

@test "verified N+1 with N's record (--previous): the unchanged chunks stay in the table" {
	T=$BATS_TEST_TMPDIR
	"$MK" --verified --fsid v1 "$D/src" "$T/pub" >/dev/null 2>&1
	"$PACK" --unpack "$T/pub" "$T/pub/v1.manifest" "$T/x" 2>/dev/null
	tag=$(ls "$T/x" | while read -r f; do [ "$(od -An -tu2 -j1024 -N2 "$T/x/$f" | tr -d ' ')" = 57826 ] || echo "$f"; done)
	blob=$(stat -c %s "$T/x/$tag")
	printf 'lazyroot-prefetch 1\nv1 0 8192 1\n%s 0 %s 2\n' "$tag" $(((blob + 4095) / 4096 * 4096)) >"$T/rec"
	"$MK" --verified --fsid v1p --prefetch "$T/rec" "$D/src" "$T/pub" 2>/dev/null
	all=$(le32 "$T/pub/v1p.manifest" 32)
	# one library changes: its chunks and the bootstrap's drop out, the rest stay
	cp -a "$D/src" "$T/src2"
	printf 'changed' | dd of="$T/src2/usr/lib/lib6.so" bs=1 seek=20000 conv=notrunc status=none
	run --separate-stderr "$MK" --verified --fsid v2 --previous "$T/pub" --prefetch "$T/rec" "$T/src2" "$T/pub"
	[ "$status" -eq 0 ] || { echo "$stderr"; return 1; }
	kept=$(le32 "$T/pub/v2.manifest" 32)
	# the table's chunks are where v1p's table had them, in order: not copied again
	[[ $stderr == *"lazyroot-pack: boot set: $kept chunks, already in one pack in first-touch order: kept there"* ]]
	echo "v1: $all chunks in the table, v2: $kept"
	[ "$kept" -gt 0 ]
	[ "$kept" -lt "$all" ]
	[ $((kept * 10)) -gt $((all * 7)) ]
	"$PACK" --unpack "$T/pub" "$T/pub/v2.manifest" "$T/x2" 2>/dev/null
	# a record naming an image with no manifest here: said, and left out
	printf 'lazyroot-prefetch 1\nnosuch 0 4096 1\n' >"$T/rec3"
	run --separate-stderr "$MK" --verified --fsid v3 --prefetch "$T/rec3" "$T/src2" "$T/pub"
	[ "$status" -eq 0 ]
	[[ $stderr == *"warning: --prefetch $T/rec3: image nosuch has no manifest in the --previous directories; its ranges are left out"* ]]
	[ "$(le32 "$T/pub/v3.manifest" 8)" -eq 1 ]
}
