#!/usr/bin/env bats
# lazyrootd's start-up: every bad input is one line naming it, with a
# distinct exit status; with stderr going nowhere the line reaches the
# kernel log.

bats_require_minimum_version 1.5.0

D=daemon/lazyrootd

setup() {
	printf 'quiet erofs.url=https://10.0.2.2:8443/img/\n' > "$BATS_TEST_TMPDIR/cmdline"
	openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
		-subj /CN=t -keyout "$BATS_TEST_TMPDIR/k" -out "$BATS_TEST_TMPDIR/ca.pem" 2>/dev/null
}

# one_line STATUS PATTERN: the run failed with STATUS and said one line
one_line() {
	[ "$status" -eq "$1" ]
	[ -z "$output" ]
	[ "$(printf '%s\n' "$stderr" | wc -l)" -eq 1 ]
	printf '%s\n' "$stderr" | grep -q -- "$2"
}

@test "no URL anywhere" {
	echo quiet > "$BATS_TEST_TMPDIR/cmdline"
	run --separate-stderr $D --cache-dir /c --cmdline "$BATS_TEST_TMPDIR/cmdline"
	one_line 2 '^lazyrootd: no image URL: give erofs.url= on the kernel command line or --url$'
}

@test "plain http is refused" {
	run --separate-stderr $D --cache-dir /c --url http://10.0.2.2/img/ --cmdline "$BATS_TEST_TMPDIR/cmdline"
	one_line 2 'erofs.url=http://10.0.2.2/img/: only https:// URLs are supported'
}

@test "a bad erofs.timeout= on the command line" {
	echo 'erofs.url=https://h/ erofs.timeout=5m' > "$BATS_TEST_TMPDIR/cmdline"
	run --separate-stderr $D --cache-dir /c --cmdline "$BATS_TEST_TMPDIR/cmdline"
	one_line 2 'erofs.timeout= on the kernel command line is not a number of seconds'
}

@test "a bad erofs.onerror= on the command line: the line lr_parse_root gives too" {
	echo 'erofs.url=https://h/ erofs.onerror=soft' > "$BATS_TEST_TMPDIR/cmdline"
	run --separate-stderr $D --cache-dir /c --cmdline "$BATS_TEST_TMPDIR/cmdline"
	one_line 2 '^lazyrootd: erofs.onerror=soft: expected wait or fail$'
}

@test "an unreadable kernel command line" {
	run --separate-stderr $D --cache-dir /c --cmdline /nonexistent
	one_line 2 '^lazyrootd: kernel command line /nonexistent: No such file or directory$'
}

@test "a CA file that is missing or holds no certificate" {
	run --separate-stderr $D --cache-dir /c --cmdline "$BATS_TEST_TMPDIR/cmdline" --ca /nonexistent.pem
	one_line 2 '^lazyrootd: CA bundle /nonexistent.pem: No such file or directory$'
	echo junk > "$BATS_TEST_TMPDIR/junk.pem"
	run --separate-stderr $D --cache-dir /c --cmdline "$BATS_TEST_TMPDIR/cmdline" --ca "$BATS_TEST_TMPDIR/junk.pem"
	one_line 2 'junk.pem: no PEM certificate in it$'
}

@test "an unknown option" {
	run --separate-stderr $D --insecure
	one_line 2 "unknown or incomplete option '--insecure'"
}

@test "a host name that does not resolve" {
	run --separate-stderr $D --cache-dir /c --cmdline "$BATS_TEST_TMPDIR/cmdline" \
		--ca "$BATS_TEST_TMPDIR/ca.pem" --url https://no-such-host.invalid/img/
	one_line 1 'cannot resolve no-such-host.invalid'
}

@test "with stderr going nowhere, the error line reaches the kernel log" {
	[ -w /dev/kmsg ] || skip "needs root to write /dev/kmsg"
	marker="nonexistent-$$-$RANDOM"
	run sh -c "$D --cache-dir /c --cmdline /$marker 2>/dev/null"
	[ "$status" -eq 2 ]
	[ -z "$output" ]
	dmesg | grep -q "lazyrootd: kernel command line /$marker: No such file or directory"
}
