#!/usr/bin/env bats
# The daemon's fetch engine (daemon/fetch.c, daemon/http.c) against a real
# nginx on 127.0.0.1, through build/fetch-range.

bats_require_minimum_version 1.5.0

setup_file() {
	export ST="$BATS_FILE_TMPDIR/srv" WWW="$BATS_FILE_TMPDIR/www"
	mkdir -p "$WWW"
	head -c 1000000 /dev/urandom > "$WWW/blob"
	tests/lib/https-server start "$ST" "$WWW"
	export URL="https://127.0.0.1:$(cat "$ST/port")"
}

teardown_file() {
	tests/lib/https-server stop "$ST"
	[ -z "${ST2:-}" ] || tests/lib/https-server stop "$ST2"
}

fetch() { build/fetch-range "$ST/ca.pem" "${TIMEOUT:-10}" "$@"; }

@test "a probe learns the blob size" {
	run fetch "$URL/blob"
	[ "$status" -eq 0 ]
	[ "$output" = 1000000 ]
}

@test "concurrent ranges come back byte for byte" {
	fetch "$URL/blob" 0 4096 4096 65536 999000 1000 12345 777 > "$BATS_TEST_TMPDIR/got"
	{
		dd if="$WWW/blob" bs=1 skip=0 count=4096
		dd if="$WWW/blob" bs=1 skip=4096 count=65536
		dd if="$WWW/blob" bs=1 skip=999000 count=1000
		dd if="$WWW/blob" bs=1 skip=12345 count=777
	} 2>/dev/null > "$BATS_TEST_TMPDIR/want"
	cmp "$BATS_TEST_TMPDIR/got" "$BATS_TEST_TMPDIR/want"
}

