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

# --- kernel modules (--kmoddir) --------------------------------------------------------

@test "without --kmoddir the initramfs holds no kernel modules" {
	run grep -E ' (lib/modules|lib/lazyroot/kmod\.list)' "$D/a.list"
	[ "$status" -eq 1 ]
}

# fake_kmods DIR: a small modules tree for release 6.1.0-test in DIR/6.1.0-test, as depmod
# writes it: erofs (xz) needs libcrc32c, which softly needs crc32c (an alias of
# crc32c_generic, zstd); overlay (gzip); nbd; the virtio and e1000 drivers with their
# aliases; ext4 built in; no cachefiles or loop; a module nobody needs.
fake_kmods() {
	local k=$1/6.1.0-test f
	mkdir -p "$k"
	for f in fs/erofs/erofs lib/libcrc32c crypto/crc32c_generic fs/overlayfs/overlay \
		drivers/block/nbd drivers/virtio/virtio_ring drivers/virtio/virtio \
		drivers/virtio/virtio_pci drivers/net/virtio_net drivers/net/net_failover \
		net/core/failover drivers/net/ethernet/intel/e1000/e1000 drivers/misc/unrelated; do
		mkdir -p "$k/kernel/${f%/*}"
		printf 'module %s\n' "${f##*/}" >"$k/kernel/$f.ko"
	done
	xz "$k/kernel/fs/erofs/erofs.ko"
	zstd -q --rm "$k/kernel/crypto/crc32c_generic.ko"
	gzip -n "$k/kernel/fs/overlayfs/overlay.ko"
	cat >"$k/modules.dep" <<-'DEP'
		kernel/fs/erofs/erofs.ko.xz: kernel/lib/libcrc32c.ko
		kernel/lib/libcrc32c.ko:
		kernel/crypto/crc32c_generic.ko.zst:
		kernel/fs/overlayfs/overlay.ko.gz:
		kernel/drivers/block/nbd.ko:
		kernel/drivers/virtio/virtio_ring.ko:
		kernel/drivers/virtio/virtio.ko: kernel/drivers/virtio/virtio_ring.ko
		kernel/drivers/virtio/virtio_pci.ko: kernel/drivers/virtio/virtio.ko kernel/drivers/virtio/virtio_ring.ko
		kernel/drivers/net/virtio_net.ko: kernel/drivers/net/net_failover.ko kernel/net/core/failover.ko kernel/drivers/virtio/virtio.ko kernel/drivers/virtio/virtio_ring.ko
		kernel/drivers/net/net_failover.ko: kernel/net/core/failover.ko
		kernel/net/core/failover.ko:
		kernel/drivers/net/ethernet/intel/e1000/e1000.ko:
		kernel/drivers/misc/unrelated.ko:
	DEP
	printf 'softdep libcrc32c pre: crc32c\n' >"$k/modules.softdep"
	cat >"$k/modules.alias" <<-'ALIAS'
		alias crc32c crc32c_generic
		alias fs-erofs erofs
		alias pci:v00001AF4d*sv*sd*bc*sc*i* virtio_pci
		alias virtio:d00000001v* virtio_net
		alias pci:v00008086d0000100Esv*sd*bc*sc*i* e1000
		alias pci:v00008086d00001004sv*sd*bc*sc*i* e1000
		alias pci:v0000ABCDd*sv*sd*bc*sc*i* unrelated
	ALIAS
	printf 'kernel/fs/ext4/ext4.ko\nkernel/fs/mbcache.ko\n' >"$k/modules.builtin"
}

