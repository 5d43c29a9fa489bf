#!/usr/bin/env bats
# `make install`: the installed tools work from where they are installed.

bats_require_minimum_version 1.5.0

setup_file() {
	export P="$BATS_FILE_TMPDIR/prefix" D="$BATS_FILE_TMPDIR/dracut-modules"
	make -s install PREFIX="$P" DRACUTMODULESDIR="$D" > /dev/null
}

@test "make install puts the daemon, tools and man pages under PREFIX" {
	[ -x "$P/sbin/lazyrootd" ]
	[ -x "$P/bin/lazyroot-mkinitrd" ]
	[ -x "$P/bin/lazyroot-mkimage" ]
	[ -x "$P/sbin/lazyrootctl" ]
	for m in lazyrootd lazyrootctl lazyroot-mkinitrd lazyroot-mkimage; do
		[ -f "$P/share/man/man8/$m.8" ]
	done
	"$P/sbin/lazyrootd" --version | grep -q '^lazyrootd [0-9]'
	"$P/sbin/lazyrootctl" --version | grep -q '^lazyrootctl [0-9]'
}

@test "lazyrootctl with no daemon running says so in one line" {
	# a network namespace of its own: no lazyrootd listens in it
	unshare -n true 2>/dev/null || skip "cannot make a network namespace here"
	for cmd in record status "status --json" trace; do
		# shellcheck disable=SC2086
		run --separate-stderr unshare -n "$P/sbin/lazyrootctl" $cmd
		[ "$status" -eq 1 ]
		[ "$stderr" = "lazyrootctl: no lazyrootd is running here (nothing listens on @lazyrootd)" ]
		[ -z "$output" ]
	done
	run --separate-stderr "$P/sbin/lazyrootctl" bogus
	[ "$status" -eq 2 ]
	[[ $stderr == "usage: lazyrootctl record [FILE] | status [--json] | trace [FILE] | plot TRACE"* ]]
	run --separate-stderr "$P/sbin/lazyrootctl" status --xml
	[ "$status" -eq 2 ]
}

@test "lazyrootctl plot draws a trace as SVG, and refuses what is not one in one line" {
	T=$BATS_TEST_TMPDIR
	printf 'lazyroot-trace 1\nblob 0 rootfs\nread 1500000 0 0 4096 waited\nfetch 1500100 1900000 0 0 131072 demand ok\nfetch 1600000 2100000 0 131072 262144 ahead ok\nread 2200000 0 131072 4096 stored\n' > "$T/t"
	"$P/sbin/lazyrootctl" plot "$T/t" > "$T/t.svg"
	python3 -c 'import sys, xml.etree.ElementTree as E; r = E.parse(sys.argv[1]).getroot(); assert r.tag == "{http://www.w3.org/2000/svg}svg", r.tag' "$T/t.svg"
	grep -q '>lazyrootd: 2 fetches, 0.4 MiB, at most 2 at once; 2 reads, 1 waited for the network<' "$T/t.svg"
	printf 'lazyroot-trace 1\nblob 0 rootfs\nfetch 9 1 0 0 4096 demand ok\n' > "$T/bad"
	run --separate-stderr "$P/sbin/lazyrootctl" plot "$T/bad"
	[ "$status" -eq 1 ]
	[ "$stderr" = "lazyrootctl: $T/bad: line 3: the fetch ends before it starts" ]
	[ -z "$output" ]
	head -c 40000000 /dev/zero > "$T/big"
	run --separate-stderr "$P/sbin/lazyrootctl" plot "$T/big"
	[ "$status" -eq 1 ]
	[ "$stderr" = "lazyrootctl: $T/big: larger than 32 MiB" ]
	run --separate-stderr "$P/sbin/lazyrootctl" plot "$T/none"
	[ "$status" -eq 1 ]
	[ "$stderr" = "lazyrootctl: $T/none: No such file or directory" ]
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

@test "make install puts the dracut module, whole, where DRACUTMODULESDIR says" {
	m=$D/90lazyroot
	for f in module-setup.sh parse-lazyroot.sh lazyrootroot.sh lazyroot-failed.sh \
		lazyroot-generator.sh lazyrootd-at.sh; do
		[ -x "$m/$f" ]
		[ ! -L "$m/$f" ]
	done
	# the library is a copy, not a link back into the source tree; the busybox /init's
	# companion file is not the module's
	[ ! -L "$m/lazyroot-lib.sh" ]
	cmp "$m/lazyroot-lib.sh" initrd/lazyroot-lib.sh
	[ ! -e "$m/lazyroot-busybox.sh" ]
	# where the daemon went, made from lazyroot-paths.sh.in
	grep -qx "lazyroot_installed_daemon=$P/sbin/lazyrootd" "$m/lazyroot-paths.sh"
}

@test "dracut with the installed module packs the installed daemon" {
	command -v dracut >/dev/null || skip "dracut not installed (scripts/install-deps)"
	base=$BATS_TEST_TMPDIR/base
	. tests/lib/dracut-env.sh
	dracut_base "$base" "$D/90lazyroot"
	openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
		-subj /CN=t -keyout "$BATS_TEST_TMPDIR/k" -out "$BATS_TEST_TMPDIR/ca.pem" 2>/dev/null
	mkdir "$BATS_TEST_TMPDIR/conf.d"
	echo "lazyroot_ca=$BATS_TEST_TMPDIR/ca.pem" > "$BATS_TEST_TMPDIR/conf.d/ca.conf"
	dracutbasedir=$base dracut --force --quiet --no-hostonly --no-kernel \
		--kver "$(uname -r)" --conf /dev/null --confdir "$BATS_TEST_TMPDIR/conf.d" \
		--modules "bash base lazyroot" --omit systemd --no-compress --nostrip "$BATS_TEST_TMPDIR/i.img"
	cmp "$P/sbin/lazyrootd" <(lsinitrd -f usr/sbin/lazyrootd "$BATS_TEST_TMPDIR/i.img")
}

@test "the man pages render without warnings" {
	for m in "$P"/share/man/man8/*.8; do
		run --separate-stderr env MANWIDTH=80 man --warnings -l "$m"
		[ "$status" -eq 0 ]
		[ -z "$stderr" ]
		echo "$output" | grep -q '^SYNOPSIS'
	done
}