# want OFF LEN...: those bytes of the blob, in order
want() {
	while [ $# -ge 2 ]; do
		dd if="$WWW/blob" bs=1 skip="$1" count="$2" status=none
		shift 2
	done
}

@test "several ranges in one request: one multipart answer, each part told as it is whole, byte for byte" {
	: > "$ST/access.log"
	kill -USR1 "$(cat "$ST/nginx.pid")" # reopen the log
	sleep 0.2
	set -- 0 4096 12345 777 70000 65536 999000 1000
	FETCH_RANGE_MULTI=1 FETCH_RANGE_TRACE=1 build/fetch-range "$ST/ca.pem" 10 "$URL/blob" "$@" \
		> "$BATS_TEST_TMPDIR/got" 2> "$BATS_TEST_TMPDIR/err"
	[ "$(tr '\n' ' ' < "$BATS_TEST_TMPDIR/err")" = "part 1 part 2 part 3 part 4 done 1 " ]
	want "$@" | cmp - "$BATS_TEST_TMPDIR/got"
	# the probe, then one request for the four ranges
	[ "$(grep -c 'GET /blob' "$ST/access.log")" -eq 2 ]
	grep -q '	206	bytes=0-4095,12345-13121,70000-135535,999000-999999	' "$ST/access.log"
}

@test "several ranges from a server that answers them with the whole file: one line, then one range at a time" {
	export ST6="$BATS_FILE_TMPDIR/onerange"
	mkdir -p "$ST6"
	cp "$ST/ca.pem" "$ST/ca.key" "$ST6/"
	MAX_RANGES=1 tests/lib/https-server start "$ST6" "$WWW"
	set -- 0 4096 12345 777 999000 1000
	FETCH_RANGE_MULTI=1 build/fetch-range "$ST/ca.pem" 10 "https://127.0.0.1:$(cat "$ST6/port")/blob" "$@" \
		> "$BATS_TEST_TMPDIR/got" 2> "$BATS_TEST_TMPDIR/err"
	tests/lib/https-server stop "$ST6"
	cat "$BATS_TEST_TMPDIR/err"
	want "$@" | cmp - "$BATS_TEST_TMPDIR/got"
	[ "$(grep -c 'server answered 3 ranges with the whole file (HTTP 200): asking it one range at a time from now on$' "$BATS_TEST_TMPDIR/err")" -eq 1 ]
	[ "$(wc -l < "$BATS_TEST_TMPDIR/err")" -eq 1 ]
	grep -q '	200	bytes=0-4095,12345-13121,999000-999999	' "$ST6/access.log"
	for r in 0-4095 12345-13121 999000-999999; do
		grep -q "	206	bytes=$r	" "$ST6/access.log"
	done
}

@test "several ranges that are not in order or overlap are refused without a request" {
	run --separate-stderr env FETCH_RANGE_MULTI=1 build/fetch-range "$ST/ca.pem" 10 "$URL/blob" 8192 10 0 10
	[ "$status" -eq 1 ]
	[ -z "$output" ]
	echo "$stderr" | grep -q 'the ranges are refused'
	run --separate-stderr env FETCH_RANGE_MULTI=1 build/fetch-range "$ST/ca.pem" 10 "$URL/blob" 0 100 50 10
	[ "$status" -eq 1 ]
}

@test "the whole blob as one range" {
	fetch "$URL/blob" 0 1000000 | cmp - "$WWW/blob"
}

@test "connections are kept alive across requests" {
	: > "$ST/access.log"
	kill -USR1 "$(cat "$ST/nginx.pid")" # reopen the log
	sleep 0.2
	fetch "$URL/blob" 0 4096 8192 4096 16384 4096 24576 4096 40960 4096 > /dev/null
	requests=$(grep -c 'GET /blob' "$ST/access.log")
	conns=$(cut -f6 "$ST/access.log" | sort -u | wc -l)
	[ "$requests" -eq 6 ]
	[ "$conns" -lt "$requests" ]
}

@test "a slow range does not hold up the others" {
	export ST3="$BATS_FILE_TMPDIR/slow"
	mkdir -p "$ST3"
	cp "$ST/ca.pem" "$ST/ca.key" "$ST3/"
	LIMIT_RATE=100k tests/lib/https-server start "$ST3" "$WWW"
	# 500 kB at 100 kB/s takes seconds; the 4 KiB ranges asked after it must
	# complete first, on other connections.
	run --separate-stderr env FETCH_RANGE_TRACE=1 build/fetch-range "$ST/ca.pem" 30 \
		"https://127.0.0.1:$(cat "$ST3/port")/blob" 0 500000 600000 4096 700000 4096
	tests/lib/https-server stop "$ST3"
	[ "$status" -eq 0 ]
	order=$(echo "$stderr" | sed -n 's/^done //p' | tr '\n' ' ')
	echo "completion order: $order"
	[ "$order" = "2 3 1 " ] || [ "$order" = "3 2 1 " ]
}

@test "a transfer cut off mid-body is retried; only whole, checked bytes come out" {
	export ST5="$BATS_FILE_TMPDIR/cut"
	mkdir -p "$ST5"
	cp "$ST/ca.pem" "$ST/ca.key" "$ST5/"
	LIMIT_RATE=200k tests/lib/https-server start "$ST5" "$WWW"
	url="https://127.0.0.1:$(cat "$ST5/port")/blob"
	build/fetch-range "$ST/ca.pem" 60 "$url" 0 1000000 > "$BATS_TEST_TMPDIR/got" 2> "$BATS_TEST_TMPDIR/err" &
	pid=$!
	# Wait (bounded) until the probe is done (nginx logs a request when it
	# ends) and a transfer is under way, then cut it: 1 MB at 200 kB/s
	# takes 5 s.
	for _ in $(seq 100); do
		grep -q 'bytes=0-0' "$ST5/access.log" 2>/dev/null && break
		sleep 0.1
	done
	sleep 1
	tests/lib/https-server stop "$ST5"
	LIMIT_RATE= tests/lib/https-server start "$ST5" "$WWW"
	status=0
	wait "$pid" || status=$?
	tests/lib/https-server stop "$ST5"
	cat "$BATS_TEST_TMPDIR/err"
	[ "$status" -eq 0 ]
	grep -q 'retrying for up to' "$BATS_TEST_TMPDIR/err"
	cmp "$BATS_TEST_TMPDIR/got" "$WWW/blob"
}

@test "a server that always ignores Range is retried (a cache may on a miss), then refused, nothing kept" {
	export ST4="$BATS_FILE_TMPDIR/noranges"
	mkdir -p "$ST4"
	cp "$ST/ca.pem" "$ST/ca.key" "$ST4/"
	NO_RANGES=1 tests/lib/https-server start "$ST4" "$WWW"
	run --separate-stderr build/fetch-range "$ST/ca.pem" 3 "https://127.0.0.1:$(cat "$ST4/port")/blob"
	tests/lib/https-server stop "$ST4"
	[ "$status" -eq 1 ]
	[ -z "$output" ]
	echo "$stderr"
	echo "$stderr" | grep -q 'server ignored the Range header (HTTP 200); it must support range requests; retrying for up to'
	echo "$stderr" | grep -q 'server ignored the Range header (HTTP 200); it must support range requests (gave up after [2-9][0-9]* attempts)$'
}

@test "a missing blob fails at once with its URL and 404" {
	run --separate-stderr fetch "$URL/nosuch"
	[ "$status" -eq 1 ]
	[ -z "$output" ]
	echo "$stderr" | grep -q "$URL/nosuch: HTTP 404$"
	[ "$(echo "$stderr" | grep -c 'fetch-range:')" -eq 1 ]
}

@test "a range outside the blob is refused without a request" {
	run --separate-stderr fetch "$URL/blob" 999999 2
	[ "$status" -eq 1 ]
	[ -z "$output" ]
	echo "$stderr" | grep -q 'outside the blob'
}

@test "a certificate from another CA is refused with a TLS reason, not retried" {
	export ST2="$BATS_FILE_TMPDIR/srv2"
	tests/lib/https-server start "$ST2" "$WWW" --wrong-ca
	start=$(date +%s)
	run --separate-stderr build/fetch-range "$ST2/ca.pem" 30 "https://127.0.0.1:$(cat "$ST2/port")/blob"
	[ "$status" -eq 1 ]
	echo "$stderr" | grep -q 'TLS: .*certificate'
	! echo "$stderr" | grep -q 'retrying'
	[ $(($(date +%s) - start)) -lt 10 ]
	tests/lib/https-server stop "$ST2"
}

@test "a server that is gone fails within the time limit" {
	port=$(cat "$ST/port")
	tests/lib/https-server stop "$ST"
	start=$(date +%s)
	TIMEOUT=3 run --separate-stderr fetch "$URL/blob" 0 4096
	elapsed=$(($(date +%s) - start))
	tests/lib/https-server start "$ST" "$WWW"
	[ "$(cat "$ST/port")" = "$port" ]
	[ "$status" -eq 1 ]
	[ -z "$output" ]
	echo "$stderr" | grep -q "gave up after [0-9]* attempts"
	[ "$elapsed" -le 6 ]
}

# Mirrors: erofs.url= may list several base URLs, tried in order.
# 127.0.0.1:1 refuses connections; $URL/nosuch answers 404.

@test "mirrors: a good first mirror is the only one asked" {
	fetch "$URL/blob,https://127.0.0.1:1/blob" 0 4096 \
		> "$BATS_TEST_TMPDIR/got" 2> "$BATS_TEST_TMPDIR/err"
	cmp "$BATS_TEST_TMPDIR/got" <(head -c 4096 "$WWW/blob")
	[ ! -s "$BATS_TEST_TMPDIR/err" ]
}

@test "mirrors: a dead first mirror is skipped once, the next serves every range" {
	fetch "https://127.0.0.1:1/blob,$URL/blob" 0 4096 4096 65536 999000 1000 \
		> "$BATS_TEST_TMPDIR/got" 2> "$BATS_TEST_TMPDIR/err"
	head -c 69632 "$WWW/blob" > "$BATS_TEST_TMPDIR/want"
	tail -c 1000 "$WWW/blob" >> "$BATS_TEST_TMPDIR/want"
	cmp "$BATS_TEST_TMPDIR/got" "$BATS_TEST_TMPDIR/want"
	cat "$BATS_TEST_TMPDIR/err"
	# one switch, announced once; no back-off retries
	[ "$(grep -c 'mirror https://127.0.0.1:1/blob failed (' "$BATS_TEST_TMPDIR/err")" -eq 1 ]
	grep -q "trying $URL/blob\$" "$BATS_TEST_TMPDIR/err"
	! grep -q 'retrying' "$BATS_TEST_TMPDIR/err"
}

@test "mirrors: a 404 on the first mirror falls through to the next" {
	run fetch "$URL/nosuch,$URL/blob"
	[ "$status" -eq 0 ]
	[ "${lines[-1]}" = 1000000 ]
}

@test "mirrors: an optional file the first mirror lacks is not there: no other mirror is asked, none fails" {
	before=$(wc -l < "$ST/access.log")
	FETCH_RANGE_OPTIONAL=1 run --separate-stderr fetch "$URL/nosuch,$URL/blob"
	[ "$status" -eq 1 ]
	echo "$stderr"
	[ "${stderr_lines[-1]}" = "fetch-range: $URL/nosuch: HTTP 404" ]
	! grep -q 'failed (' <<<"$stderr"
	# one request, to the first mirror only
	[ "$(tail -n +$((before + 1)) "$ST/access.log" | wc -l)" -eq 1 ]
	tail -n +$((before + 1)) "$ST/access.log" | grep -q '/nosuch '
}

@test "mirrors: when every mirror refuses, one line gives each one's reason" {
	run --separate-stderr fetch "$URL/nosuch,$URL/gone"
	[ "$status" -eq 1 ]
	echo "$stderr"
	[ "${stderr_lines[-1]}" = "fetch-range: $URL/nosuch: HTTP 404; mirror $URL/gone: HTTP 404 (gave up after 2 attempts)" ]
}

@test "mirrors: unreachable and missing: retried until the time limit, then both reasons" {
	TIMEOUT=3 run --separate-stderr fetch "$URL/nosuch,https://127.0.0.1:1/blob"
	[ "$status" -eq 1 ]
	echo "$stderr"
	[[ ${stderr_lines[-1]} == "fetch-range: $URL/nosuch: HTTP 404; mirror https://127.0.0.1:1/blob: Failed to connect"*" (gave up after "*" attempts)" ]]
	# each mirror's failure is announced once, not every round; the outage once
	[ "$(grep -c 'failed (' <<<"$stderr")" -eq 2 ]
	[ "$(grep -c 'no mirror reachable for 3s' <<<"$stderr")" -eq 1 ]
}

@test "mirrors: a list that is not 1..8 URLs is refused" {
	run --separate-stderr fetch "$URL/blob,,$URL/blob"
	[ "$status" -eq 1 ]
	[[ $stderr == *"not a list of 1..8 URLs"* ]]
}
