#!/usr/bin/env bats
# The daemon's request loop serving a verified image (docs/format.md) under
# ASan/UBSan: a socket stands in for /dev/cachefiles, nginx serves the
# packs. Every chunk is read on its own and compared with the plain blobs.

setup_file() {
	export ST="$BATS_FILE_TMPDIR/srv" WWW="$BATS_FILE_TMPDIR/www" T="$BATS_FILE_TMPDIR"
	mkdir -p "$WWW" "$T/tree/d" "$T/plain"
	# compressible and incompressible files, and one the size of many chunks
	head -c 3000000 /dev/urandom > "$T/tree/d/random"
	seq 1 300000 > "$T/tree/d/numbers"
	cp /bin/ls "$T/tree/ls"
	openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$T/key.pem" 2> /dev/null
	openssl pkey -in "$T/key.pem" -pubout -out "$T/pub.pem"
	openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out "$T/other.pem" 2> /dev/null
	openssl pkey -in "$T/other.pem" -pubout -out "$T/other-pub.pem"
	images/lazyroot-mkimage --verified --sign "$T/key.pem" --fsid rootfs-v "$T/tree" "$WWW/good" > "$T/out" 2> "$T/err" ||
		{ cat "$T/err" >&2; return 1; }
	read -r _ digest < "$T/out"
	export HEX=${digest#sha256:}
	build/lazyroot-pack --unpack "$WWW/good" "$WWW/good/rootfs-v.manifest" "$T/plain" 2> /dev/null
	# a copy that differs in one byte of one frame
	cp -a "$WWW/good" "$WWW/bad"
	pack=$(ls -S "$WWW/bad/packs/"*.pack | head -n 1)
	off=$(($(stat -c %s "$pack") / 2))
	byte=$(od -An -tu1 -j "$off" -N1 "$pack" | tr -d ' ')
	# shellcheck disable=SC2059
	printf "$(printf '\\%03o' $((byte ^ 1)))" |
		dd of="$pack" bs=1 seek="$off" conv=notrunc status=none
	tests/lib/https-server start "$ST" "$WWW"
}

teardown_file() {
	tests/lib/https-server stop "$ST"
}

url() { echo "https://127.0.0.1:$(cat "$ST/port")/$1/"; }

# verified MIRRORS BAD_CHUNKS [DIGEST|- [KEY]]
verified() {
	run build/serve-verified "$ST/ca.pem" "$1" rootfs-v "${3:-$HEX}" "$T/plain" "$2" ${4:+"$4"}
	echo "$output" | grep -v 'completing: Inappropriate ioctl' | tail -n 30
}

@test "every chunk of both blobs, checked, lands byte for byte; an unknown tag is refused" {
	verified "$(url good)" 0
	[ "$status" -eq 0 ]
	echo "$output" | grep -q '^serve-verified: [0-9]* passed, 0 failed$'
	echo "$output" | grep -Eq '^lazyrootd: stats: chunks verified [1-9][0-9]*, failed verification 0$'
	echo "$output" | grep -q "cannot open blob 0\{64\}: https://127.0.0.1:[0-9]*/good/rootfs-v.manifest: the kernel asked for blob '0\{64\}', which is neither the fsid nor a device tag in the manifest$"
}

@test "one changed byte: that chunk's READ fails and writes nothing, the others land" {
	verified "$(url bad)" 1
	[ "$status" -eq 0 ]
	echo "$output" | grep -q '^serve-verified: [0-9]* passed, 0 failed$'
	echo "$output" | grep -Eq 'lazyrootd: blob [0-9a-f]{64}: chunk [0-9]+ \(bytes [0-9]+-[0-9]+\) from https://127.0.0.1:[0-9]+/bad failed verification: sha256 [0-9a-f]{16}…, not the manifest.s$'
	echo "$output" | grep -Eq ': chunk [0-9]+ failed verification \(sha256 .*\); nothing of it was written$'
}

@test "one changed byte on the first mirror: the chunk comes from the second, which is asked first from then on" {
	verified "$(url bad),$(url good)" 0
	[ "$status" -eq 0 ]
	echo "$output" | grep -q '^serve-verified: [0-9]* passed, 0 failed$'
	[ "$(echo "$output" | grep -c 'failed verification: sha256')" -eq 1 ]
	echo "$output" | grep -q "lazyrootd: mirror https://127.0.0.1:[0-9]*/bad served bad data: trying https://127.0.0.1:[0-9]*/good first from now on"
	echo "$output" | grep -Eq '^lazyrootd: stats: chunks verified [1-9][0-9]*, failed verification 1$'
}

@test "a manifest whose sha256 is not the digest is refused on every mirror" {
	verified "$(url good),$(url bad)" 0 "$(printf '%064d' 0)"
	[ "$status" -eq 1 ]
	[ "$(echo "$output" | grep -c 'its sha256 is [0-9a-f]*, not erofs.digest=sha256:0\{64\}')" -eq 2 ]
	echo "$output" | grep -q "^serve-verified: $(url good)rootfs-v.manifest: no mirror serves a copy with sha256 0\{64\}"
}

@test "a manifest that is not one: refused with the parser's reason" {
	mkdir -p "$WWW/junk"
	head -c 4096 /dev/urandom > "$WWW/junk/rootfs-v.manifest"
	hex=$(sha256sum "$WWW/junk/rootfs-v.manifest" | cut -d' ' -f1)
	verified "$(url junk)" 0 "$hex"
	[ "$status" -eq 1 ]
	echo "$output" | grep -q "^serve-verified: $(url junk)rootfs-v.manifest: .*magic"
}

@test "a mirror serving something too large to be a manifest is passed over for the next" {
	mkdir -p "$WWW/huge"
	truncate -s 65M "$WWW/huge/rootfs-v.manifest"
	verified "$(url huge),$(url good)" 0
	[ "$status" -eq 0 ]
	echo "$output" | grep -q "^lazyrootd: $(url huge)rootfs-v.manifest: 68157440 bytes, not 64..67108864: not a manifest; trying the next mirror$"
	echo "$output" | grep -q '^serve-verified: [0-9]* passed, 0 failed$'
}

@test "signed manifest: the image key alone vouches for it; a mirror without a good signature is passed over" {
	mkdir -p "$WWW/unsigned"
	cp -a "$WWW/good/packs" "$WWW/good/rootfs-v.manifest" "$WWW/unsigned/"
	verified "$(url unsigned),$(url good)" 0 - "$T/pub.pem"
	[ "$status" -eq 0 ]
	echo "$output" | grep -q '^serve-verified: [0-9]* passed, 0 failed$'
	echo "$output" | grep -q "^lazyrootd: $(url unsigned)rootfs-v.manifest: its signature rootfs-v.manifest.sig: HTTP 404.*; trying the next mirror$"
	# both at once: digest and key must hold
	verified "$(url good)" 0 "$HEX" "$T/pub.pem"
	[ "$status" -eq 0 ]
}

@test "signed manifest: another key, a changed signature or a key file that is none are refused" {
	verified "$(url good)" 0 - "$T/other-pub.pem"
	[ "$status" -eq 1 ]
	echo "$output" | grep -q "^lazyrootd: $(url good)rootfs-v.manifest: not signed by $T/other-pub.pem (.*)$"
	echo "$output" | grep -q "^serve-verified: $(url good)rootfs-v.manifest: no mirror serves a copy signed by the image key (last: not signed by "
	mkdir -p "$WWW/badsig"
	cp -a "$WWW/good/packs" "$WWW/good/rootfs-v.manifest" "$WWW/badsig/"
	sig=$WWW/good/rootfs-v.manifest.sig
	{ head -c 20 "$sig"; printf '\001'; tail -c +22 "$sig"; } > "$WWW/badsig/rootfs-v.manifest.sig"
	! cmp -s "$sig" "$WWW/badsig/rootfs-v.manifest.sig"
	verified "$(url badsig)" 0 - "$T/pub.pem"
	[ "$status" -eq 1 ]
	echo "$output" | grep -q "not signed by $T/pub.pem"
	echo "junk" > "$T/junk.pem"
	verified "$(url good)" 0 - "$T/junk.pem"
	[ "$status" -eq 1 ]
	echo "$output" | grep -q "^lazyrootd: image key $T/junk.pem: not a PEM public key: "
}

# pf_image: the same tree published again with a record of all of both blobs, so its
# manifest's prefetch table names every chunk; and a copy with one changed byte
pf_image() {
	[ -f "$T/pf.hex" ] && return 0
	cp -a "$WWW/good" "$WWW/pfgood"
	{
		echo 'lazyroot-prefetch 1'
		for f in "$T/plain"/*; do
			tag=${f##*/} size=$(stat -c %s "$f")
			if [ "$(od -An -tu2 -j1024 -N2 "$f" | tr -d ' ')" = 57826 ]; then tag=rootfs-v; fi
			echo "$tag 0 $(((size + 4095) / 4096 * 4096)) 1"
		done
	} > "$T/all.record"
	images/lazyroot-mkimage --verified --fsid rootfs-p --previous "$WWW/pfgood" \
		--prefetch "$T/all.record" "$T/tree" "$WWW/pfgood" > "$T/pf.out" 2> "$T/pf.err" ||
		{ cat "$T/pf.err" >&2; return 1; }
	grep -q 'prefetch table' "$T/pf.err"
	read -r _ digest < "$T/pf.out"
	cp -a "$WWW/pfgood" "$WWW/pfbad"
	# the largest pack; of two as large, the one this publishing made (the
	# boot set's own pack, which the manifest's chunks then name)
	pack=$(for p in "$WWW/pfbad/packs/"*.pack; do
		new=1
		[ -e "$WWW/good/packs/${p##*/}" ] && new=0
		echo "$(stat -c %s "$p") $new $p"
	done | sort -k1,1nr -k2,2nr | head -n 1 | cut -d' ' -f3-)
	off=$(($(stat -c %s "$pack") / 2))
	byte=$(od -An -tu1 -j "$off" -N1 "$pack" | tr -d ' ')
	# shellcheck disable=SC2059
	printf "$(printf '\\%03o' $((byte ^ 1)))" |
		dd of="$pack" bs=1 seek="$off" conv=notrunc status=none
	echo "${digest#sha256:}" > "$T/pf.hex"
}

