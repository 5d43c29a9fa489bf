#!/usr/bin/env bats
# initrd/lazyroot-mkinitrd: what goes into the archive, its failures, reproducibility.
# The daemon stand-in is /usr/bin/curl: dynamically linked against libcurl and OpenSSL, like
# lazyrootd.

bats_require_minimum_version 1.5.0

MK=$BATS_TEST_DIRNAME/../../initrd/lazyroot-mkinitrd

setup_file() {
	command -v curl >/dev/null || skip "needs /usr/bin/curl as the daemon stand-in"
	export D=$BATS_FILE_TMPDIR
	# a real self-signed certificate as the CA
	openssl req -x509 -newkey rsa:2048 -nodes -keyout "$D/ca.key" -out "$D/ca.pem" \
		-days 2 -subj /CN=lazyroot-test >/dev/null 2>&1
	"$MK" --output "$D/a.img" --daemon /usr/bin/curl --ca "$D/ca.pem" >"$D/a.out"
	mkdir "$D/a"
	(cd "$D/a" && gzip -dc ../a.img | cpio -id --quiet)
	gzip -dc "$D/a.img" | cpio -tv --numeric-uid-gid --quiet >"$D/a.list"
}

# paths the host's ldd reports for FILE (libraries and the ELF interpreter)
ldd_paths() {
	ldd "$1" | sed -n 's/.*=> \(\/[^ ]*\) .*/\1/p; s/^[[:space:]]*\(\/[^ ]*\) .*/\1/p'
}

@test "prints the output path and its size" {
	size=$(wc -c <"$D/a.img")
	[ "$(cat "$D/a.out")" = "lazyroot-mkinitrd: wrote $D/a.img ($size bytes)" ]
}

@test "the output is a gzip'd newc cpio archive" {
	[ "$(head -c 2 "$D/a.img" | od -An -tx1 | tr -d ' ')" = 1f8b ]
	[ "$(gzip -dc "$D/a.img" | head -c 6)" = 070701 ]
}

@test "busybox, its applets, /init and the library are in place" {
	cmp "$D/a/bin/busybox" /bin/busybox
	# every applet /init, the udhcpc script and rd.shell use, somewhere on /init's PATH
	for a in sh mount switch_root setsid cttyhack udhcpc losetup mke2fs truncate ip \
		mkdir cat tr tail sleep readlink hostname rm mv ls vi; do
		found=
		for d in bin sbin usr/bin usr/sbin; do
			[ "$(readlink "$D/a/$d/$a")" = /bin/busybox ] && found=1
		done
		[ -n "$found" ] || { echo "no applet $a"; return 1; }
	done
	[ "$(readlink "$D/a/bin/sh")" = /bin/busybox ]
	# no busybox init to shadow /init
	[ ! -e "$D/a/sbin/init" ]
	[ ! -L "$D/a/sbin/init" ]
	cmp "$D/a/init" "$BATS_TEST_DIRNAME/../../initrd/init"
	[ -x "$D/a/init" ]
	cmp "$D/a/lib/lazyroot/lazyroot-lib.sh" "$BATS_TEST_DIRNAME/../../initrd/lazyroot-lib.sh"
	cmp "$D/a/lib/lazyroot/lazyroot-busybox.sh" "$BATS_TEST_DIRNAME/../../initrd/lazyroot-busybox.sh"
	cmp "$D/a/lib/lazyroot/udhcpc.script" "$BATS_TEST_DIRNAME/../../initrd/udhcpc.script"
	[ -x "$D/a/lib/lazyroot/udhcpc.script" ]
}

