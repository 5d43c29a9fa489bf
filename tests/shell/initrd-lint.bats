#!/usr/bin/env bats
# The initramfs scripts are POSIX sh that busybox ash must parse; shellcheck when installed.

bats_require_minimum_version 1.5.0

setup() {
	I=$BATS_TEST_DIRNAME/../../initrd
}

@test "busybox sh and dash parse every initramfs script" {
	for f in init lazyroot-busybox.sh lazyroot-lib.sh udhcpc.script lazyroot-mkinitrd; do
		busybox sh -n "$I/$f" || { echo "busybox sh: $f"; return 1; }
		if command -v dash >/dev/null; then
			dash -n "$I/$f" || { echo "dash: $f"; return 1; }
		fi
	done
}

@test "the scripts are executable with a /bin/sh shebang" {
	for f in init udhcpc.script lazyroot-mkinitrd; do
		[ -x "$I/$f" ] || { echo "$f not executable"; return 1; }
		[ "$(head -n 1 "$I/$f")" = '#!/bin/sh' ] || { echo "$f shebang"; return 1; }
	done
}

@test "shellcheck finds no warnings" {
	command -v shellcheck >/dev/null || skip "shellcheck not installed"
	cd "$I"
	run shellcheck -x -s sh -S warning init lazyroot-busybox.sh lazyroot-lib.sh udhcpc.script \
		lazyroot-mkinitrd lazyroot-mkinitrd.in ../images/lazyroot-mkimage.in
	[ "$status" -eq 0 ] || { echo "$output"; return 1; }
}