# prefetched MIRRORS BAD_CHUNKS
prefetched() {
	pf_image
	SERVE_PREFETCH=1 run build/serve-verified "$ST/ca.pem" "$1" rootfs-p "$(cat "$T/pf.hex")" "$T/plain" "$2"
	echo "$output" | grep -v 'completing: Inappropriate ioctl' | tail -n 30
}

@test "prefetch of a verified image: every chunk of the table lands, checked, before any READ" {
	prefetched "$(url pfgood)" 0
	[ "$status" -eq 0 ]
	echo "$output" | grep -q '^serve-verified: [0-9]* passed, 0 failed$'
	echo "$output" | grep -Eq '^serve-verified: before any READ, [1-9][0-9]* chunk\(s\) prefetched, 0 not there$'
	echo "$output" | grep -Eq '^lazyrootd: prefetch list rootfs-p.manifest: [1-9][0-9]* ranges$'
	! echo "$output" | grep -q 'prefetch stops'
}

@test "a corrupted chunk met during prefetch is never written; prefetch stops, the READs go on" {
	prefetched "$(url pfbad)" 1
	[ "$status" -eq 0 ]
	echo "$output" | grep -q '^serve-verified: [0-9]* passed, 0 failed$'
	echo "$output" | grep -Eq '^lazyrootd: blob [0-9a-f]{64}: prefetch of bytes [0-9]+-[0-9]+ from .* failed: chunk [0-9]+ failed verification'
	echo "$output" | grep -q 'lazyrootd: prefetch stops after'
	echo "$output" | grep -Eq '^serve-verified: before any READ, [0-9]+ chunk\(s\) prefetched, [1-9][0-9]* not there$'
}

