#!/usr/bin/env bats
# The static lazyrootd of `make static` (docs/static.md): one file with no
# loader and no NSS modules, that speaks TLS to the test nginx, checks the
# server by an IP-address SAN or a host name from /etc/hosts, and verifies
# digest-pinned and signed (EC and RSA) manifests. No /dev/cachefiles is
# needed: the daemon does all of this before it binds the cache.

# shellcheck disable=SC2154 # run --separate-stderr sets stderr, stderr_lines
bats_require_minimum_version 1.5.0

D=build/static/lazyrootd

setup_file() {
	[ -x "$D" ] || return 0
	[ -x build/lazyroot-pack ] || return 0
	export ST="$BATS_FILE_TMPDIR/srv" WWW="$BATS_FILE_TMPDIR/www" T="$BATS_FILE_TMPDIR"
	mkdir -p "$WWW" "$T/tree"
	seq 1 100000 > "$T/tree/numbers"
	head -c 300000 /dev/urandom > "$T/tree/random"
	: > "$T/cmdline"
	for alg in ec rsa; do
		case $alg in
		ec) opt=ec_paramgen_curve:P-256 ;;
		rsa) opt=rsa_keygen_bits:2048 ;;
		esac
		openssl genpkey -algorithm "$alg" -pkeyopt "$opt" -out "$T/$alg.pem" 2> /dev/null
		openssl pkey -in "$T/$alg.pem" -pubout -out "$T/$alg-pub.pem"
		images/lazyroot-mkimage --verified --sign "$T/$alg.pem" --fsid "root-$alg" \
			"$T/tree" "$WWW/$alg" > "$T/$alg.out" 2> "$T/err" ||
			{ cat "$T/err" >&2; return 1; }
	done
	tests/lib/https-server start "$ST" "$WWW"
}

teardown_file() {
	[ -z "${ST:-}" ] || tests/lib/https-server stop "$ST"
}

setup() {
	[ -x "$D" ] || skip "$D is not built: run make static"
}

needs_server() {
	[ -n "${ST:-}" ] || skip "build/lazyroot-pack is not built: run make"
}

# daemon ALG HOST OPTION...: the static daemon loading ALG's manifest from
# HOST; with no /dev/cachefiles to bind (--backend fscache) it stops right after.
daemon() {
	local alg=$1 host=$2

	shift 2
	run --separate-stderr "$D" --backend fscache --cache-dir "$T/no-cache" --cmdline "$T/cmdline" \
		--url "https://$host:$(cat "$ST/port")/$alg/" --fsid "root-$alg" \
		--timeout 5 "$@"
}

@test "file says it is statically linked, stripped or not" {
	file -L "$D" | grep -q 'statically linked'
	[[ $(file -L "$D") != *interpreter* ]]
	[ ! -e "$D.stripped" ] || file -L "$D.stripped" | grep -q 'statically linked'
}

@test "the stripped daemon is at most 1.5 MiB" {
	[ -e "$D.stripped" ] || skip "$D.stripped is not built: run make static"
	size=$(stat -c %s "$D.stripped")
	echo "stripped: $size bytes"
	[ "$size" -le $((1536 * 1024)) ]
}

@test "--version and --help" {
	run --separate-stderr "$D" --version
	[ "$status" -eq 0 ]
	[[ $output =~ ^lazyrootd\ [0-9]+\.[0-9]+\.[0-9]+$ ]]
	run --separate-stderr "$D" --help
	[ "$status" -eq 0 ]
	[[ ${lines[0]} == 'usage: lazyrootd --cache-dir DIR [options]' ]]
	echo "$output" | grep -q -- '--key FILE'
}

@test "https://127.0.0.1: the certificate's IP SAN is checked; digest and EC signature hold" {
	needs_server
	read -r _ digest < "$T/ec.out"
	daemon ec 127.0.0.1 --ca "$ST/ca.pem" --digest "$digest" --key "$T/ec-pub.pem"
	echo "$stderr"
	[[ ${stderr_lines[0]} == "lazyrootd: manifest of fsid root-ec: "*", sha256 matches erofs.digest, signed by the image key" ]]
	# it got as far as the kernel's cache
	[ "$status" -eq 1 ]
	[[ ${stderr_lines[1]} == "lazyrootd: /dev/cachefiles: "* ]]
}

@test "an RSA image key; a manifest signed by another key is refused" {
	needs_server
	daemon rsa 127.0.0.1 --ca "$ST/ca.pem" --key "$T/rsa-pub.pem"
	echo "$stderr"
	[[ ${stderr_lines[0]} == "lazyrootd: manifest of fsid root-rsa: "*", signed by the image key" ]]
	daemon rsa 127.0.0.1 --ca "$ST/ca.pem" --key "$T/ec-pub.pem"
	echo "$stderr"
	[ "$status" -eq 1 ]
	echo "$stderr" | grep -q "rsa/root-rsa.manifest: not signed by $T/ec-pub.pem ("
	echo "$stderr" | grep -q "^lazyrootd: cannot load the manifest of fsid root-rsa: "
}

@test "a host name from /etc/hosts resolves without NSS and matches the DNS SAN" {
	needs_server
	getent ahostsv4 localhost | grep -q '^127\.0\.0\.1 ' || skip "localhost is not 127.0.0.1 in /etc/hosts"
	daemon ec localhost --ca "$ST/ca.pem" --key "$T/ec-pub.pem"
	echo "$stderr"
	echo "$stderr" | grep -Eq '^lazyrootd: localhost resolves to ([^ ]*,)?127\.0\.0\.1[, ]'
	echo "$stderr" | grep -q '^lazyrootd: manifest of fsid root-ec: .*signed by the image key$'
}

@test "with /dev empty, as after switch_root, TLS still seeds its random generator" {
	needs_server
	[ "$(id -u)" -eq 0 ] && command -v unshare > /dev/null ||
		skip "needs root and unshare for a mount namespace"
	# an empty /dev in a mount namespace of its own: no /dev/urandom
	run --separate-stderr unshare --mount sh -c 'mount -t tmpfs none /dev && exec "$@"' \
		sh "$D" --cache-dir "$T/no-cache" --cmdline "$T/cmdline" \
		--url "https://127.0.0.1:$(cat "$ST/port")/ec/" --fsid root-ec \
		--timeout 5 --ca "$ST/ca.pem" --key "$T/ec-pub.pem"
	echo "$stderr"
	[[ ${stderr_lines[0]} == "lazyrootd: manifest of fsid root-ec: "*", signed by the image key" ]]
}

@test "a server certificate from another CA is refused" {
	needs_server
	daemon ec 127.0.0.1 --ca "$ST/wrong-ca.pem" --key "$T/ec-pub.pem"
	echo "$stderr"
	[ "$status" -eq 1 ]
	echo "$stderr" | grep -q "ec/root-ec.manifest: TLS: mbedTLS: The certificate is not correctly signed by the trusted CA"
}
