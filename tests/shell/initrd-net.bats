#!/usr/bin/env bats
# The network side of the initramfs without touching the host's network: the udhcpc event
# script and lr_net_setup run against stub `ip`, `udhcpc` and `hostname` commands that log
# their arguments, and a fake /sys/class/net.

bats_require_minimum_version 1.5.0

setup() {
	TOP=$BATS_TEST_DIRNAME/../..
	SCRIPT=$TOP/initrd/udhcpc.script
	STUBS=$BATS_TEST_TMPDIR/bin
	CALLS=$BATS_TEST_TMPDIR/calls
	mkdir -p "$STUBS"
	: >"$CALLS"
	# ip: logs its arguments; fails with a message when they match $IP_FAIL
	cat >"$STUBS/ip" <<'EOF'
#!/bin/sh
echo "ip $*" >>"$CALLS"
case "$*" in
$IP_FAIL) echo "RTNETLINK answers: File exists" >&2; exit 2 ;;
esac
exit 0
EOF
	cat >"$STUBS/hostname" <<'EOF'
#!/bin/sh
echo "hostname $*" >>"$CALLS"
EOF
	chmod +x "$STUBS/ip" "$STUBS/hostname"
	export CALLS IP_FAIL='no-such-call'
	PATH=$STUBS:$PATH
	export RESOLV_CONF=$BATS_TEST_TMPDIR/resolv.conf
	export LAZYROOT_NETSTATE=$BATS_TEST_TMPDIR/net.eth0
}

lease() { # lease EVENT: run the script as udhcpc would after a typical QEMU lease
	env interface=eth0 ip=10.0.2.15 mask=24 router='10.0.2.2' dns='10.0.2.3 10.0.2.4' \
		domain=example.test subnet=255.255.255.0 "$@"
}

@test "udhcpc.script bound: address, default route, resolv.conf, summary" {
	run lease "$SCRIPT" bound
	[ "$status" -eq 0 ]
	grep -qx 'ip -4 addr flush dev eth0' "$CALLS"
	grep -qx 'ip addr add 10.0.2.15/24 dev eth0' "$CALLS"
	grep -qx 'ip route replace default via 10.0.2.2 dev eth0' "$CALLS"
	[ "$(cat "$RESOLV_CONF")" = "$(printf 'search example.test\nnameserver 10.0.2.3\nnameserver 10.0.2.4')" ]
	[ "$(cat "$LAZYROOT_NETSTATE")" = "10.0.2.15/24 gateway 10.0.2.2 dns 10.0.2.3 10.0.2.4" ]
	[ ! -e "$LAZYROOT_NETSTATE.err" ]
}

@test "udhcpc.script bound: broadcast and MTU are applied when given" {
	run lease broadcast=10.0.2.255 mtu=1400 "$SCRIPT" bound
	[ "$status" -eq 0 ]
	grep -qx 'ip link set dev eth0 mtu 1400' "$CALLS"
	grep -qx 'ip addr add 10.0.2.15/24 broadcast 10.0.2.255 dev eth0' "$CALLS"
}

@test "udhcpc.script: the second router is used when the first is refused" {
	IP_FAIL='route replace default via 10.0.2.1 *'
	run lease router='10.0.2.1 10.0.2.2' "$SCRIPT" renew
	[ "$status" -eq 0 ]
	grep -qx 'ip route replace default via 10.0.2.2 dev eth0' "$CALLS"
	case $(cat "$LAZYROOT_NETSTATE") in *"gateway 10.0.2.2"*) ;; *) return 1 ;; esac
}

@test "udhcpc.script: no subnet option gives the classful mask; no router, no route" {
	run env interface=eth0 ip=172.16.0.9 "$SCRIPT" bound
	[ "$status" -eq 0 ]
	grep -qx 'ip addr add 172.16.0.9/16 dev eth0' "$CALLS"
	run grep -c 'route' "$CALLS"
	[ "$output" = 0 ]
	[ ! -e "$RESOLV_CONF" ]
	[ "$(cat "$LAZYROOT_NETSTATE")" = "172.16.0.9/16" ]
}

