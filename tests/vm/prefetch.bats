#!/usr/bin/env bats
# The record round trip in a real kernel: boot, save what boot read with
# lazyrootctl, publish the image with that record, boot again: the second
# boot streams the record first and asks the server fewer times, and every
# file still checks out. A bad prefetch list costs one warning, not the boot.

bats_require_minimum_version 1.5.0

setup_file() {
	. tests/lib/vm-env.sh
	export LAZYROOT_CTL=${LAZYROOT_CTL:-build/static/lazyrootctl}
	[ -x "$LAZYROOT_CTL" ] || {
		echo "$LAZYROOT_CTL missing: run make static" >&2
		return 1
	}
	vm_env_setup "$BATS_FILE_TMPDIR" 8
}

teardown_file() {
	tests/lib/https-server stop "$W/srv"
}

setup() {
	. tests/lib/vm-env.sh
}

# vboot NAME PATTERN KERNEL-ARGS...: sets log, qemu_status and requests
# (requests the server answered whose line matches PATTERN during this boot)
vboot() {
	local before
	log="$W/$1.log"
	before=$(grep -c "$2" "$W/srv/access.log" || :)
	run vm_boot "$1" 120 "${@:3}"
	qemu_status=$status
	requests=$(($(grep -c "$2" "$W/srv/access.log" || :) - before))
	echo "$1: $requests requests"
	grep -v '^\[' "$log" | grep -v '^LAZYROOT-RECORD' | tail -n 30
}

# boot NAME KERNEL-ARGS...: the plain image rootfs-test
boot() {
	vboot "$1" rootfs-test erofs.fsid=rootfs-test erofs.url="$(vm_url "$PORT")" "${@:2}"
}

# check_status ACCESS-LOG: the status the cold boot printed last against the
# server's own count of this boot's requests (ACCESS-LOG: tab-separated, request,
# status, Range, body bytes)
check_status() {
	observed "$log" LAZYROOT-STATUS > "$W/status.txt"
	observed "$log" LAZYROOT-JSON > "$W/status.json"
	cat "$W/status.txt"
	grep -qx 'front end:  cachefiles (/dev/cachefiles)' "$W/status.txt"
	grep -qx 'blob rootfs-test: .*' "$W/status.txt"
	grep -Eqx "mirror https://10.0.2.2:$PORT/img: up; [0-9]+ requests, .*" "$W/status.txt"
	# the server's count: every request, and the blob's own (its probe and ranges)
	all=$(wc -l < "$1")
	blob_requests=$(awk -F '\t' '$1 ~ /^GET \/img\/rootfs-test HTTP/' "$1" | wc -l)
	blob_bytes=$(awk -F '\t' '$1 ~ /^GET \/img\/rootfs-test HTTP/ { s += $4 } END { printf "%d", s }' "$1")
	echo "server: $all requests, $blob_requests for the blob, $blob_bytes body bytes"
	python3 - "$W/status.json" "$all" "$blob_requests" "$blob_bytes" <<'PY'
import json, sys
st = json.load(open(sys.argv[1]))
want_all, want_req, want_bytes = map(int, sys.argv[2:5])
b = [b for b in st["blobs"] if b["name"] == "rootfs-test"]
assert len(b) == 1, st["blobs"]
b = b[0]
print("status: %d requests, %d for the blob, %d bytes fetched" %
      (st["network"]["requests"], b["requests"], b["bytes_fetched"]))
assert st["frontend"] == {"kind": "cachefiles", "devices": ["/dev/cachefiles"]}, st["frontend"]
assert st["network"]["requests"] == want_all and st["network"]["failures"] == 0, (st["network"], want_all)
assert b["requests"] == want_req, (b, want_req)
assert b["bytes_fetched"] == want_bytes, (b, want_bytes)
assert b["failures"] == 0 and b["errors"] == 0 and b["verification_failures"] == 0, b
assert b["reads"] > 0 and b["bytes_to_kernel"] >= b["bytes_fetched"] - b["requests"], b
assert b["store"] is None and st["cache"] == {"ram": None, "disk": None}, st["cache"]
assert [m["state"] for m in st["mirrors"]] == ["up"], st["mirrors"]
PY
}