@test "the daemon, every library ldd finds for it and the ELF interpreter are copied" {
	cmp "$D/a/sbin/lazyrootd" /usr/bin/curl
	[ -x "$D/a/sbin/lazyrootd" ]
	n=0
	for l in $(ldd_paths /usr/bin/curl); do
		[ -f "$D/a$l" ] || { echo "missing $l"; return 1; }
		cmp "$D/a$l" "$(readlink -f "$l")"
		n=$((n + 1))
	done
	[ "$n" -ge 5 ]
	# the ELF interpreter, at the path the binary asks for (PT_INTERP), not its symlink target
	interp=$(ldd_paths /usr/bin/curl | grep '/ld-linux')
	[ -n "$interp" ]
	[ -x "$D/a$interp" ]
	[ -f "$D/a/lib/x86_64-linux-gnu/libcurl.so.4" ]
}

@test "the libraries of the libraries are there too" {
	for l in $(ldd_paths /usr/bin/curl); do
		for dep in $(ldd_paths "$l"); do
			[ -f "$D/a$dep" ] || { echo "missing $dep (needed by $l)"; return 1; }
		done
	done
}

@test "the daemon runs inside the unpacked initramfs" {
	[ "$(id -u)" -eq 0 ] || skip "chroot needs root"
	run chroot "$D/a" /sbin/lazyrootd --version
	[ "$status" -eq 0 ]
	case ${lines[0]} in "curl "*" libcurl/"*) ;; *) return 1 ;; esac
	run chroot "$D/a" /bin/sh -c '. /lib/lazyroot/lazyroot-busybox.sh; . /lib/lazyroot/lazyroot-lib.sh; CMDLINE="erofs.fsid=x"; getarg erofs.fsid'
	[ "$output" = x ]
}

@test "the CA is installed as /etc/lazyroot/ca.pem" {
	cmp "$D/a/etc/lazyroot/ca.pem" "$D/ca.pem"
	grep -Eq '^-rw-r--r-- .* etc/lazyroot/ca.pem$' "$D/a.list"
}

@test "empty mount points, a sticky /tmp, and no device nodes" {
	for d in proc sys dev run sysroot tmp; do
		[ -d "$D/a/$d" ] || { echo "no /$d"; return 1; }
		[ -z "$(ls -A "$D/a/$d")" ] || { echo "/$d not empty"; return 1; }
	done
	grep -Eq '^drwxrwxrwt .* tmp$' "$D/a.list"
	run grep -E '^[cbps]' "$D/a.list"
	[ "$status" -eq 1 ]
}

@test "every entry is owned by root and dated SOURCE_DATE_EPOCH (default 0)" {
	run awk '$3 != 0 || $4 != 0 { print }' "$D/a.list"
	[ -z "$output" ]
	run grep -v ' 1970 ' "$D/a.list"
	[ -z "$output" ]
	gzip -dc "$D/a.img" | cpio -i --to-stdout --quiet init >/dev/null
}

@test "two builds of the same input are byte-identical, wherever the temporary files are" {
	mkdir "$BATS_TEST_TMPDIR/t1" "$BATS_TEST_TMPDIR/t2"
	TMPDIR=$BATS_TEST_TMPDIR/t1 "$MK" --output "$BATS_TEST_TMPDIR/b.img" --daemon /usr/bin/curl --ca "$D/ca.pem"
	sleep 1 # a different clock second must not matter either
	TMPDIR=$BATS_TEST_TMPDIR/t2 "$MK" --output "$BATS_TEST_TMPDIR/c.img" --daemon /usr/bin/curl --ca "$D/ca.pem"
	cmp "$D/a.img" "$BATS_TEST_TMPDIR/b.img"
	cmp "$D/a.img" "$BATS_TEST_TMPDIR/c.img"
	# and the temporary files are gone
	[ -z "$(find "$BATS_TEST_TMPDIR/t1" "$BATS_TEST_TMPDIR/t2" -mindepth 1)" ]
}