# mk_kmods NAME ARGS...: build $BATS_TEST_TMPDIR/NAME.img from the fake tree (made once)
# with ARGS and unpack it into $BATS_TEST_TMPDIR/NAME; its stdout in $BATS_TEST_TMPDIR/NAME.out
mk_kmods() {
	local n=$1
	shift
	[ -d "$BATS_TEST_TMPDIR/km" ] || fake_kmods "$BATS_TEST_TMPDIR/km"
	"$MK" --output "$BATS_TEST_TMPDIR/$n.img" --daemon /bin/busybox \
		--kmoddir "$BATS_TEST_TMPDIR/km/6.1.0-test" "$@" >"$BATS_TEST_TMPDIR/$n.out"
	mkdir "$BATS_TEST_TMPDIR/$n"
	(cd "$BATS_TEST_TMPDIR/$n" && gzip -dc "../$n.img" | cpio -id --quiet)
}

@test "--kmoddir: lazyroot's modules and the drivers, with what they need, uncompressed, nothing else" {
	mk_kmods k
	m=$BATS_TEST_TMPDIR/k/lib/modules/6.1.0-test
	(cd "$m" && find . -name '*.ko*' | sort) >"$BATS_TEST_TMPDIR/files"
	diff -u - "$BATS_TEST_TMPDIR/files" <<-'EOF'
		./kernel/crypto/crc32c_generic.ko
		./kernel/drivers/block/nbd.ko
		./kernel/drivers/net/ethernet/intel/e1000/e1000.ko
		./kernel/drivers/net/net_failover.ko
		./kernel/drivers/net/virtio_net.ko
		./kernel/drivers/virtio/virtio.ko
		./kernel/drivers/virtio/virtio_pci.ko
		./kernel/drivers/virtio/virtio_ring.ko
		./kernel/fs/erofs/erofs.ko
		./kernel/fs/overlayfs/overlay.ko
		./kernel/lib/libcrc32c.ko
		./kernel/net/core/failover.ko
	EOF
	[ "$(cat "$m/kernel/fs/erofs/erofs.ko")" = "module erofs" ]
	[ "$(cat "$m/kernel/crypto/crc32c_generic.ko")" = "module crc32c_generic" ]
	[ "$(cat "$m/kernel/fs/overlayfs/overlay.ko")" = "module overlay" ]
	cmp "$m/modules.builtin" "$BATS_TEST_TMPDIR/km/6.1.0-test/modules.builtin"
	# reproducible with modules too
	mk_kmods k2
	cmp "$BATS_TEST_TMPDIR/k.img" "$BATS_TEST_TMPDIR/k2.img"
	[ "$(cat "$BATS_TEST_TMPDIR/k.out" | head -n 1)" = "lazyroot-mkinitrd: kernel modules for 6.1.0-test: 12 files; loaded at boot: erofs overlay nbd; for the devices found: virtio_pci virtio_net e1000" ]
}

@test "--kmoddir: /init's plan loads each module after what it needs (modules.dep, soft dependencies optional)" {
	mk_kmods k
	diff -u - "$BATS_TEST_TMPDIR/k/lib/lazyroot/kmod.list" <<-'EOF'
		kver 6.1.0-test
		load erofs ?crc32c_generic:kernel/crypto/crc32c_generic.ko libcrc32c:kernel/lib/libcrc32c.ko erofs:kernel/fs/erofs/erofs.ko
		load overlay overlay:kernel/fs/overlayfs/overlay.ko
		load nbd nbd:kernel/drivers/block/nbd.ko
		driver virtio_pci virtio_ring:kernel/drivers/virtio/virtio_ring.ko virtio:kernel/drivers/virtio/virtio.ko virtio_pci:kernel/drivers/virtio/virtio_pci.ko
		alias pci:v00001AF4d*sv*sd*bc*sc*i* virtio_pci
		driver virtio_net virtio_ring:kernel/drivers/virtio/virtio_ring.ko virtio:kernel/drivers/virtio/virtio.ko failover:kernel/net/core/failover.ko net_failover:kernel/drivers/net/net_failover.ko virtio_net:kernel/drivers/net/virtio_net.ko
		alias virtio:d00000001v* virtio_net
		driver e1000 e1000:kernel/drivers/net/ethernet/intel/e1000/e1000.ko
		alias pci:v00008086d0000100Esv*sd*bc*sc*i* e1000
		alias pci:v00008086d00001004sv*sd*bc*sc*i* e1000
	EOF
	# busybox modprobe's lists: the copied modules only, under their new names
	m=$BATS_TEST_TMPDIR/k/lib/modules/6.1.0-test
	grep -qx 'kernel/fs/erofs/erofs.ko: kernel/lib/libcrc32c.ko' "$m/modules.dep"
	grep -qx 'kernel/crypto/crc32c_generic.ko:' "$m/modules.dep"
	[ "$(wc -l <"$m/modules.dep")" -eq 12 ]
	grep -qx 'alias fs-erofs erofs' "$m/modules.alias"
	run ! grep -q unrelated "$m/modules.dep" "$m/modules.alias"
}

