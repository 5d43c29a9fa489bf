#!/usr/bin/env bats
# The daemon's request loop (daemon/serve.c) under ASan/UBSan, with a
# socket standing in for /dev/cachefiles and a real nginx behind it.

setup_file() {
	export ST="$BATS_FILE_TMPDIR/srv" WWW="$BATS_FILE_TMPDIR/www"
	mkdir -p "$WWW"
	head -c 1000000 /dev/urandom > "$WWW/blob" # ends in a partial page
	tests/lib/https-server start "$ST" "$WWW"
}

teardown_file() {
	tests/lib/https-server stop "$ST"
}

@test "OPEN, READ (aligned, unaligned, last page, sequential, bad), CLOSE, 404, bad names" {
	run build/serve-harness "$ST/ca.pem" "https://127.0.0.1:$(cat "$ST/port")/" "$WWW/blob"
	echo "$output" | grep -v 'completing: Inappropriate ioctl' | tail -n 30
	[ "$status" -eq 0 ]
	echo "$output" | grep -q '^serve-harness: [0-9]* passed, 0 failed$'
}