@test "SOURCE_DATE_EPOCH sets every mtime" {
	printf '#!/bin/sh\nexit 0\n' >"$BATS_TEST_TMPDIR/d"
	chmod +x "$BATS_TEST_TMPDIR/d"
	SOURCE_DATE_EPOCH=1700000000 "$MK" --output "$BATS_TEST_TMPDIR/e.img" --daemon "$BATS_TEST_TMPDIR/d" >/dev/null
	gzip -dc "$BATS_TEST_TMPDIR/e.img" | cpio -tv --quiet >"$BATS_TEST_TMPDIR/list"
	[ "$(grep -c ' Nov 14  2023 ' "$BATS_TEST_TMPDIR/list")" -eq "$(wc -l <"$BATS_TEST_TMPDIR/list")" ]
	run -1 env SOURCE_DATE_EPOCH=yesterday "$MK" --output "$BATS_TEST_TMPDIR/f.img" --daemon "$BATS_TEST_TMPDIR/d"
	[ "$output" = "lazyroot-mkinitrd: SOURCE_DATE_EPOCH=yesterday is not a number of seconds" ]
}

@test "a script or static daemon needs no libraries" {
	printf '#!/bin/sh\nexit 0\n' >"$BATS_TEST_TMPDIR/stand-in"
	chmod +x "$BATS_TEST_TMPDIR/stand-in"
	run "$MK" --output "$BATS_TEST_TMPDIR/s.img" --daemon "$BATS_TEST_TMPDIR/stand-in" --ca "$D/ca.pem"
	[ "$status" -eq 0 ]
	list=$(gzip -dc "$BATS_TEST_TMPDIR/s.img" | cpio -t --quiet)
	run grep -c 'x86_64-linux-gnu\|ld-linux' <<<"$list"
	[ "$output" = 0 ]
	grep -qx sbin/lazyrootd <<<"$list"
	run "$MK" --output "$BATS_TEST_TMPDIR/s2.img" --daemon /bin/busybox
	[ "$status" -eq 0 ]
}

@test "--add copies extra files and directories, and may replace built-in ones" {
	mkdir -p "$BATS_TEST_TMPDIR/tree/sub"
	echo one >"$BATS_TEST_TMPDIR/tree/sub/f"
	echo 'replaced' >"$BATS_TEST_TMPDIR/myinit"
	run "$MK" --output "$BATS_TEST_TMPDIR/x.img" --daemon /bin/busybox \
		--add "$BATS_TEST_TMPDIR/tree:/opt/tree" --add "$BATS_TEST_TMPDIR/myinit:/init" \
		--add="$D/ca.pem:/etc/extra.pem" --add /bin/busybox:/bin/sh
	[ "$status" -eq 0 ]
	mkdir "$BATS_TEST_TMPDIR/x"
	(cd "$BATS_TEST_TMPDIR/x" && gzip -dc ../x.img | cpio -id --quiet)
	[ "$(cat "$BATS_TEST_TMPDIR/x/opt/tree/sub/f")" = one ]
	[ "$(cat "$BATS_TEST_TMPDIR/x/init")" = replaced ]
	cmp "$BATS_TEST_TMPDIR/x/etc/extra.pem" "$D/ca.pem"
	[ ! -L "$BATS_TEST_TMPDIR/x/bin/sh" ]
	cmp "$BATS_TEST_TMPDIR/x/bin/sh" /bin/busybox
}

@test "--image-key installs the public key as /etc/lazyroot/image-key.pem" {
	openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 2>/dev/null |
		openssl pkey -pubout -out "$BATS_TEST_TMPDIR/pub.pem"
	run "$MK" --output "$BATS_TEST_TMPDIR/k.img" --daemon /bin/busybox --image-key "$BATS_TEST_TMPDIR/pub.pem"
	[ "$status" -eq 0 ]
	mkdir "$BATS_TEST_TMPDIR/k"
	(cd "$BATS_TEST_TMPDIR/k" && gzip -dc ../k.img | cpio -id --quiet)
	cmp "$BATS_TEST_TMPDIR/k/etc/lazyroot/image-key.pem" "$BATS_TEST_TMPDIR/pub.pem"
	# none without it: lazyrootd then boots plain images too
	[ ! -e "$D/a/etc/lazyroot/image-key.pem" ]
}