@test "--add-drivers, --force-drivers, --omit-drivers; a built-in module is accepted and not copied" {
	mk_kmods o --omit-drivers e1000,virtio_net --add-drivers unrelated --force-drivers 'e1000 ext4'
	l=$BATS_TEST_TMPDIR/o/lib/lazyroot/kmod.list
	grep -qx 'load e1000 e1000:kernel/drivers/net/ethernet/intel/e1000/e1000.ko' "$l"
	grep -qx 'driver unrelated unrelated:kernel/drivers/misc/unrelated.ko' "$l"
	grep -qx 'alias pci:v0000ABCDd\*sv\*sd\*bc\*sc\*i\* unrelated' "$l"
	run ! grep -Eq '^(driver|load) (virtio_net|ext4) ' "$l"
	run ! grep -q '^driver e1000 ' "$l"
	[ ! -e "$BATS_TEST_TMPDIR/o/lib/modules/6.1.0-test/kernel/drivers/net/virtio_net.ko" ]
	[ "$(head -n 1 "$BATS_TEST_TMPDIR/o.out")" = "lazyroot-mkinitrd: kernel modules for 6.1.0-test: 10 files; loaded at boot: erofs overlay nbd e1000; for the devices found: virtio_pci unrelated" ]
}

@test "--kver names the release when the directory's name is not it" {
	fake_kmods "$BATS_TEST_TMPDIR/km"
	mv "$BATS_TEST_TMPDIR/km/6.1.0-test" "$BATS_TEST_TMPDIR/km/mods"
	"$MK" --output "$BATS_TEST_TMPDIR/v.img" --daemon /bin/busybox \
		--kmoddir "$BATS_TEST_TMPDIR/km/mods/" --kver 6.1.0-test >/dev/null
	list=$(gzip -dc "$BATS_TEST_TMPDIR/v.img" | cpio -t --quiet)
	grep -qx lib/modules/6.1.0-test/kernel/drivers/block/nbd.ko <<<"$list"
	[ "$(gzip -dc "$BATS_TEST_TMPDIR/v.img" | cpio -i --to-stdout --quiet lib/lazyroot/kmod.list | head -n 1)" = "kver 6.1.0-test" ]
}

@test "a module that is neither in the tree nor built in fails with one line naming it" {
	fake_kmods "$BATS_TEST_TMPDIR/km"
	k=$BATS_TEST_TMPDIR/km/6.1.0-test
	fails_with "lazyroot-mkinitrd: no module other_one, nosuch in $k/modules.dep, nor built into the kernel (modules.builtin)" \
		--daemon /bin/busybox --kmoddir "$k" --add-drivers nosuch --force-drivers other-one
	sed -i '/erofs/d' "$k/modules.dep"
	fails_with "lazyroot-mkinitrd: no module erofs in $k/modules.dep, nor built into the kernel (modules.builtin)" \
		--daemon /bin/busybox --kmoddir "$k"
	# erofs built in is fine; nbd or cachefiles, one of them, must be there
	echo kernel/fs/erofs/erofs.ko >>"$k/modules.builtin"
	sed -i '/nbd/d' "$k/modules.dep"
	fails_with "lazyroot-mkinitrd: no module nbd or cachefiles in $k/modules.dep, nor built into the kernel (modules.builtin)" \
		--daemon /bin/busybox --kmoddir "$k"
}

