# shellcheck shell=bash
# Shared by the VM tests that boot Debian's own kernel (tests/lib/stock-kernel):
# finding that kernel, booting it, and what a root served over NBD must show.
# Source it from the repo root.

# stock_kernel_setup DIR: sets KVER and KDIR (the unpacked package: the kernel
# in KDIR/boot, its modules in KDIR/lib/modules/KVER); when the Debian archive
# cannot be reached, sets STOCK_SKIP instead (each test skips) and returns 0
stock_kernel_setup() {
	local out rc=0
	out=$(tests/lib/stock-kernel 2>"$1/stock-kernel.err") || rc=$?
	if [ "$rc" -eq 3 ]; then
		STOCK_SKIP="the Debian archive cannot be reached: $(tail -n 1 "$1/stock-kernel.err")"
		export STOCK_SKIP
		return 0
	fi
	[ "$rc" -eq 0 ] || { cat "$1/stock-kernel.err" >&2; return 1; }
	read -r KVER KDIR <<<"$out"
	export KVER KDIR
}

# stock_boot INITRD NAME KERNEL-ARGS...: the stock kernel with INITRD, its
# console in $W/NAME.log; sets log and qemu_status
stock_boot() {
	local initrd=$1
	log="$W/$2.log"
	shift 2
	qemu_status=0
	tests/lib/qemu-run --kernel "$KDIR/boot/vmlinuz-$KVER" --initrd "$initrd" \
		--log "$log" --timeout 900 \
		--append "console=ttyS0 panic=-1 $*" ||
		qemu_status=$?
	sed -i 's/\r$//' "$log"
	# Shown by bats only when the test fails.
	grep -v '^\[' "$log" | tail -n 40
}

# stock_booted_over_nbd N: after stock_boot, the root came up from the image
# served on N NBD devices, its files check out, a file never read at boot
# reads after switch_root, and lazyrootd kept serving
stock_booted_over_nbd() {
	[ "$qemu_status" -eq 0 ]
	grep -q "Linux version $KVER " "$log"
	grep -q '^LAZYROOT-TEST: root is up: overlay' "$log"
	grep -q '^LAZYROOT-TEST: sha256 ok (10 files)' "$log"
	grep -q '^LAZYROOT-TEST: root is writable' "$log"
	grep -q '^LAZYROOT-TEST: read big rc=0 ' "$log"
	grep -q '^LAZYROOT-TEST: lazyrootd alive as @lazyrootd$' "$log"
	grep -Eq 'lazyrootd: stats: opens [1-9], .*errors 0$' "$log"
	grep -q '^LAZYROOT-TEST: done' "$log"
	grep -q 'lazyrootd: nbd0: rootfs-[a-z]*, [0-9]* bytes, read-only$' "$log"
	grep -q 'erofs: (device nbd0): mounted' "$log"
	if [ "$1" -eq 2 ]; then
		grep -Eq 'lazyrootd: nbd1: [0-9a-f]{64}, [0-9]+ bytes, read-only$' "$log"
	fi
	# no cachefiles cache: that kernel cannot serve it
	run ! grep -q 'loop0: detected capacity change' "$log"
}