# check_picture: the cold boot's trace drawn, well-formed SVG; its fetches are
# the server's ranges of the blob
check_picture() {
	observed "$log" LAZYROOT-TRACE > "$W/boot.trace"
	head -n 3 "$W/boot.trace"
	[ "$(head -n 1 "$W/boot.trace")" = "lazyroot-trace 1" ]
	grep -q '^read [0-9]* 0 0 4096 waited$' "$W/boot.trace"
	traced=$(awk '$1 == "fetch" && $8 == "ok" { s += $6 } END { printf "%d", s }' "$W/boot.trace")
	ranges=$(awk -F '\t' '$1 ~ /^GET \/img\/rootfs-test HTTP/ && $3 != "bytes=0-0" { s += $4 } END { printf "%d", s }' "$W/cold.access")
	echo "trace: $traced bytes in fetches, the server sent $ranges in ranges"
	[ "$traced" -eq "$ranges" ]
	build/lazyrootctl plot "$W/boot.trace" > "$W/boot.svg"
	python3 -c 'import sys, xml.etree.ElementTree as E; r = E.parse(sys.argv[1]).getroot(); assert r.tag == "{http://www.w3.org/2000/svg}svg", r.tag; print("svg:", len(list(r.iter())), "elements")' "$W/boot.svg"
	# LAZYROOT_KEEP_PICTURE=DIR: keep them, and the status, for docs/
	[ -z "${LAZYROOT_KEEP_PICTURE:-}" ] ||
		cp "$W/boot.trace" "$W/boot.svg" "$W/status.txt" "$W/status.json" "$LAZYROOT_KEEP_PICTURE/"
}

# the record printed by lazyroot.test=record
record_of() {
	sed -n 's/^LAZYROOT-RECORD: //p' "$1"
}

# the lines printed with PREFIX (LAZYROOT-TRACE, -STATUS, -JSON) by lazyroot.observe=1
observed() {
	sed -n "s/^$2: //p" "$1" | tr -d '\r'
}

@test "record, publish with it, boot again: fewer requests, the same files" {
	# the server's log from here on is this boot's (flushed: https-server log)
	first=$(($(tests/lib/https-server log "$W/srv" | wc -l) + 1))
	boot cold lazyroot.test=record lazyroot.observe=1
	[ "$qemu_status" -eq 0 ]
	tests/lib/https-server log "$W/srv" | tail -n "+$first" | grep -v '^PRI ' > "$W/cold.access"
	check_status "$W/cold.access"
	check_picture
	grep -q '^LAZYROOT-TEST: sha256 ok (10 files)' "$log"
	grep -q '^LAZYROOT-TEST: record saved' "$log"
	cold=$requests
	echo "$cold" > "$W/cold.requests"
	# no list published: no prefetch, and not a word about it
	! grep -q 'prefetch' "$log"
	record_of "$log" > "$W/boot.record"
	head -n 2 "$W/boot.record"
	[ "$(head -n 1 "$W/boot.record")" = "lazyroot-prefetch 1" ]
	grep -q '^rootfs-test 0 4096 ' "$W/boot.record"

	images/lazyroot-mkimage --fsid rootfs-test --prefetch "$W/boot.record" \
		"$W/rootfs" "$W/www/img" 2> "$W/mkimage-pf.log"
	cat "$W/mkimage-pf.log"
	grep -q 'already there with the same content' "$W/mkimage-pf.log"
	cmp "$W/boot.record" "$W/www/img/rootfs-test.prefetch"

	boot warm lazyroot.test=record
	[ "$qemu_status" -eq 0 ]
	grep -q '^LAZYROOT-TEST: sha256 ok (10 files)' "$log"
	grep -Eq 'lazyrootd: prefetch list .*rootfs-test.prefetch: [1-9][0-9]* ranges' "$log"
	grep -Eq 'lazyrootd: prefetch: [0-9]+ jobs' "$log"
	echo "cold $cold requests, with the record $requests"
	[ "$requests" -lt "$cold" ]
	! grep -q 'prefetch stops' "$log"
}