@test "a bad modules tree or module name fails with one line" {
	fake_kmods "$BATS_TEST_TMPDIR/km"
	k=$BATS_TEST_TMPDIR/km/6.1.0-test
	fails_with "lazyroot-mkinitrd: bad module name \"a;b\" (letters, digits, - and _ only)" \
		--daemon /bin/busybox --kmoddir "$k" --add-drivers 'a;b'
	fails_with "lazyroot-mkinitrd: --add-drivers, --force-drivers and --omit-drivers need --kmoddir DIR or --kver KVER" \
		--daemon /bin/busybox --add-drivers e1000
	fails_with "lazyroot-mkinitrd: --kmoddir /nonexistent: no such directory" \
		--daemon /bin/busybox --kmoddir /nonexistent
	rm "$k/kernel/drivers/block/nbd.ko"
	fails_with "lazyroot-mkinitrd: $k/kernel/drivers/block/nbd.ko: listed in modules.dep but missing" \
		--daemon /bin/busybox --kmoddir "$k"
	echo '../../../etc/shadow.ko: kernel/drivers/block/nbd.ko' >>"$k/modules.dep"
	fails_with "lazyroot-mkinitrd: $k/modules.dep line 14: not a module path: ../../../etc/shadow.ko:" \
		--daemon /bin/busybox --kmoddir "$k"
	echo 'kernel/x.ko: /etc/passwd' >"$k/modules.dep"
	fails_with "lazyroot-mkinitrd: $k/modules.dep line 1: not a module path: /etc/passwd" \
		--daemon /bin/busybox --kmoddir "$k"
	rm "$k/modules.dep"
	fails_with "lazyroot-mkinitrd: --kmoddir $k: no modules.dep (make it with: depmod -b ROOT 6.1.0-test, ROOT holding lib/modules/6.1.0-test)" \
		--daemon /bin/busybox --kmoddir "$k"
}

# --- /init loading them (lr_kmod_setup), with insmod and uname stand-ins ----------------

# must_fail CMD...: CMD must fail, in this shell (it reports through LR_ERR)
must_fail() {
	if "$@"; then
		echo "unexpectedly succeeded: $*" >&2
		return 1
	fi
}

# kmod_env: the initramfs of mk_kmods k, a fake sysfs with a virtio PCI device and a host
# bridge; insmod logs to $BATS_TEST_TMPDIR/insmod.log, marks the module loaded, fails for
# the modules named in $FAIL_MODULES ("Unknown symbol in module"), and loading virtio_pci
# makes its virtio device appear (a probe).
kmod_env() {
	mk_kmods k
	S=$BATS_TEST_TMPDIR/sys
	mkdir -p "$S/bus/pci/devices/0000:00:00.0" "$S/bus/pci/devices/0000:00:03.0" "$BATS_TEST_TMPDIR/bin"
	echo pci:v00008086d00001237sv00001AF4sd00001100bc06sc00i00 >"$S/bus/pci/devices/0000:00:00.0/modalias"
	echo pci:v00001AF4d00001000sv00001AF4sd00000001bc02sc00i00 >"$S/bus/pci/devices/0000:00:03.0/modalias"
	cat >"$BATS_TEST_TMPDIR/bin/insmod" <<-EOF
		#!/bin/sh
		m=\${1##*/}
		m=\${m%.ko}
		echo "\$1" >>"$BATS_TEST_TMPDIR/insmod.log"
		case " \${FAIL_MODULES:-} " in
		*" \$m "*) echo "insmod: can't insert '\$1': Unknown symbol in module" >&2; exit 1 ;;
		esac
		mkdir -p "$S/module/\$m" && touch "$S/module/\$m/initstate"
		if [ "\$m" = virtio_pci ]; then
			mkdir -p "$S/bus/virtio/devices/virtio0"
			echo virtio:d00000001v00001AF4 >"$S/bus/virtio/devices/virtio0/modalias"
		fi
	EOF
	printf '#!/bin/sh\necho %s\n' "${RELEASE:-6.1.0-test}" >"$BATS_TEST_TMPDIR/bin/uname"
	chmod +x "$BATS_TEST_TMPDIR/bin/insmod" "$BATS_TEST_TMPDIR/bin/uname"
	PATH=$BATS_TEST_TMPDIR/bin:$PATH
	I=$BATS_TEST_DIRNAME/../../initrd
	. "$I/lazyroot-busybox.sh"
	. "$I/lazyroot-lib.sh"
	LR_SYSFS=$S LR_MODDIR=$BATS_TEST_TMPDIR/k/lib/modules
	LR_KMOD_LIST=$BATS_TEST_TMPDIR/k/lib/lazyroot/kmod.list
	LR_ERR=
}