@test "udhcpc.script: a failing ip addr add leaves the reason, not a summary" {
	IP_FAIL='addr add *'
	run lease "$SCRIPT" bound
	[ "$status" -eq 1 ]
	[ ! -e "$LAZYROOT_NETSTATE" ]
	[ "$(cat "$LAZYROOT_NETSTATE.err")" = "ip addr add 10.0.2.15/24 dev eth0: RTNETLINK answers: File exists" ]
}

@test "udhcpc.script deconfig flushes and raises the link; leasefail does nothing" {
	run env interface=eth0 "$SCRIPT" deconfig
	[ "$status" -eq 0 ]
	[ "$(cat "$CALLS")" = "$(printf 'ip -4 addr flush dev eth0\nip link set dev eth0 up')" ]
	: >"$CALLS"
	run env interface=eth0 "$SCRIPT" leasefail
	[ "$status" -eq 0 ]
	[ ! -s "$CALLS" ]
}

@test "udhcpc.script runs under busybox sh" {
	run lease busybox sh "$SCRIPT" bound
	[ "$status" -eq 0 ]
	[ "$(cat "$LAZYROOT_NETSTATE")" = "10.0.2.15/24 gateway 10.0.2.2 dns 10.0.2.3 10.0.2.4" ]
}

# --- lr_net_setup with a fake sysfs and a stub udhcpc ------------------------------------

netsetup() { # source the library and run lr_net_setup with CMDLINE=$1; prints LR_ERR on failure
	LR_RUN=$BATS_TEST_TMPDIR/run LR_SYSFS=$BATS_TEST_TMPDIR/sys LR_LIBDIR=$TOP/initrd
	mkdir -p "$LR_RUN"
	# shellcheck source=../../initrd/lazyroot-busybox.sh
	. "$TOP/initrd/lazyroot-busybox.sh"
	# shellcheck source=../../initrd/lazyroot-lib.sh
	. "$TOP/initrd/lazyroot-lib.sh"
	unset LAZYROOT_NETSTATE
	CMDLINE="erofs.fsid=a erofs.url=https://h/ $1"
	lr_parse_cmdline || { echo "parse: $LR_ERR"; return 1; }
	lr_net_setup || { echo "$LR_ERR"; return 1; }
}

mkdev() { # mkdev NAME IFINDEX [CARRIER]
	local d=$BATS_TEST_TMPDIR/sys/class/net/$1
	mkdir -p "$d/device"
	echo 1 >"$d/type"
	echo "$2" >"$d/ifindex"
	echo "${3:-1}" >"$d/carrier"
}

# udhcpc stub: checks its options, then plays the lease through the real script (udhcpc's
# -s), or fails like `udhcpc -n` does when no server answers ($UDHCPC_FAIL).
mkudhcpc() {
	cat >"$STUBS/udhcpc" <<'EOF'
#!/bin/sh
echo "udhcpc $*" >>"$CALLS"
[ -z "$UDHCPC_FAIL" ] || { echo "udhcpc: no lease, failing" >&2; exit 1; }
while getopts i:nqt:T:s: o; do
	case $o in i) dev=$OPTARG ;; s) script=$OPTARG ;; esac
done
interface=$dev "$script" deconfig
interface=$dev ip=10.0.2.15 mask=24 router=10.0.2.2 dns=10.0.2.3 "$script" bound
exit 0 # udhcpc ignores the script's exit status
EOF
	chmod +x "$STUBS/udhcpc"
	export UDHCPC_FAIL=
}

@test "lr_net_setup: DHCP on the first ethernet interface" {
	mkdev eth1 3
	mkdev eth0 2
	mkudhcpc
	run --separate-stderr netsetup ''
	[ "$status" -eq 0 ]
	grep -qx 'ip link set dev lo up' "$CALLS"
	grep -qx 'ip link set dev eth0 up' "$CALLS"
	grep -Eqx 'udhcpc -i eth0 -n -q -t [0-9]+ -T 2 -s .*/initrd/udhcpc.script' "$CALLS"
	grep -qx 'ip addr add 10.0.2.15/24 dev eth0' "$CALLS"
	[ "${stderr_lines[1]}" = "lazyroot: eth0: 10.0.2.15/24 gateway 10.0.2.2 dns 10.0.2.3 (DHCP)" ]
	[ "$(cat "$RESOLV_CONF")" = "nameserver 10.0.2.3" ]
}