@test "erofs.prefetch=off: the list is not even fetched" {
	[ -f "$W/www/img/rootfs-test.prefetch" ] || skip "needs the record of the previous test"
	before=$(grep -c 'rootfs-test.prefetch' "$W/srv/access.log" || :)
	boot off erofs.prefetch=off
	[ "$qemu_status" -eq 0 ]
	grep -q '^LAZYROOT-TEST: sha256 ok (10 files)' "$log"
	[ "$(grep -c 'rootfs-test.prefetch' "$W/srv/access.log")" -eq "$before" ]
}

@test "NBD: the record streams into the RAM cache, and the kernel's reads are answered from it" {
	[ -f "$W/boot.record" ] || skip "needs the record of the first test"
	cp "$W/boot.record" "$W/www/img/rootfs-test.prefetch"
	first=$(($(tests/lib/https-server log "$W/srv" | wc -l) + 1))
	boot nbd erofs.backend=nbd lazyroot.observe=1
	[ "$qemu_status" -eq 0 ]
	grep -q '^lazyroot: starting lazyrootd (backend nbd)$' "$log"
	grep -q '^LAZYROOT-TEST: sha256 ok (10 files)' "$log"
	grep -Eq 'lazyrootd: prefetch: [1-9][0-9]* jobs' "$log"
	grep -Eq 'lazyrootd: stats: RAM cache [0-9]+ of [0-9]+ KiB held, reads answered from it [1-9][0-9]* ' "$log"
	# the status over NBD: its front end and device, the RAM cache in use, and
	# the requests the server counted for this boot
	tests/lib/https-server log "$W/srv" | tail -n "+$first" | grep -v '^PRI ' > "$W/nbd.access"
	observed "$log" LAZYROOT-STATUS > "$W/nbd-status.txt"
	observed "$log" LAZYROOT-JSON > "$W/nbd-status.json"
	cat "$W/nbd-status.txt"
	grep -qx 'front end:  nbd (/dev/nbd0)' "$W/nbd-status.txt"
	python3 - "$W/nbd-status.json" "$(wc -l < "$W/nbd.access")" <<'PY'
import json, sys
st = json.load(open(sys.argv[1]))
assert st["frontend"] == {"kind": "nbd", "devices": ["/dev/nbd0"]}, st["frontend"]
assert st["network"]["requests"] == int(sys.argv[2]), (st["network"], sys.argv[2])
ram = st["cache"]["ram"]
assert ram is not None and 0 < ram["used"] <= ram["limit"], st["cache"]
b = [b for b in st["blobs"] if b["name"] == "rootfs-test"]
assert len(b) == 1 and b[0]["held"] > 0 and b[0]["errors"] == 0, st["blobs"]
print("status over NBD: %d requests, RAM cache %d of %d bytes" % (st["network"]["requests"], ram["used"], ram["limit"]))
PY
	echo "cold $(cat "$W/cold.requests") requests (fscache), NBD with the record $requests"
	[ "$requests" -lt "$(cat "$W/cold.requests")" ]
}

@test "verified: record a boot, publish with the record (manifest version 2), boot again: fewer requests" {
	images/lazyroot-mkimage --verified --fsid rootfs-v "$W/rootfs" "$W/www/vimg" > "$W/v.out" 2> "$W/v.err" ||
		{ cat "$W/v.err"; return 1; }
	read -r _ digest < "$W/v.out"
	vurl="https://10.0.2.2:$PORT/vimg/"
	vboot vcold /vimg/ erofs.fsid=rootfs-v erofs.digest="$digest" erofs.url="$vurl" lazyroot.test=record
	[ "$qemu_status" -eq 0 ]
	grep -q '^LAZYROOT-TEST: sha256 ok (10 files)' "$log"
	cold=$requests
	record_of "$log" > "$W/v.record"
	grep -q '^rootfs-v 0 ' "$W/v.record"
	images/lazyroot-mkimage --verified --fsid rootfs-vp --previous "$W/www/vimg" \
		--prefetch "$W/v.record" "$W/rootfs" "$W/www/vimg" > "$W/vp.out" 2> "$W/vp.err" ||
		{ cat "$W/vp.err"; return 1; }
	grep 'prefetch table' "$W/vp.err"
	read -r _ vpdigest < "$W/vp.out"
	vboot vwarm /vimg/ erofs.fsid=rootfs-vp erofs.digest="$vpdigest" erofs.url="$vurl" lazyroot.test=record
	[ "$qemu_status" -eq 0 ]
	grep -q '^LAZYROOT-TEST: sha256 ok (10 files)' "$log"
	grep -Eq 'lazyrootd: prefetch list rootfs-vp.manifest: [1-9][0-9]* ranges' "$log"
	grep -Eq 'lazyrootd: stats: chunks verified [1-9][0-9]*, failed verification 0$' "$log"
	echo "verified: cold $cold requests, with the record $requests"
	[ "$requests" -lt "$cold" ]
}