@test "without --ca the host's CA bundle is included (lazyrootd's fallback)" {
	[ -f /etc/ssl/certs/ca-certificates.crt ] || skip "no /etc/ssl/certs/ca-certificates.crt here"
	run "$MK" --output "$BATS_TEST_TMPDIR/n.img" --daemon /bin/busybox
	[ "$status" -eq 0 ]
	list=$(gzip -dc "$BATS_TEST_TMPDIR/n.img" | cpio -t --quiet)
	grep -qx etc/ssl/certs/ca-certificates.crt <<<"$list"
	run grep -c etc/lazyroot/ca.pem <<<"$list"
	[ "$output" = 0 ]
}

# --- failures: one line on stderr, non-zero, no output file -----------------------------

# fails_with LINE ARGS...: the build fails with exactly LINE on stderr and writes nothing
fails_with() {
	local want=$1
	shift
	run --separate-stderr "$MK" --output "$BATS_TEST_TMPDIR/out.img" "$@"
	[ "$status" -ne 0 ] || { echo "exit 0"; return 1; }
	[ "${#stderr_lines[@]}" -eq 1 ] || { echo "stderr: $stderr"; return 1; }
	[ "$stderr" = "$want" ] || { echo "stderr: $stderr"; return 1; }
	[ -z "$output" ]
	[ ! -e "$BATS_TEST_TMPDIR/out.img" ]
	[ -z "$(ls "$BATS_TEST_TMPDIR" | grep out.img)" ]
}

@test "an image key that is missing or not a public key fails with one line" {
	fails_with "lazyroot-mkinitrd: image key not found: /nonexistent.pem" \
		--daemon /bin/busybox --image-key /nonexistent.pem
	fails_with "lazyroot-mkinitrd: image key $D/ca.pem: not a PEM public key (make it with: openssl pkey -in PRIVATE.pem -pubout)" \
		--daemon /bin/busybox --image-key "$D/ca.pem"
}

@test "a missing daemon binary fails with one line" {
	fails_with "lazyroot-mkinitrd: daemon binary not found: /nonexistent/lazyrootd (build it, or pass --daemon PATH)" \
		--daemon /nonexistent/lazyrootd
}

@test "the default daemon is daemon/lazyrootd of the repository" {
	top=$(cd "$BATS_TEST_DIRNAME/../.." && pwd)
	mkdir -p "$BATS_TEST_TMPDIR/repo/initrd"
	cp "$top"/initrd/{lazyroot-mkinitrd,init,lazyroot-busybox.sh,lazyroot-lib.sh,udhcpc.script} "$BATS_TEST_TMPDIR/repo/initrd/"
	run --separate-stderr "$BATS_TEST_TMPDIR/repo/initrd/lazyroot-mkinitrd" --output "$BATS_TEST_TMPDIR/out.img"
	[ "$status" -eq 1 ]
	[ "$stderr" = "lazyroot-mkinitrd: daemon binary not found: $BATS_TEST_TMPDIR/repo/daemon/lazyrootd (build it, or pass --daemon PATH)" ]
	mkdir "$BATS_TEST_TMPDIR/repo/daemon"
	printf '#!/bin/sh\necho i am the daemon\n' >"$BATS_TEST_TMPDIR/repo/daemon/lazyrootd"
	chmod +x "$BATS_TEST_TMPDIR/repo/daemon/lazyrootd"
	run "$BATS_TEST_TMPDIR/repo/initrd/lazyroot-mkinitrd" --output "$BATS_TEST_TMPDIR/out.img"
	[ "$status" -eq 0 ]
	[ "$(gzip -dc "$BATS_TEST_TMPDIR/out.img" | cpio -i --to-stdout --quiet sbin/lazyrootd)" = "$(cat "$BATS_TEST_TMPDIR/repo/daemon/lazyrootd")" ]
}

