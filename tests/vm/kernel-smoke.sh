#!/bin/bash
# Smoke test of the lazyroot test kernel: boot it in QEMU with a throw-away
# busybox initramfs and check in the guest that /dev/cachefiles and erofs
# exist, DHCP works, the host's test HTTPS server is reachable (nc; curl with
# a Range request when the host has curl), an ext2 loop mount over a sparse
# file in tmpfs works, cachefiles accepts "bind ondemand" on it, and overlayfs
# mounts. Exit 0 on success, 1 on failure, 77 to skip. KEEP=1 keeps the
# work dir (console log, initramfs) for inspection; VERBOSE=1 shows the console.
set -eu

top=$(cd "$(dirname "$0")/../.." && pwd)
lib=$top/tests/lib
skip() { echo "kernel-smoke: SKIP: $*" >&2; exit 77; }
fail() { echo "kernel-smoke: FAIL: $*" >&2; exit 1; }

for c in qemu-system-x86_64 nginx openssl curl cpio gzip flock; do
	command -v "$c" >/dev/null || [ -x "/usr/sbin/$c" ] || skip "$c not installed"
done
[ -x /bin/busybox ] || skip "/bin/busybox (busybox-static) not installed"
[ -f /usr/src/linux-source-6.1.tar.xz ] || skip "linux-source-6.1 not installed"

kernel=$("$lib/build-kernel") || fail "building the test kernel failed"

work=$(mktemp -d /tmp/lazyroot-smoke.XXXXXX)
cleanup() {
	"$lib/https-server" stop "$work/srv" >/dev/null 2>&1 || true
	if [ "${KEEP:-0}" = 1 ]; then
		echo "kernel-smoke: kept $work" >&2
	else
		rm -rf "$work"
	fi
}
trap cleanup EXIT

mkdir -p "$work/doc"
head -c 100000 /dev/urandom >"$work/doc/blob"
want=$(tail -c +1001 "$work/doc/blob" | head -c 1000 | sha256sum | cut -d' ' -f1)
"$lib/https-server" start "$work/srv" "$work/doc" || fail "starting the HTTPS server failed"
port=$(cat "$work/srv/port")

# --- initramfs ---
r=$work/root
mkdir -p "$r/bin" "$r/dev" "$r/proc" "$r/sys" "$r/tmp" "$r/mnt" "$r/etc" "$r/etc/udhcpc"
cp /bin/busybox "$r/bin/busybox"
cp "$work/srv/ca.pem" "$r/ca.pem"
cp /usr/bin/curl "$r/bin/curl"
ldd /usr/bin/curl | awk '$2 == "=>" && $3 ~ /^\// { print $3 } $1 ~ /^\// { print $1 }' |
	while read -r so; do cp -L --parents "$so" "$r/"; done

cat >"$r/etc/udhcpc/default.script" <<'EOF'
#!/bin/sh
case $1 in
deconfig) ifconfig "$interface" 0.0.0.0 up ;;
bound | renew)
	ifconfig "$interface" "$ip" netmask "${subnet:-255.255.255.0}" up
	[ -z "$router" ] || route add default gw "${router%% *}" dev "$interface"
	: >/etc/resolv.conf
	for d in $dns; do echo "nameserver $d" >>/etc/resolv.conf; done
	;;
esac
EOF

cat >"$r/init" <<EOF
#!/bin/busybox sh
/bin/busybox mount -t devtmpfs devtmpfs /dev
exec </dev/console >/dev/console 2>&1
/bin/busybox --install -s /bin
export PATH=/bin
mount -t proc proc /proc
mount -t sysfs sysfs /sys
echo "SMOKE-UPTIME \$(cut -d' ' -f1 /proc/uptime)"
check() { n=\$1; shift; if "\$@"; then echo "SMOKE-OK \$n"; else echo "SMOKE-FAIL \$n"; fi; }