# bad_list NAME WHY: boots with $W/www/img/rootfs-test.prefetch as it is now;
# one warning, naming the list and saying WHY; the boot goes on
bad_list() {
	list_requests=$(wc -l < "$W/srv/access.log")
	boot "$1"
	[ "$qemu_status" -eq 0 ]
	grep -q '^LAZYROOT-TEST: sha256 ok (10 files)' "$log"
	grep -q '^LAZYROOT-TEST: done' "$log"
	grep -q "lazyrootd: prefetch list https://10.0.2.2:$PORT/img/rootfs-test.prefetch: $2" "$log"
	[ "$(grep -c 'lazyrootd: prefetch.*\(booting without it\|lie past\|prefetch stops\)' "$log")" -eq 1 ]
}

@test "a prefetch list that is garbage: one warning, the boot goes on" {
	printf '\177ELF\002\001\001\000\000garbage\nmore\n' > "$W/www/img/rootfs-test.prefetch"
	bad_list garbage "line 1: not a prefetch list: the first line is not 'lazyroot-prefetch 1'; booting without it"
}

@test "a prefetch list cut short: one warning, the boot goes on" {
	printf 'lazyroot-prefetch 1\nrootfs-test 0 4096 1\nrootfs-test 8192 40' \
		> "$W/www/img/rootfs-test.prefetch"
	bad_list truncated 'line 3: the last line has no newline (cut short?); booting without it'
	! grep -q 'lazyrootd: prefetch: [0-9]* jobs' "$log"
}

@test "a prefetch list past the blob's end: one warning, what lies inside is fetched" {
	size=$(stat -c %s "$IMAGE")
	printf 'lazyroot-prefetch 1\nrootfs-test 0 8192 1\nrootfs-test %s 4096 2\nrootfs-test 1099511627776 4096 3\n' \
		$(((size + 4095) / 4096 * 4096)) > "$W/www/img/rootfs-test.prefetch"
	bad_list past "2 ranges of blob rootfs-test lie past its $(stat -c %s "$IMAGE") bytes; they are cut at its end or left out"
	# the one range inside: fetched, in part or whole, or skipped if the
	# kernel read it before the list came
	grep -Eq 'lazyrootd: prefetch: (1 jobs \((4|8) KiB\) in 1 batches|0 jobs \(0 KiB\) in 0 batches) and [0-9]+ ms, [01] skipped as already read' "$log"
}

@test "an enormous prefetch list: refused by its size, the boot goes on" {
	{
		echo 'lazyroot-prefetch 1'
		yes '# padding padding padding padding padding padding padding' | head -n 200000
	} > "$W/www/img/rootfs-test.prefetch"
	[ "$(stat -c %s "$W/www/img/rootfs-test.prefetch")" -gt 8388608 ]
	bad_list enormous 'too large or too small; booting without it'
	# only its size was asked: the body was never fetched
	tail -n +$((list_requests + 1)) "$W/srv/access.log" | grep 'rootfs-test.prefetch'
	! tail -n +$((list_requests + 1)) "$W/srv/access.log" |
		awk -F '\t' '$1 ~ /rootfs-test.prefetch/ && $4 > 1000' | grep -q .
}