@test "a daemon that is not executable fails with one line" {
	echo data >"$BATS_TEST_TMPDIR/notexec"
	fails_with "lazyroot-mkinitrd: daemon binary is not an executable file: $BATS_TEST_TMPDIR/notexec" \
		--daemon "$BATS_TEST_TMPDIR/notexec"
}

@test "a non-PEM CA fails with one line" {
	openssl x509 -in "$D/ca.pem" -outform DER -out "$BATS_TEST_TMPDIR/ca.der"
	fails_with "lazyroot-mkinitrd: CA file is not PEM (no BEGIN/END CERTIFICATE lines): $BATS_TEST_TMPDIR/ca.der" \
		--daemon /usr/bin/curl --ca "$BATS_TEST_TMPDIR/ca.der"
	# a private key is PEM but no certificate
	fails_with "lazyroot-mkinitrd: CA file is not PEM (no BEGIN/END CERTIFICATE lines): $D/ca.key" \
		--daemon /usr/bin/curl --ca "$D/ca.key"
}

@test "a missing CA file fails with one line" {
	fails_with "lazyroot-mkinitrd: CA file not found: /nonexistent/ca.pem" \
		--daemon /usr/bin/curl --ca /nonexistent/ca.pem
}

@test "a library the daemon needs but ldd cannot find fails with one line" {
	command -v cc >/dev/null || skip "needs a C compiler"
	cd "$BATS_TEST_TMPDIR"
	echo 'int lazyroot_gone(void) { return 0; }' >gone.c
	echo 'int lazyroot_gone(void); int main(void) { return lazyroot_gone(); }' >main.c
	cc -shared -fPIC -o libgone.so gone.c
	cc -o needs-gone main.c -L. -lgone
	rm libgone.so
	fails_with "lazyroot-mkinitrd: libraries needed by $BATS_TEST_TMPDIR/needs-gone not found: libgone.so" \
		--daemon "$BATS_TEST_TMPDIR/needs-gone"
}

@test "usage errors" {
	run --separate-stderr "$MK" --daemon /usr/bin/curl
	[ "$status" -eq 1 ]
	[ "$stderr" = "lazyroot-mkinitrd: --output FILE is required (try --help)" ]
	fails_with "lazyroot-mkinitrd: unknown argument '--frobnicate' (try --help)" --frobnicate
	fails_with "lazyroot-mkinitrd: --ca needs an argument (try --help)" --daemon /usr/bin/curl --ca
	fails_with "lazyroot-mkinitrd: --add expects SRC:/ABSOLUTE/DEST, got 'foo'" --daemon /usr/bin/curl --add foo
	fails_with "lazyroot-mkinitrd: --add expects SRC:/ABSOLUTE/DEST, got '$D/ca.pem:etc/x'" \
		--daemon /usr/bin/curl --add "$D/ca.pem:etc/x"
	fails_with "lazyroot-mkinitrd: --add source not found: /nonexistent" --daemon /usr/bin/curl --add /nonexistent:/x
	run --separate-stderr "$MK" --output /nonexistent/dir/x.img --daemon /usr/bin/curl
	[ "$status" -eq 1 ]
	[ "$stderr" = "lazyroot-mkinitrd: cannot write into /nonexistent/dir (for --output /nonexistent/dir/x.img)" ]
	run "$MK" --help
	[ "$status" -eq 0 ]
	case $output in "usage: lazyroot-mkinitrd --output FILE"*) ;; *) return 1 ;; esac
}

@test "a dynamically linked busybox is refused" {
	export LAZYROOT_BUSYBOX=/usr/bin/curl
	fails_with "lazyroot-mkinitrd: /usr/bin/curl is dynamically linked; the initramfs needs a static one (busybox-static)" \
		--daemon /usr/bin/curl
}
