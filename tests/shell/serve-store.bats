#!/usr/bin/env bats
# The disk store (erofs.cache=) under ASan/UBSan, through the daemon's
# request loop: a socket stands in for /dev/cachefiles, nginx serves a
# plain and a verified image. Pages read back are checked (sums, the
# manifest), and the disk's writes and syncs never hold up a READ.

bats_require_minimum_version 1.5.0

setup_file() {
	export ST="$BATS_FILE_TMPDIR/srv" WWW="$BATS_FILE_TMPDIR/www" T="$BATS_FILE_TMPDIR"
	mkdir -p "$WWW/p" "$T/tree" "$T/plain"
	head -c 3000000 /dev/urandom > "$WWW/p/blob" # ends in a partial page
	(cd "$WWW/p" && sha256sum blob > blob.sha256)
	head -c 2000000 /dev/urandom > "$T/tree/random"
	seq 1 200000 > "$T/tree/numbers"
	images/lazyroot-mkimage --verified --fsid rootfs-v "$T/tree" "$WWW/v" > "$T/out" 2> "$T/err" ||
		{ cat "$T/err" >&2; return 1; }
	read -r _ digest < "$T/out"
	export HEX=${digest#sha256:}
	build/lazyroot-pack --unpack "$WWW/v" "$WWW/v/rootfs-v.manifest" "$T/plain" 2> /dev/null
	tests/lib/https-server start "$ST" "$WWW"
}

teardown_file() {
	tests/lib/https-server stop "$ST"
}

url() { echo "https://127.0.0.1:$(cat "$ST/port")/$1/"; }

# store KIND DIR [READS]: serve-store over the plain (p) or verified (v) image
store() {
	local before
	before=$(tests/lib/https-server bytes "$ST")
	if [ "$1" = p ]; then
		run build/serve-store "$ST/ca.pem" "$(url p)" blob blob - "$2" "$WWW/p/blob" ${3:+"$3"}
	else
		# the data device: the largest blob
		tag=$(ls -S "$T/plain" | head -n 1)
		run build/serve-store "$ST/ca.pem" "$(url v)" rootfs-v "$tag" "$HEX" "$2" \
			"$T/plain/$tag" ${3:+"$3"}
	fi
	sent=$(($(tests/lib/https-server bytes "$ST") - before))
	echo "$output" | grep -v 'completing: Inappropriate ioctl' | tail -n 20
	echo "server sent $sent bytes"
}

# flip FILE OFFSET: changes one byte of FILE
flip() {
	local byte
	byte=$(od -An -tu1 -j "$2" -N1 "$1" | tr -d ' ')
	# shellcheck disable=SC2059
	printf "$(printf '\\%03o' $((byte ^ 1)))" | dd of="$1" bs=1 seek="$2" conv=notrunc status=none
}

@test "plain image: pages kept on disk are read back; one changed on the disk is dropped and fetched again" {
	mkdir "$T/sp"
	store p "$T/sp"
	[ "$status" -eq 0 ]
	echo "$output" | grep -q '^serve-store: [0-9]* passed, 0 failed$'
	[ "$sent" -gt 3000000 ]
	store p "$T/sp"
	[ "$status" -eq 0 ]
	echo "$output" | grep -q '^lazyrootd: blob blob: 733 of 733 pages kept on disk from earlier boots$'
	[ "$sent" -lt 4096 ]
	flip "$T/sp/blob.data" 1234567
	store p "$T/sp"
	[ "$status" -eq 0 ]
	echo "$output" | grep -q '^serve-store: [0-9]* passed, 0 failed$'
	[ "$(echo "$output" | grep -c "^lazyrootd: blob blob: bytes 1179648-1245183 kept on disk failed their check (a page's CRC-32C is not the one stored with it): dropped from the store, fetching them again$")" -eq 1 ]
	[ "$sent" -ge 65536 ] && [ "$sent" -lt 1000000 ]
	# fetched again and kept: the next run reads all from the disk
	store p "$T/sp"
	[ "$sent" -lt 4096 ]
	! echo "$output" | grep -q 'kept on disk failed their check'
}

@test "verified image: chunks read back from the disk are checked against the manifest" {
	mkdir "$T/sv"
	store v "$T/sv"
	[ "$status" -eq 0 ]
	echo "$output" | grep -q '^serve-store: [0-9]* passed, 0 failed$'
	store v "$T/sv"
	[ "$status" -eq 0 ]
	[ "$sent" -lt 4096 ]
	data=$(ls "$T"/sv/*.data)
	flip "$data" 1500000
	store v "$T/sv"
	[ "$status" -eq 0 ]
	echo "$output" | grep -q '^serve-store: [0-9]* passed, 0 failed$'
	[ "$(echo "$output" | grep -Ec "^lazyrootd: blob [0-9a-f]{64}: bytes [0-9]+-[0-9]+ kept on disk failed their check \(chunk [0-9]+: its sha256 is not the manifest's\): dropped from the store, fetching them again$")" -eq 1 ]
	[ "$sent" -gt 0 ]
}

@test "a disk that stops taking writes holds up no READ: they are answered, the writes wait" {
	[ "$(id -u)" -eq 0 ] || skip "needs root (a loop device and fsfreeze)"
	truncate -s 64M "$T/fs.img"
	mkfs.ext4 -q -F "$T/fs.img"
	mkdir -p "$T/mnt"
	mount -o loop,noatime "$T/fs.img" "$T/mnt"
	mkdir "$T/mnt/store"
	# the store's files exist: opening it writes nothing
	store p "$T/mnt/store" 1
	[ "$status" -eq 0 ]
	fsfreeze -f "$T/mnt"
	build/serve-store "$ST/ca.pem" "$(url p)" blob blob - "$T/mnt/store" \
		"$WWW/p/blob" 6 > "$T/frozen.out" 2>&1 &
	pid=$!
	# every READ is answered while the disk is frozen; only the close waits
	for _ in $(seq 1 600); do
		grep -q '^serve-store: reads done' "$T/frozen.out" && break
		kill -0 "$pid" 2> /dev/null || break
		sleep 0.2
	done
	done_frozen=0
	grep -q '^serve-store: reads done' "$T/frozen.out" && done_frozen=1
	fsfreeze -u "$T/mnt"
	wait "$pid" || status=$?
	umount "$T/mnt"
	grep -v 'completing: Inappropriate ioctl' "$T/frozen.out" | tail -n 20
	[ "$done_frozen" -eq 1 ]
	grep -q '^serve-store: [0-9]* passed, 0 failed$' "$T/frozen.out"
}

@test "plain image replaced under the same name mid-way: later ranges are refused by If-Range, never mixed in" {
	mkdir -p "$WWW/r" "$T/sr"
	head -c 12000000 /dev/urandom > "$WWW/r/blob"
	touch -d '2020-01-01 00:00:00' "$WWW/r/blob"
	cp "$WWW/r/blob" "$T/old"
	(cd "$WWW/r" && sha256sum blob > blob.sha256)
	rm -f "$T/go"
	SERVE_STORE_GO=$T/go SERVE_STORE_MAY_FAIL=1 build/serve-store "$ST/ca.pem" "$(url r)" blob blob - \
		"$T/sr" "$T/old" > "$T/replaced.out" 2>&1 &
	pid=$!
	for _ in $(seq 1 600); do
		grep -q '^serve-store: paused$' "$T/replaced.out" && break
		sleep 0.1
	done
	# the same size, other bytes, a newer file: nginx's ETag changes
	head -c 12000000 /dev/urandom > "$WWW/r/blob.new"
	touch -d '2021-01-01 00:00:00' "$WWW/r/blob.new"
	mv "$WWW/r/blob.new" "$WWW/r/blob"
	(cd "$WWW/r" && sha256sum blob > blob.sha256)
	touch "$T/go"
	status=0
	wait "$pid" || status=$?
	grep -v 'completing: Inappropriate ioctl' "$T/replaced.out" | tail -n 20
	[ "$status" -eq 0 ]
	grep -q '^serve-store: [0-9]* passed, 0 failed$' "$T/replaced.out"
	grep -Eq '^serve-store: reads done, [1-9][0-9]* failed$' "$T/replaced.out"
	grep 'changed on this mirror' "$T/replaced.out"
	line="lazyrootd: $(url r)blob: the file changed on this mirror since it was first seen"
	line="$line (ETag: \"5e0be100-b71b00\", now ETag: \"5fee6600-b71b00\"): not using it for this image any more"
	[ "$(grep -cxF "$line" "$T/replaced.out")" -eq 1 ]
	# the pages kept are the first file's only
	run build/serve-store "$ST/ca.pem" "$(url r)" blob blob - "$T/sr" "$WWW/r/blob" 1
	echo "$output" | grep -q 'lazyrootd: blob blob: 0 of 2930 pages kept on disk from earlier boots'
}