@test "a corrupted chunk on the first mirror during prefetch: it comes from the second" {
	prefetched "$(url pfbad),$(url pfgood)" 0
	[ "$status" -eq 0 ]
	echo "$output" | grep -q '^serve-verified: [0-9]* passed, 0 failed$'
	echo "$output" | grep -Eq '^serve-verified: before any READ, [1-9][0-9]* chunk\(s\) prefetched, 0 not there$'
	[ "$(echo "$output" | grep -c 'failed verification: sha256')" -eq 1 ]
	! echo "$output" | grep -q 'prefetch stops'
}

@test "prefetch of a verified image: the ranges of many jobs go out in one request per pack" {
	# a 4 KiB range every 256 KiB of the data blob: too far apart to be one job
	data=$(ls -S "$T/plain" | head -n 1) size=$(stat -c %s "$T/plain/$(ls -S "$T/plain" | head -n 1)")
	{
		echo 'lazyroot-prefetch 1'
		off=0
		while [ "$off" -lt "$size" ]; do
			echo "$data $off 4096 1"
			off=$((off + 262144))
		done
	} > "$T/scatter.record"
	cp -a "$WWW/good" "$WWW/scatter"
	images/lazyroot-mkimage --verified --fsid rootfs-s --previous "$WWW/scatter" \
		--prefetch "$T/scatter.record" "$T/tree" "$WWW/scatter" > "$T/s.out" 2> "$T/s.err" ||
		{ cat "$T/s.err" >&2; return 1; }
	read -r _ digest < "$T/s.out"
	SERVE_PREFETCH=1 run build/serve-verified "$ST/ca.pem" "$(url scatter)" rootfs-s "${digest#sha256:}" "$T/plain" 0
	echo "$output" | grep -v 'completing: Inappropriate ioctl' | tail -n 30
	[ "$status" -eq 0 ]
	echo "$output" | grep -q '^serve-verified: [0-9]* passed, 0 failed$'
	jobs=$(echo "$output" | sed -n 's/^lazyrootd: prefetch: \([0-9]*\) jobs .* in [0-9]* batches and .*/\1/p')
	batches=$(echo "$output" | sed -n 's/^lazyrootd: prefetch: [0-9]* jobs .* in \([0-9]*\) batches and .*/\1/p')
	[ "${jobs:-0}" -ge 10 ] && [ "${batches:-0}" -ge 1 ] && [ "$batches" -lt "$jobs" ]
	n=$(echo "$output" | sed -n "s/^serve-verified: blob $(echo "$data" | cut -c1-16) prefetched in \([0-9]*\) requests$/\1/p")
	# the record's ranges lie in the first version's pack in their order already,
	# so it is the image's one pack: one request per batch
	packs=$(od -An -tu4 -j16 -N4 "$WWW/scatter/rootfs-s.manifest" | tr -d ' ')
	echo "$jobs jobs in $batches batches, $n requests, $packs packs"
	[ "$packs" -eq 1 ]
	[ "$n" -eq "$batches" ]
	echo "$output" | sed -n 's/^serve-verified: before any READ, \([0-9]*\) chunk.*/\1/p' > "$T/scatter.landed"
	[ "$(cat "$T/scatter.landed")" -gt 0 ]
}

