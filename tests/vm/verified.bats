#!/usr/bin/env bats
# Verified images (docs/format.md) booted in QEMU: lazyrootd checks the
# manifest against erofs.digest= and every chunk against the manifest,
# so a mirror that changes one byte cannot change what the guest reads.

bats_require_minimum_version 1.5.0

setup_file() {
	. tests/lib/vm-env.sh
	vm_env_setup "$BATS_FILE_TMPDIR" 8
	openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$W/key.pem" 2> /dev/null
	openssl pkey -in "$W/key.pem" -pubout -out "$W/pub.pem"
	images/lazyroot-mkimage --verified --sign "$W/key.pem" --fsid rootfs-v "$W/rootfs" "$W/www/vimg" \
		> "$W/vimg.out" 2> "$W/vimg.log" || { cat "$W/vimg.log" >&2; return 1; }
	# an initramfs that boots only images signed by that key
	initrd/lazyroot-mkinitrd --output "$W/initrd-key.img" --ca "$W/srv/ca.pem" \
		--image-key "$W/pub.pem" > /dev/null
	read -r fsid DIGEST < "$W/vimg.out"
	[ "$fsid" = rootfs-v ]
	# A mirror whose copy differs in one byte of one frame: the middle of
	# the largest pack, which is /data/big's (random, so stored) chunks.
	cp -a "$W/www/vimg" "$W/www/vbad"
	pack=$(ls -S "$W/www/vbad/packs/"*.pack | head -n 1)
	size=$(stat -c %s "$pack")
	off=$((size / 2))
	byte=$(od -An -tu1 -j "$off" -N1 "$pack" | tr -d ' ')
	printf "$(printf '\\%03o' $(((byte + 1) % 256)))" |
		dd of="$pack" bs=1 seek="$off" conv=notrunc status=none
	! cmp -s "$pack" "$W/www/vimg/packs/${pack##*/}"
	sha256sum "$W/rootfs/data/big" | cut -d' ' -f1 > "$W/big.sha256"
	export DIGEST
}

teardown_file() {
	tests/lib/https-server stop "$W/srv"
}

setup() {
	. tests/lib/vm-env.sh
}

url() { echo "https://10.0.2.2:$PORT/$1/"; }

@test "boots a verified image: the manifest matches erofs.digest, every chunk is checked" {
	vm_boot_test good 180 erofs.fsid=rootfs-v erofs.digest="$DIGEST" \
		erofs.url="$(url vimg)" lazyroot.test=sumbig
	[ "$qemu_status" -eq 0 ]
	grep -q '^LAZYROOT-TEST: sha256 ok (10 files)' "$log"
	grep -q "^LAZYROOT-TEST: big sha256 $(cat "$W/big.sha256")$" "$log"
	grep -q "lazyrootd: manifest of fsid rootfs-v: 2 blobs, .*sha256 matches erofs.digest" "$log"
	grep -Eq 'lazyrootd: stats: chunks verified [1-9][0-9]*, failed verification 0$' "$log"
	grep -Eq 'lazyrootd: stats: opens 2, .*errors 0$' "$log"
	# only packs and the manifest are asked for, by range requests
	! awk -F '\t' '$1 ~ /\/vimg\// && ($1 !~ /\/vimg\/(packs\/[0-9a-f]+\.pack|rootfs-v\.manifest) HTTP/ || $2 != 206)' \
		"$W/srv/access.log" | grep .
}

@test "a digest that is not the manifest's stops the boot with one line" {
	wrong=sha256:$(printf '%064d' 0)
	vm_boot_test wrongdigest 120 erofs.fsid=rootfs-v erofs.digest="$wrong" erofs.url="$(url vimg)"
	[ "$qemu_status" -ne 124 ]
	[ "$(grep -c "lazyrootd: cannot load the manifest of fsid rootfs-v: $(url vimg)rootfs-v.manifest: no mirror serves a copy with sha256 0\{64\}" "$log")" -eq 1 ]
	! grep -q '^LAZYROOT-TEST' "$log"
}

@test "one byte changed on the only mirror: that read fails, no wrong byte reaches the guest" {
	vm_boot_test flipped 180 erofs.fsid=rootfs-v erofs.digest="$DIGEST" \
		erofs.url="$(url vbad)" lazyroot.test=sumbig
	[ "$qemu_status" -eq 0 ]
	# the rest of the root is fine
	grep -q '^LAZYROOT-TEST: sha256 ok (10 files)' "$log"
	grep -Eq '^LAZYROOT-TEST: big sha256 FAILED: .*(I/O|Input/output) error' "$log"
	! grep -q '^LAZYROOT-TEST: big sha256 [0-9a-f]' "$log"
	grep -Eq 'lazyrootd: blob [0-9a-f]{64}: chunk [0-9]+ \(bytes [0-9]+-[0-9]+\) from .*/vbad failed verification: sha256 ' "$log"
	grep -Eq 'lazyrootd: blob [0-9a-f]{64}: cannot read bytes .*: chunk [0-9]+ failed verification \(sha256 .*\); nothing of it was written$' "$log"
	grep -Eq 'lazyrootd: stats: chunks verified [1-9][0-9]*, failed verification [1-9][0-9]*$' "$log"
}

