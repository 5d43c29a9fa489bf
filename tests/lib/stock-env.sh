# shellcheck shell=bash
# Debian's own kernel for the tests (tests/vm/stock-kernel*.bats,
# tests/distro/debian-stock.bats, tests/bench): the package linux-image-amd64
# depends on, unpacked into the cache by tests/lib/stock-kernel, never
# installed; dracut images for it made from that package's modules
# (--kmoddir; after tests/lib/dracut-env.sh's dracut_env_setup); booting it,
# and what a root served over NBD must show. Source it from the repo root.

# stock_env_setup ERRFILE: sets STOCK_KVER, STOCK_KDIR and STOCK_KERNEL (its
# vmlinuz); or STOCK_SKIP, the reason, when the Debian archive cannot be
# reached (returns 0 either way); returns 1 on other errors, with
# tests/lib/stock-kernel's messages on stderr.
stock_env_setup() {
	local err=$1 out rc=0
	STOCK_SKIP=
	out=$(tests/lib/stock-kernel 2>"$err") || rc=$?
	if [ "$rc" -eq 3 ]; then
		STOCK_SKIP="the Debian archive cannot be reached: $(tail -n 1 "$err")"
		export STOCK_SKIP
		return 0
	fi
	[ "$rc" -eq 0 ] || { cat "$err" >&2; return 1; }
	read -r STOCK_KVER STOCK_KDIR <<<"$out"
	STOCK_KERNEL=$STOCK_KDIR/boot/vmlinuz-$STOCK_KVER
	export STOCK_SKIP STOCK_KVER STOCK_KDIR STOCK_KERNEL
}

# stock_dracut_image OUT MODULES OMIT [DRACUT-ARGS...]: a dracut initramfs for
# the stock kernel with its own modules: besides lazyroot's (module-setup.sh),
# the virtio drivers QEMU's machine needs (PCI, net, block for a local-disk
# root). No pvpanic: a panic reboots (panic=-1), which ends QEMU, and the
# checks of the root's lines fail.
stock_dracut_image() {
	local out=$1 modules=$2 omit=$3
	shift 3
	dracutbasedir=$DRACUT_BASE dracut --force --no-hostonly \
		--kver "$STOCK_KVER" --kmoddir "$STOCK_KDIR/lib/modules/$STOCK_KVER" \
		--conf /dev/null --confdir "$DRACUT_CONF" \
		--modules "$modules" ${omit:+--omit "$omit"} \
		--add-drivers "virtio_pci virtio_net virtio_blk" "$@" \
		"$out" >"$out.log" 2>&1 || {
		tail -n 30 "$out.log" >&2
		return 1
	}
}

# stock_boot INITRD NAME KERNEL-ARGS...: the stock kernel with INITRD, its
# console in $W/NAME.log; sets log and qemu_status
stock_boot() {
	local initrd=$1
	log="$W/$2.log"
	shift 2
	qemu_status=0
	tests/lib/qemu-run --kernel "$STOCK_KERNEL" --initrd "$initrd" \
		--log "$log" --timeout 900 \
		--append "console=ttyS0 panic=-1 $*" ||
		qemu_status=$?
	# Shown by bats only when the test fails.
	grep -v '^\[' "$log" | tail -n 40
}

# stock_booted_over_nbd N: after stock_boot, the root came up from the image
# served on N NBD devices, its files check out, a file never read at boot
# reads after switch_root, and lazyrootd kept serving
stock_booted_over_nbd() {
	[ "$qemu_status" -eq 0 ]
	grep -q "Linux version $STOCK_KVER " "$log"
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