@test "chunks of a request for many jobs that fail their check on the first mirror come from the second" {
	[ -s "$T/scatter.landed" ] || skip "needs the test before"
	# a byte changed every 32 KiB of the first mirror's pack: most chunks are bad there
	cp -a "$WWW/scatter" "$WWW/scatterbad"
	pack=$(ls -S "$WWW/scatterbad/packs/"*.pack | head -n 1)
	size=$(stat -c %s "$pack") off=16384
	while [ "$off" -lt "$size" ]; do
		byte=$(od -An -tu1 -j "$off" -N1 "$pack" | tr -d ' ')
		# shellcheck disable=SC2059
		printf "$(printf '\\%03o' $((byte ^ 1)))" |
			dd of="$pack" bs=1 seek="$off" conv=notrunc status=none
		off=$((off + 32768))
	done
	read -r _ digest < "$T/s.out"
	SERVE_PREFETCH=1 run build/serve-verified "$ST/ca.pem" "$(url scatterbad),$(url scatter)" rootfs-s "${digest#sha256:}" "$T/plain" 0
	echo "$output" | grep -v 'completing: Inappropriate ioctl' | tail -n 30
	[ "$status" -eq 0 ]
	echo "$output" | grep -q '^serve-verified: [0-9]* passed, 0 failed$'
	echo "$output" | grep -q "^serve-verified: before any READ, $(cat "$T/scatter.landed") chunk(s) prefetched"
	echo "$output" | grep -q 'failed verification: sha256'
	! echo "$output" | grep -q 'prefetch stops'
	# answers to requests started before it was found out do not make it first again
	echo "$output" | grep -q 'mirror .*/scatterbad served bad data: trying .*/scatter first from now on'
	! echo "$output" | grep -q 'mirror .*/scatterbad answers: using it from now on'
}