@test "one byte changed on the first mirror: the chunk comes again from the second, right" {
	vm_boot_test recovered 180 erofs.fsid=rootfs-v erofs.digest="$DIGEST" \
		erofs.url="$(url vbad),$(url vimg)" lazyroot.test=sumbig
	[ "$qemu_status" -eq 0 ]
	grep -q "^LAZYROOT-TEST: big sha256 $(cat "$W/big.sha256")$" "$log"
	# once, or a few times if the kernel had several reads of that chunk
	# under way before the bad mirror was passed over
	grep -q 'failed verification: sha256' "$log"
	[ "$(grep -c "lazyrootd: mirror https://10.0.2.2:$PORT/vbad served bad data: trying https://10.0.2.2:$PORT/vimg first from now on" "$log")" -eq 1 ]
	grep -Eq 'lazyrootd: stats: opens 2, .*errors 0$' "$log"
	grep -Eq 'lazyrootd: stats: chunks verified [1-9][0-9]*, failed verification [1-9]$' "$log"
}

@test "erofs.cache= with a verified image: checked pages are kept, the next boot reads them from disk" {
	export VM_DISK="$W/cache.disk"
	truncate -s 256M "$VM_DISK"
	vm_boot_test cache1 180 erofs.fsid=rootfs-v erofs.digest="$DIGEST" \
		erofs.url="$(url vimg)" erofs.cache=/dev/vda lazyroot.test=sumbig
	[ "$qemu_status" -eq 0 ]
	grep -q "^LAZYROOT-TEST: big sha256 $(cat "$W/big.sha256")$" "$log"
	grep -Eq 'lazyrootd: blob [0-9a-f]{64}: 0 of [0-9]+ pages kept on disk from earlier boots' "$log"
	before=$(tests/lib/https-server bytes "$W/srv")
	vm_boot_test cache2 180 erofs.fsid=rootfs-v erofs.digest="$DIGEST" \
		erofs.url="$(url vimg)" erofs.cache=/dev/vda lazyroot.test=sumbig
	sent=$(($(tests/lib/https-server bytes "$W/srv") - before))
	echo "second boot: server sent $sent bytes"
	[ "$qemu_status" -eq 0 ]
	grep -q "^LAZYROOT-TEST: big sha256 $(cat "$W/big.sha256")$" "$log"
	grep -Eq 'lazyrootd: blob [0-9a-f]{64}: ([0-9]+) of \1 pages kept on disk from earlier boots' "$log"
	# the manifest only (and its size probe)
	[ "$sent" -lt $(($(stat -c %s "$W/www/vimg/rootfs-v.manifest") + 4096)) ]
	grep -Eq 'lazyrootd: stats: opens 2, .*bytes written ([0-9]+) \(from disk \1\), errors 0$' "$log"
}

# boot_key NAME KERNEL-ARGS...: boots the initramfs holding the image key
boot_key() {
	log="$W/$1.log"
	qemu_status=0
	tests/lib/qemu-run --kernel "$KERNEL" --initrd "$W/initrd-key.img" --log "$log" \
		--timeout 180 --append "console=ttyS0 panic=-1 ${*:2}" || qemu_status=$?
	grep -v '^\[' "$log" | tail -n 40
}

@test "an initramfs with an image key boots the signed image without erofs.digest=" {
	boot_key signed erofs.fsid=rootfs-v erofs.url="$(url vimg)" lazyroot.test=sumbig
	[ "$qemu_status" -eq 0 ]
	grep -q "^LAZYROOT-TEST: big sha256 $(cat "$W/big.sha256")$" "$log"
	grep -q "lazyrootd: manifest of fsid rootfs-v: 2 blobs, .*, signed by the image key$" "$log"
	grep -Eq 'lazyrootd: stats: opens 2, .*errors 0$' "$log"
}

@test "an initramfs with an image key refuses an image it did not sign, with one line" {
	boot_key unsigned erofs.fsid=rootfs-test erofs.url="$(vm_url "$PORT")"
	[ "$qemu_status" -ne 124 ]
	[ "$(grep -c "lazyrootd: cannot load the manifest of fsid rootfs-test: $(vm_url "$PORT")rootfs-test.manifest: HTTP 404" "$log")" -eq 1 ]
	! grep -q '^LAZYROOT-TEST' "$log"
}
