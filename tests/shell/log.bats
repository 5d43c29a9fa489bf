#!/usr/bin/env bats
# lazyrootd's lines in the kernel log: the kernel keeps at most 10 lines per
# 5 s from one open /dev/kmsg and drops the rest without a word; the
# daemon's lines must all be there.

bats_require_minimum_version 1.5.0

setup() {
	[ -w /dev/kmsg ] && dmesg >/dev/null 2>&1 || skip "needs root: /dev/kmsg and dmesg"
	tag="t$$-$RANDOM"
}

@test "log: a burst of 60 lines into the kernel log keeps every line" {
	build/log-burst "$tag" 60 2>/dev/null
	[ "$(dmesg | grep -c "lazyrootd: burst $tag ")" -eq 60 ]
	run ! grep -q 'output lines suppressed' <(dmesg | grep -F "$tag")
}

@test "log: past 100 lines within 5 s the daemon leaves lines out itself, and says how many" {
	build/log-burst "$tag" 130 6 2>/dev/null
	[ "$(dmesg | grep -c "lazyrootd: burst $tag [0-9]*$")" -eq 100 ]
	run ! grep -q "lazyrootd: burst $tag 100$" <(dmesg)
	# the next line, in a new window, comes after the count of those left out
	dmesg | grep -A1 'lazyrootd: 30 lines left out (more than 100 within 5 s)$' |
		grep -q "lazyrootd: burst $tag end$"
}
