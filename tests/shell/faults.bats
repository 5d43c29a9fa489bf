#!/usr/bin/env bats
# The fetch engine's fault policy (daemon/fetch.c) against tests/lib/fault-server:
# resets, stalls, 5xx, short and slow bodies, Range ignored or answered with other
# bytes, outages, redirects. Plain images through build/fetch-range, verified ones
# through build/serve-verified: every byte right, and each fault counted at the
# server (STATEDIR/fired), so a test cannot pass without its fault firing.

bats_require_minimum_version 1.5.0

setup_file() {
	export T="$BATS_FILE_TMPDIR"
	export TLS="$T/tls" WWW="$T/www" F="$T/f"
	mkdir -p "$WWW"
	head -c 1000000 /dev/urandom > "$WWW/blob"
	# nginx: the test CA and certificate, and an honest server to compare with
	tests/lib/https-server start "$TLS" "$WWW"
	export NGINX="https://127.0.0.1:$(cat "$TLS/port")"
	# a verified image of files that span many chunks
	mkdir -p "$T/tree/d" "$T/plain"
	head -c 3000000 /dev/urandom > "$T/tree/d/random"
	seq 1 300000 > "$T/tree/d/numbers"
	images/lazyroot-mkimage --verified --fsid rootfs-v "$T/tree" "$WWW/v" > "$T/out" 2> "$T/mk.err" ||
		{ cat "$T/mk.err" >&2; return 1; }
	read -r _ digest < "$T/out"
	export HEX=${digest#sha256:}
	build/lazyroot-pack --unpack "$WWW/v" "$WWW/v/rootfs-v.manifest" "$T/plain" 2> /dev/null
}

teardown_file() {
	tests/lib/https-server stop "$TLS"
}

setup() {
	rm -rf "$F"
	mkdir -p "$F"
}

teardown() {
	tests/lib/fault-server stop "$F"
	[ -z "${F2:-}" ] || tests/lib/fault-server stop "$F2"
}

# faulty SCHEDULE: starts the fault server with SCHEDULE (printf-style lines); sets URL
faulty() {
	printf "$1" > "$F/schedule"
	tests/lib/fault-server start "$F" "$WWW" "$TLS"
	URL="https://127.0.0.1:$(cat "$F/port")/blob"
}

fired() { tests/lib/fault-server fired "$F" "$1"; }

# fetch [TIMEOUT] URL OFF LEN...: bounded, so a hang fails the test instead of stalling it
fetch() {
	local t=$1
	shift
	timeout 120 "${FETCH_RANGE:-build/fetch-range}" "$TLS/ca.pem" "$t" "$@"
}

# want OFF LEN...: the blob's bytes of those ranges, in order
want() {
	while [ $# -ge 2 ]; do
		tail -c +$(($1 + 1)) "$WWW/blob" | head -c "$2"
		shift 2
	done
}

@test "a range cut off mid-body is asked again from where it stopped, not from byte 0" {
	faulty '2 truncate\n'
	fetch 10 "$URL" 0 1000000 > "$T/got" 2> "$T/err"
	cat "$T/err" "$F/requests.log"
	cmp "$T/got" "$WWW/blob"
	[ "$(fired truncate)" -eq 1 ]
	# the server sent half of 0-999999; the retry asks for the other half
	grep -q '^3 /blob bytes=500000-999999 ok$' "$F/requests.log"
}

@test "several ranges in one answer cut off mid-body: the parts whole by then are kept, only the rest is asked again" {
	faulty '2 truncate match=blob\n'
	set -- 0 4096 100000 100000 300000 200000 900000 4096
	FETCH_RANGE_MULTI=1 FETCH_RANGE_TRACE=1 fetch 10 "$URL" "$@" > "$T/got" 2> "$T/err"
	cat "$T/err"
	want "$@" | cmp - "$T/got"
	[ "$(fired truncate)" -eq 1 ]
	# the cut came in part 3: parts 1 and 2 were told before the retry
	[ "$(grep '^part' "$T/err" | tr '\n' ' ')" = "part 1 part 2 part 3 part 4 " ]
	cat "$F/requests.log"
	[ "$(wc -l < "$F/requests.log")" -eq 3 ]
	sed -n 2p "$F/requests.log" | grep -q ' bytes=0-4095,100000-199999,300000-499999,900000-904095 truncate$'
	# the retry asks from where part 3 stopped, and part 4: nothing twice
	sed -n 3p "$F/requests.log" | grep -Eq ' bytes=3[0-9]{5}-499999,900000-904095 ok$'
	run ! grep -q 'bytes=300000-' <(sed -n 3p "$F/requests.log")
}

@test "a server whose multipart answers are broken: asked one range at a time, then retried with back-off, never in a loop" {
	faulty '+2 bad-multipart match=blob\n'
	run --separate-stderr env FETCH_RANGE_MULTI=1 timeout 60 build/fetch-range "$TLS/ca.pem" 3 "$URL" 0 4096 65536 4096
	echo "$stderr"
	[ "$status" -eq 1 ]
	[ -z "$output" ]
	[ "$(echo "$stderr" | grep -c 'multipart answer: .*asking it one range at a time from now on$')" -eq 1 ]
	echo "$stderr" | grep -q 'gave up after [0-9]* attempts'
	# two ranges, then one at a time with back-off within 3 s: a handful of
	# requests, where asking again at once would make thousands
	n=$(grep -c ' bad-multipart$' "$F/requests.log")
	echo "$n requests answered broken"
	[ "$n" -ge 3 ] && [ "$n" -le 30 ]
	grep ' bad-multipart$' "$F/requests.log" | tail -n 1 | grep -q ' bytes=0-4095 '
}

@test "a stalled transfer is cut off after the stall time and resumed" {
	faulty '2 stall\n'
	FETCH_RANGE_STALL=2 fetch 30 "$URL" 0 1000000 > "$T/got" 2> "$T/err"
	cat "$T/err" "$F/requests.log"
	cmp "$T/got" "$WWW/blob"
	[ "$(fired stall)" -eq 1 ]
	grep -q 'Operation too slow.*retrying for up to' "$T/err"
	grep -q '^3 /blob bytes=500000-999999 ok$' "$F/requests.log"
}

@test "a slow mirror that keeps sending, with ranges queued behind it, outlasts erofs.timeout=" {
	# four slow answers of 250 kB at 100 kB/s fill the four connections for
	# longer than the 2 s limit; four more ranges wait behind them
	faulty '2-5 slow 100000\n'
	fetch 2 "$URL" 0 250000 250000 250000 500000 250000 750000 250000 \
		0 4096 4096 4096 8192 4096 12288 4096 > "$T/got" 2> "$T/err"
	cat "$T/err"
	want 0 1000000 0 16384 | cmp - "$T/got"
	[ "$(fired slow)" -eq 4 ]
	[ ! -s "$T/err" ]
}

@test "a 200 answer to a Range request (a cache on a miss) is retried with back-off, the log says so" {
	faulty '2 ignore-range\n'
	run --separate-stderr fetch 10 "$URL" 4096 8192
	echo "$stderr"
	[ "$status" -eq 0 ]
	[ "$output" = "$(want 4096 8192)" ] || { want 4096 8192 | cmp - <(printf %s "$output"); false; }
	[ "$(fired ignore-range)" -eq 1 ]
	echo "$stderr" | grep -q "$URL bytes 4096-12287: server ignored the Range header (HTTP 200, the whole blob); retrying for up to"
}

@test "an answer for other bytes (a shifted Content-Range) is retried, nothing of it kept" {
	faulty '2 shift 4096\n'
	fetch 10 "$URL" 8192 65536 > "$T/got" 2> "$T/err"
	cat "$T/err"
	want 8192 65536 | cmp - "$T/got"
	[ "$(fired shift)" -eq 1 ]
	grep -q "Content-Range 'bytes 12288-77823/1000000' does not match the requested bytes 8192-73727; retrying" "$T/err"
}

@test "plain image: every fault on a schedule, every byte right, each fault counted" {
	faulty '2 reset\n4 503 1\n6 truncate\n8 ignore-range\n10 shift 1\n12 stall\n14 slow 200000\n16 500\n18 reset\n'
	args=()
	for i in $(seq 0 15); do
		args+=($((i * 62500)) 62500)
	done
	FETCH_RANGE_STALL=2 fetch 30 "$URL" "${args[@]}" > "$T/got" 2> "$T/err"
	cat "$T/err"
	cmp "$T/got" "$WWW/blob"
	tests/lib/fault-server fired "$F"
	[ "$(tests/lib/fault-server fired "$F")" = "$(printf '500 1\n503 1\nignore-range 1\nreset 2\nshift 1\nslow 1\nstall 1\ntruncate 1')" ]
}

@test "every mirror down: with wait the request waits, saying so once, and ends when the server is back" {
	# request 2 starts a 6 s outage in which the port is closed
	faulty '2 outage 6 refuse\n'
	FETCH_RANGE_WAIT=1 fetch 2 "$URL" 0 4096 65536 4096 > "$T/got" 2> "$T/err"
	cat "$T/err"
	want 0 4096 65536 4096 | cmp - "$T/got"
	[ "$(fired outage)" -eq 1 ]
	[ "$(grep -c 'waiting until the server answers' "$T/err")" -eq 1 ]
	grep -q "^lazyrootd: $URL bytes [0-9]*-[0-9]*: no answer for [0-9]*s (.*): waiting until the server answers (reads of the image wait; erofs.onerror=fail gives them an I/O error instead)$" "$T/err"
	[ "$(grep -c "^lazyrootd: $URL answers again after [0-9]*s without one: waiting reads go on$" "$T/err")" -eq 1 ]
}

@test "every mirror down: with wait, connections reset for a while are waited out too" {
	faulty '2 outage 5 reset\n'
	FETCH_RANGE_WAIT=1 fetch 2 "$URL" 0 1000000 > "$T/got" 2> "$T/err"
	cat "$T/err"
	cmp "$T/got" "$WWW/blob"
	[ "$(fired outage)" -eq 1 ]
	[ "$(grep -c 'waiting until the server answers' "$T/err")" -eq 1 ]
}

@test "every mirror down: without wait (erofs.onerror=fail) the request fails after the time limit" {
	faulty '2 outage 30 refuse\n'
	run --separate-stderr fetch 2 "$URL" 0 4096
	echo "$stderr"
	[ "$status" -eq 1 ]
	[ -z "$output" ]
	[ "$(fired outage)" -eq 1 ]
	echo "$stderr" | grep -q "server unreachable for 2s; failing new requests after one attempt"
	echo "$stderr" | grep -q "(gave up after [0-9]* attempts)$"
}

@test "mirrors: every mirror down: wait, saying once each mirror's last error, until one is back" {
	export F2="$T/f2"
	mkdir -p "$F2"
	faulty '2 outage 5 refuse\n'
	printf '1 outage 5 reset\n' > "$F2/schedule"
	tests/lib/fault-server start "$F2" "$WWW" "$TLS"
	url2="https://127.0.0.1:$(cat "$F2/port")/blob"
	FETCH_RANGE_WAIT=1 fetch 1 "$URL,$url2" 0 4096 > "$T/got" 2> "$T/err"
	cat "$T/err"
	want 0 4096 | cmp - "$T/got"
	[ "$(fired outage)" -eq 1 ]
	[ "$(tests/lib/fault-server fired "$F2" outage)" -eq 1 ]
	[ "$(grep -c 'waiting until a mirror answers' "$T/err")" -eq 1 ]
	grep -q "^lazyrootd: $URL bytes 0-4095: no answer for [0-9]*s (.*; mirror $url2: .*): waiting until a mirror answers" "$T/err"
	[ "$(grep -c 'answers again after [0-9]*s without one: waiting reads go on$' "$T/err")" -eq 1 ]
}

@test "a redirect to another host or port is refused, and that server is never asked" {
	faulty "+1 redirect $NGINX\n"
	: > "$TLS/access.log"
	kill -USR1 "$(cat "$TLS/nginx.pid")" # reopen the log
	sleep 0.2
	run --separate-stderr fetch 10 "$URL"
	echo "$stderr"
	[ "$status" -eq 1 ]
	[ -z "$output" ]
	[ "$(fired redirect)" -eq 1 ]
	echo "$stderr" | grep -q "^fetch-range: $URL: HTTP 302 redirect to $NGINX/blob refused: lazyrootd follows no redirects (put the image's own URL or its mirrors in erofs.url=)$"
	! grep -q 'GET /blob' "$TLS/access.log"
}

@test "proxy variables from the environment are not used" {
	faulty ''
	https_proxy=http://127.0.0.1:1 HTTPS_PROXY=http://127.0.0.1:1 ALL_PROXY=http://127.0.0.1:1 \
		all_proxy=http://127.0.0.1:1 fetch 10 "$URL" 0 4096 > "$T/got"
	want 0 4096 | cmp - "$T/got"
	grep -q '^2 /blob bytes=0-4095 ok$' "$F/requests.log"
}

@test "a probe answered with an endless body is cut off at its one byte" {
	faulty '1 endless\n'
	run --separate-stderr fetch 10 "$URL"
	echo "$stderr"
	[ "$status" -eq 1 ]
	[ "$(fired endless)" -eq 1 ]
	echo "$stderr" | grep -q "^fetch-range: $URL: server sent more than the 1 byte of bytes=0-0$"
}

# Verified images: the packs through the fault servers, each chunk checked by
# build/serve-verified against the plain blobs.

@test "verified: a lying mirror plus a flaky honest one: every chunk right, the lies and faults counted" {
	export F2="$T/f2"
	mkdir -p "$F2"
	# the liar flips a byte in every pack answer; the honest one resets,
	# answers 503, cuts bodies short, ignores Range and shifts it
	faulty '+1 flip match=.pack\n'
	printf '1 reset match=.pack\n2 503 1 match=.pack\n3 truncate match=.pack\n4 ignore-range match=.pack\n5 shift 7 match=.pack\n*7 reset match=.pack\n' > "$F2/schedule"
	tests/lib/fault-server start "$F2" "$WWW" "$TLS"
	mirrors="https://127.0.0.1:$(cat "$F/port")/v/,https://127.0.0.1:$(cat "$F2/port")/v/"
	run timeout 300 "${SERVE_VERIFIED:-build/serve-verified}" "$TLS/ca.pem" "$mirrors" rootfs-v "$HEX" "$T/plain" 0
	echo "$output" | grep -v 'completing: Inappropriate ioctl' | tail -n 30
	tests/lib/fault-server fired "$F"
	tests/lib/fault-server fired "$F2"
	[ "$status" -eq 0 ]
	echo "$output" | grep -q '^serve-verified: [0-9]* passed, 0 failed$'
	[ "$(fired flip)" -ge 1 ]
	for f in reset 503 truncate ignore-range shift; do
		[ "$(tests/lib/fault-server fired "$F2" "$f")" -ge 1 ]
	done
	echo "$output" | grep -q "served bad data: trying https://127.0.0.1:$(cat "$F2/port")/v first from now on"
}

@test "verified: a single flaky mirror, cut-off parts resumed: every chunk right" {
	faulty '1 truncate match=.pack\n3 reset match=.pack\n*4 truncate match=.pack\n6 503 1 match=.pack\n'
	run timeout 300 "${SERVE_VERIFIED:-build/serve-verified}" "$TLS/ca.pem" "https://127.0.0.1:$(cat "$F/port")/v/" rootfs-v "$HEX" "$T/plain" 0
	echo "$output" | grep -v 'completing: Inappropriate ioctl' | tail -n 30
	tests/lib/fault-server fired "$F"
	[ "$status" -eq 0 ]
	echo "$output" | grep -q '^serve-verified: [0-9]* passed, 0 failed$'
	[ "$(fired truncate)" -ge 2 ]
	# each truncated part's retry asks only for what was missing
	# (the server sends the first half, rounded down, of a cut-off answer)
	awk '{ split($3, r, /[=-]/) }
		$4 == "truncate" { n++; want[$2 " " r[2] + int((r[3] - r[2] + 1) / 2) "-" r[3]] = 1; next }
		($2 " " r[2] "-" r[3]) in want { delete want[$2 " " r[2] "-" r[3]]; n-- }
		END { exit n != 0 }' "$F/requests.log"
}