@test "/init loads lazyroot's modules in order, then the drivers of the devices found, round by round" {
	kmod_env
	lr_kmod_setup 2>"$BATS_TEST_TMPDIR/err"
	sed "s,^$LR_MODDIR/6.1.0-test/,," "$BATS_TEST_TMPDIR/insmod.log" >"$BATS_TEST_TMPDIR/order"
	diff -u - "$BATS_TEST_TMPDIR/order" <<-'EOF'
		kernel/crypto/crc32c_generic.ko
		kernel/lib/libcrc32c.ko
		kernel/fs/erofs/erofs.ko
		kernel/fs/overlayfs/overlay.ko
		kernel/drivers/block/nbd.ko
		kernel/drivers/virtio/virtio_ring.ko
		kernel/drivers/virtio/virtio.ko
		kernel/drivers/virtio/virtio_pci.ko
		kernel/net/core/failover.ko
		kernel/drivers/net/net_failover.ko
		kernel/drivers/net/virtio_net.ko
	EOF
	diff -u - "$BATS_TEST_TMPDIR/err" <<-'EOF'
		lazyroot: kernel modules loaded: erofs overlay nbd
		lazyroot: drivers for the devices found: virtio_pci virtio_net
	EOF
}

@test "/init: a soft dependency may fail; a module that fails stops with one line naming it" {
	FAIL_MODULES=crc32c_generic kmod_env
	lr_kmod_setup 2>/dev/null
	grep -q erofs.ko "$BATS_TEST_TMPDIR/insmod.log"
	rm -rf "$S/module" "$BATS_TEST_TMPDIR/insmod.log"
	export FAIL_MODULES=libcrc32c
	must_fail lr_kmod_setup
	[ "$LR_ERR" = "cannot load kernel module libcrc32c (needed by erofs): Unknown symbol in module" ]
	run ! grep -q erofs.ko "$BATS_TEST_TMPDIR/insmod.log"
	export FAIL_MODULES=virtio_net
	must_fail lr_kmod_setup
	[ "$LR_ERR" = "cannot load kernel module virtio_net: Unknown symbol in module" ]
}

@test "/init: modules of another kernel release fail with one line; none: nothing to do" {
	RELEASE=6.1.0-other kmod_env
	must_fail lr_kmod_setup
	[ "$LR_ERR" = "this initramfs has the kernel modules of 6.1.0-test but the kernel is 6.1.0-other (make one with lazyroot-mkinitrd --kmoddir /lib/modules/6.1.0-other)" ]
	[ ! -e "$BATS_TEST_TMPDIR/insmod.log" ]
	LR_KMOD_LIST=$BATS_TEST_TMPDIR/none
	lr_kmod_setup
	[ ! -e "$BATS_TEST_TMPDIR/insmod.log" ]
}
