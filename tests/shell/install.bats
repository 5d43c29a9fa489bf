#!/usr/bin/env bats
# `make install`: the installed tools work from where they are installed.

bats_require_minimum_version 1.5.0

setup_file() {
	export P="$BATS_FILE_TMPDIR/prefix"
	make -s install PREFIX="$P" > /dev/null
}

@test "make install puts the daemon, tools and man pages under PREFIX" {
	[ -x "$P/sbin/lazyrootd" ]
	[ -x "$P/bin/lazyroot-mkinitrd" ]
	[ -x "$P/bin/lazyroot-mkimage" ]
	for m in lazyrootd lazyroot-mkinitrd lazyroot-mkimage; do
		[ -f "$P/share/man/man8/$m.8" ]
	done
	"$P/sbin/lazyrootd" --version | grep -q '^lazyrootd [0-9]'
}

@test "the installed lazyroot-mkinitrd packs the installed daemon" {
	openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
		-subj /CN=t -keyout "$BATS_TEST_TMPDIR/k" -out "$BATS_TEST_TMPDIR/ca.pem" 2>/dev/null
	cd "$BATS_TEST_TMPDIR"
	"$P/bin/lazyroot-mkinitrd" --output initrd.img --ca ca.pem
	mkdir x && (cd x && zcat ../initrd.img | cpio -id --quiet)
	cmp x/sbin/lazyrootd "$P/sbin/lazyrootd"
	cmp x/init "$P/lib/lazyroot/initrd/init"
	cmp x/etc/lazyroot/ca.pem ca.pem
}

@test "the man pages render without warnings" {
	for m in "$P"/share/man/man8/*.8; do
		run --separate-stderr env MANWIDTH=80 man --warnings -l "$m"
		[ "$status" -eq 0 ]
		[ -z "$stderr" ]
		echo "$output" | grep -q '^SYNOPSIS'
	done
}
