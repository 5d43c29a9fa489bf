#!/usr/bin/env bats
# The daemon against other static HTTPS servers than the tests' nginx:
# Debian's lighttpd (HTTP/2 offered by ALPN, its own ETag and Range code) and
# Apache (mod_ssl). The request loop under ASan/UBSan serves a plain blob
# (build/serve-harness) and a verified image (build/serve-verified) from each,
# and the fetch engine's concurrent ranges come back byte for byte.

bats_require_minimum_version 1.5.0

setup_file() {
	export T="$BATS_FILE_TMPDIR" WWW="$BATS_FILE_TMPDIR/www"
	mkdir -p "$WWW" "$T/tree/d" "$T/plain"
	head -c 1000000 /dev/urandom > "$WWW/blob" # ends in a partial page
	head -c 3000000 /dev/urandom > "$T/tree/d/random"
	seq 1 300000 > "$T/tree/d/numbers"
	images/lazyroot-mkimage --verified --fsid rootfs-v "$T/tree" "$WWW/v" > "$T/out" 2> "$T/err" ||
		{ cat "$T/err" >&2; return 1; }
	read -r _ digest < "$T/out"
	export HEX=${digest#sha256:}
	build/lazyroot-pack --unpack "$WWW/v" "$WWW/v/rootfs-v.manifest" "$T/plain" 2> /dev/null
	for k in lighttpd apache; do
		HTTPS_SERVER=$k tests/lib/https-server start "$T/$k" "$WWW"
	done
}

teardown_file() {
	for k in lighttpd apache; do
		HTTPS_SERVER=$k tests/lib/https-server stop "$T/$k"
	done
}

url() { echo "https://127.0.0.1:$(cat "$T/$1/port")/$2"; }

# harness SERVER: the plain request loop against SERVER
harness() {
	run build/serve-harness "$T/$1/ca.pem" "$(url "$1")" "$WWW/blob"
	echo "$output" | grep -v 'completing: Inappropriate ioctl' | tail -n 30
	[ "$status" -eq 0 ]
	echo "$output" | grep -q '^serve-harness: [0-9]* passed, 0 failed$'
	# the server saw them: partial answers for the blob (HTTP/2 where
	# libcurl has it, as the glibc build here does)
	HTTPS_SERVER=$1 tests/lib/https-server log "$T/$1" | grep -Eq '^GET /blob HTTP/[12]\.[01]	206	bytes='
}

# verified SERVER: every chunk of the verified image from SERVER, checked
verified() {
	run build/serve-verified "$T/$1/ca.pem" "$(url "$1" v/)" rootfs-v "$HEX" "$T/plain" 0
	echo "$output" | grep -v 'completing: Inappropriate ioctl' | tail -n 30
	[ "$status" -eq 0 ]
	echo "$output" | grep -q '^serve-verified: [0-9]* passed, 0 failed$'
	echo "$output" | grep -Eq '^lazyrootd: stats: chunks verified [1-9][0-9]*, failed verification 0$'
}

# ranges SERVER: concurrent ranges through the fetch engine, byte for byte
ranges() {
	build/fetch-range "$T/$1/ca.pem" 10 "$(url "$1" blob)" 0 4096 4096 65536 999000 1000 12345 777 > "$BATS_TEST_TMPDIR/got"
	{
		dd if="$WWW/blob" bs=1 skip=0 count=4096 status=none
		dd if="$WWW/blob" bs=1 skip=4096 count=65536 status=none
		dd if="$WWW/blob" bs=1 skip=999000 count=1000 status=none
		dd if="$WWW/blob" bs=1 skip=12345 count=777 status=none
	} > "$BATS_TEST_TMPDIR/want"
	cmp "$BATS_TEST_TMPDIR/got" "$BATS_TEST_TMPDIR/want"
	# the same ranges and two that touch, in order, in one request: the
	# server may merge them into one part or answer each
	FETCH_RANGE_MULTI=1 build/fetch-range "$T/$1/ca.pem" 10 "$(url "$1" blob)" 0 4096 4096 4096 12345 777 70000 65536 999000 1000 > "$BATS_TEST_TMPDIR/got"
	{
		dd if="$WWW/blob" bs=1 skip=0 count=8192 status=none
		dd if="$WWW/blob" bs=1 skip=12345 count=777 status=none
		dd if="$WWW/blob" bs=1 skip=70000 count=65536 status=none
		dd if="$WWW/blob" bs=1 skip=999000 count=1000 status=none
	} | cmp - "$BATS_TEST_TMPDIR/got"
	HTTPS_SERVER=$1 tests/lib/https-server log "$T/$1" | grep -Eq '^GET /blob HTTP/[12]\.[01]	206	bytes=0-4095,4096-8191,12345-13121,70000-135535,999000-999999	'
}

@test "lighttpd: a plain blob: OPEN, READs of every kind, CLOSE, 404, bad names" {
	harness lighttpd
}

@test "lighttpd: a verified image: every chunk of both blobs checked and landed" {
	verified lighttpd
}

@test "lighttpd: concurrent ranges, and several in one request, come back byte for byte" {
	ranges lighttpd
}

@test "Apache: a plain blob: OPEN, READs of every kind, CLOSE, 404, bad names" {
	harness apache
}

@test "Apache: a verified image: every chunk of both blobs checked and landed" {
	verified apache
}

@test "Apache: concurrent ranges, and several in one request, come back byte for byte" {
	ranges apache
}