@test "lr_net_setup: about 30 seconds of DHCP tries by default" {
	mkdev eth0 2
	mkudhcpc
	run --separate-stderr netsetup ''
	[ "$status" -eq 0 ]
	tries=$(sed -n 's/^udhcpc .* -t \([0-9]*\) .*/\1/p' "$CALLS")
	[ "$tries" -ge 14 ] && [ "$tries" -le 15 ] || { echo "tries=$tries"; return 1; }
}

@test "lr_net_setup: no lease names the interface and the reason" {
	mkdev eth0 2
	mkudhcpc
	UDHCPC_FAIL=1
	run --separate-stderr netsetup 'rd.lazyroot.nettimeout=4'
	[ "$status" -eq 1 ]
	[ "$output" = "eth0: no DHCP lease within 4s (no answer from a DHCP server)" ] ||
		[ "$output" = "eth0: no DHCP lease within 3s (no answer from a DHCP server)" ]
}

@test "lr_net_setup: no lease and no carrier says the link is down" {
	mkdev eth0 2 0
	mkudhcpc
	UDHCPC_FAIL=1
	run --separate-stderr netsetup 'ip=eth0:dhcp'
	[ "$status" -eq 1 ]
	case $output in "eth0: no DHCP lease within "*"s: link is down (no carrier)") ;; *) return 1 ;; esac
}

@test "lr_net_setup: a lease the script cannot apply is reported" {
	mkdev eth0 2
	mkudhcpc
	IP_FAIL='addr add *'
	run --separate-stderr netsetup ''
	[ "$status" -eq 1 ]
	[ "$output" = "eth0: cannot apply the DHCP lease: ip addr add 10.0.2.15/24 dev eth0: RTNETLINK answers: File exists" ]
}

@test "lr_net_setup: static configuration, hostname and DNS" {
	mkdev eth0 2
	mkudhcpc
	run --separate-stderr netsetup 'ip=10.0.2.15::10.0.2.2:255.255.255.0:node1:eth0:off:10.0.2.3'
	[ "$status" -eq 0 ]
	grep -qx 'ip addr add 10.0.2.15/24 dev eth0' "$CALLS"
	grep -qx 'ip route add default via 10.0.2.2 dev eth0' "$CALLS"
	grep -qx 'hostname node1' "$CALLS"
	run grep -c udhcpc "$CALLS"
	[ "$output" = 0 ]
	[ "$(cat "$RESOLV_CONF")" = "nameserver 10.0.2.3" ]
}

@test "lr_net_setup: a refused static address names the interface and the error" {
	mkdev eth0 2
	IP_FAIL='addr add *'
	run --separate-stderr netsetup 'ip=10.0.2.15:::24::eth0:off'
	[ "$status" -eq 1 ]
	[ "$output" = "eth0: cannot add address 10.0.2.15/24: RTNETLINK answers: File exists" ]
}

@test "lr_net_setup waits for a named interface that appears late" {
	mkudhcpc
	(sleep 1.5 && mkdev eth0 2) &
	run --separate-stderr netsetup 'ip=eth0:dhcp rd.lazyroot.nettimeout=10'
	wait
	[ "$status" -eq 0 ]
	grep -q '^udhcpc -i eth0 ' "$CALLS"
}

@test "lr_net_setup gives up on a missing interface after the timeout" {
	mkdev eth0 2
	start=$(date +%s)
	run --separate-stderr netsetup 'ip=eth7:dhcp rd.lazyroot.nettimeout=2'
	[ "$status" -eq 1 ]
	[ "$output" = "eth7: no such network interface after 2s" ]
	[ $(($(date +%s) - start)) -le 5 ]
}

@test "lr_net_setup: no ethernet interface at all" {
	mkdir -p "$BATS_TEST_TMPDIR/sys/class/net/lo"
	run --separate-stderr netsetup 'rd.lazyroot.nettimeout=1'
	[ "$status" -eq 1 ]
	[ "$output" = "no ethernet interface appeared within 1s (is its driver built into the kernel?)" ]
}

@test "lr_net_setup: ip=off only raises lo" {
	run --separate-stderr netsetup 'ip=off'
	[ "$status" -eq 0 ]
	[ "$(cat "$CALLS")" = "ip link set dev lo up" ]
}