check cachefiles-dev test -c /dev/cachefiles
check erofs-fs grep -qw erofs /proc/filesystems
check config-gz test -e /proc/config.gz
ip link set lo up
ip link set eth0 up
check dhcp timeout 30 udhcpc -i eth0 -s /etc/udhcpc/default.script -n -q -t 5 -T 2
check nc sh -c 'printf "GET / HTTP/1.0\r\n\r\n" | nc 10.0.2.2 $port | grep -q "plain HTTP request was sent to HTTPS port"'
check curl-range sh -c 'curl -sS --cacert /ca.pem -r 1000-1999 https://10.0.2.2:$port/blob | sha256sum | grep -q "^$want "'

mount -t tmpfs tmpfs /tmp
dd if=/dev/zero of=/tmp/cache.img bs=1 count=0 seek=64M 2>/dev/null
check sparse test "\$(du -k /tmp/cache.img | cut -f1)" -lt 1024
check mke2fs sh -c 'mke2fs -F /tmp/cache.img >/dev/null'
check losetup losetup /dev/loop0 /tmp/cache.img
mkdir -p /mnt/cache
check mount-ext2 mount -t ext2 /dev/loop0 /mnt/cache

# One open of /dev/cachefiles, one write per command; closing it withdraws
# the cache. A failing exec redirection ends only the subshell.
(
	exec 3<>/dev/cachefiles
	check cachefiles-dir sh -c 'echo -n "dir /mnt/cache" >&3'
	check cachefiles-tag sh -c 'echo -n "tag t" >&3'
	check cachefiles-bind sh -c 'echo -n "bind ondemand" >&3'
	check cachefiles-registered sh -c 'dmesg | grep -q "File cache on t registered"'
) || echo "SMOKE-FAIL cachefiles-open"

mkdir -p /tmp/lower /tmp/upper /tmp/work /tmp/merged
echo lower >/tmp/lower/f
check overlay-mount mount -t overlay overlay -o lowerdir=/tmp/lower,upperdir=/tmp/upper,workdir=/tmp/work /tmp/merged
check overlay-use sh -c 'grep -q lower /tmp/merged/f && echo new >/tmp/merged/g && test -f /tmp/upper/g'

echo SMOKE-DONE
poweroff -f
EOF
chmod +x "$r/init" "$r/etc/udhcpc/default.script"
(cd "$r" && find . | cpio -o -H newc -R 0:0 --quiet | gzip -1) >"$work/initrd.gz" ||
	fail "creating the initramfs failed"

# --- boot ---
start=$(date +%s.%N)
rc=0
"$lib/qemu-run" --kernel "$kernel" --initrd "$work/initrd.gz" \
	--append "console=ttyS0 panic=-1" --log "$work/console.log" --timeout 120 || rc=$?
end=$(date +%s.%N)
con=$work/console.log
tr -d '\r' <"$con" >"$con.txt" 2>/dev/null || : >"$con.txt"

bad=$(grep '^SMOKE-FAIL' "$con.txt" || true)
expected="cachefiles-dev erofs-fs config-gz dhcp nc curl-range sparse mke2fs losetup mount-ext2
cachefiles-dir cachefiles-tag cachefiles-bind cachefiles-registered overlay-mount overlay-use"
missing=
for t in $expected; do
	grep -qx "SMOKE-OK $t" "$con.txt" || missing="$missing $t"
done
if [ $rc -ne 0 ] || [ -n "$bad" ] || [ -n "$missing" ] || ! grep -qx SMOKE-DONE "$con.txt"; then
	tail -n 40 "$con.txt" >&2
	KEEP=1
	fail "guest checks failed (qemu-run exit $rc;${missing:+ missing:$missing;} log: $con)"
fi
"$lib/https-server" log "$work/srv" | grep -q "bytes=1000-1999" ||
	fail "the server log has no Range request from the guest"

uptime=$(sed -n 's/^SMOKE-UPTIME //p' "$con.txt")
echo "kernel-smoke: OK: kernel $kernel; userspace at ${uptime}s guest uptime;" \
	"whole VM run $(awk "BEGIN { printf \"%.1f\", $end - $start }")s" >&2
