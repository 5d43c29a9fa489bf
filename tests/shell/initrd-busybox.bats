#!/usr/bin/env bats
# Unit tests of initrd/lazyroot-busybox.sh, what only the busybox /init needs: getarg and
# getargbool (the kernel's command line grammar), the rest of the command line, ip=, the
# network probes, switch_root's helpers and the one-line messages. Sourced into the test
# shell with lazyroot-lib.sh, as /init does; functions that report through variables are
# called directly (not through `run`, which would lose the variables).

bats_require_minimum_version 1.5.0

load ../lib/initrd-test

# --- getarg -------------------------------------------------------------------------

@test "getarg prints the value of NAME=VALUE" {
	CMDLINE='console=ttyS0 erofs.fsid=rootfs-v2 quiet'
	run getarg erofs.fsid
	[ "$status" -eq 0 ]
	[ "$output" = rootfs-v2 ]
}

@test "getarg: the last occurrence wins" {
	CMDLINE='ip=dhcp erofs.fsid=a ip=eth1:dhcp'
	run getarg ip
	[ "$output" = eth1:dhcp ]
}

@test "getarg: a bare NAME succeeds with an empty value" {
	CMDLINE='ro rd.shell quiet'
	run getarg rd.shell
	[ "$status" -eq 0 ]
	[ -z "$output" ]
}

@test "getarg: an absent NAME fails without output" {
	CMDLINE='console=ttyS0 erofs.fsidx=a xerofs.fsid=b erofs.fsid.x=c'
	run getarg erofs.fsid
	[ "$status" -eq 1 ]
	[ -z "$output" ]
}

@test "getarg: empty command line" {
	CMDLINE=
	run getarg init
	[ "$status" -eq 1 ]
}

@test "getarg: a trailing '=' on NAME is the same NAME" {
	CMDLINE='init=/bin/sh'
	run getarg init=
	[ "$output" = /bin/sh ]
}

@test "getarg keeps '=' inside the value" {
	CMDLINE='erofs.url=https://h/img?a=b&c=d'
	run getarg erofs.url
	[ "$output" = 'https://h/img?a=b&c=d' ]
}

@test "getarg: NAME=\"quoted value\" and \"NAME=quoted value\" lose their quotes" {
	CMDLINE='a=1 erofs.url="https://h/x y" "b=two words" c=3'
	run getarg erofs.url
	[ "$output" = 'https://h/x y' ]
	run getarg b
	[ "$output" = 'two words' ]
	run getarg c
	[ "$output" = 3 ]
}

@test "getarg: a quoted bare word" {
	CMDLINE='"rd.shell" x=1'
	run getarg rd.shell
	[ "$status" -eq 0 ]
	[ -z "$output" ]
}

@test "getarg stops at -- (the rest is init's)" {
	CMDLINE='erofs.fsid=a -- init=/bad single'
	run getarg init
	[ "$status" -eq 1 ]
	CMDLINE='x="q" erofs.fsid=a -- init=/bad'
	run getarg init
	[ "$status" -eq 1 ]
	run getarg erofs.fsid
	[ "$output" = a ]
}

@test "getarg: a quoted -- ends the parameters too, a -- inside a word does not" {
	CMDLINE='erofs.fsid=a "--" init=/bad'
	run getarg init
	[ "$status" -eq 1 ]
	CMDLINE='x=-- a--b -- init=/bad'
	run getarg x
	[ "$output" = -- ]
	run getarg a--b
	[ "$status" -eq 0 ]
	run getarg init
	[ "$status" -eq 1 ]
}

@test "getarg: a quote inside a value stays; only an opening and a closing one go" {
	CMDLINE='x="a"b y=a"b c"d z="q"'
	run getarg x
	[ "$output" = 'a"b' ]
	run getarg y
	[ "$output" = 'a"b c"d' ]
	run getarg z
	[ "$output" = q ]
}

@test "getarg: glob characters are not expanded" {
	cd "$BATS_TEST_TMPDIR"
	touch afile
	CMDLINE='x=* y=a*'
	run getarg x
	[ "$output" = '*' ]
	run getarg y
	[ "$output" = 'a*' ]
}

@test "getarg: tabs and the trailing newline of /proc/cmdline separate words" {
	CMDLINE=$(printf 'a=1\tb=2\nc=3\n')
	run getarg b
	[ "$output" = 2 ]
	run getarg c
	[ "$output" = 3 ]
}

@test "getarg: NAME with regex/glob characters matches literally" {
	CMDLINE='rdxshell=1 rd.shell=0'
	run getarg rd.shell
	[ "$output" = 0 ]
	CMDLINE='rdxshell=1'
	run getarg 'rd.shell'
	[ "$status" -eq 1 ]
	run getarg 'rd*'
	[ "$status" -eq 1 ]
}

# --- getargbool -----------------------------------------------------------------------

@test "getargbool: absent gives the default" {
	CMDLINE='quiet'
	run getargbool 0 rd.shell
	[ "$status" -eq 1 ]
	run getargbool 1 rd.shell
	[ "$status" -eq 0 ]
}

@test "getargbool: a bare name is true" {
	CMDLINE='rd.shell'
	run getargbool 0 rd.shell
	[ "$status" -eq 0 ]
}

@test "getargbool: 0, no, off, false, n are false whatever the default" {
	for v in 0 no off false n; do
		CMDLINE="rd.shell=$v"
		run getargbool 1 rd.shell
		[ "$status" -eq 1 ] || { echo "rd.shell=$v was true"; return 1; }
	done
}

@test "getargbool: 1, yes, on, true and other values are true" {
	for v in 1 yes on true y please; do
		CMDLINE="rd.shell=$v"
		run getargbool 0 rd.shell
		[ "$status" -eq 0 ] || { echo "rd.shell=$v was false"; return 1; }
	done
}

@test "getargbool: the last occurrence wins" {
	CMDLINE='rd.shell=1 rd.shell=0'
	run getargbool 0 rd.shell
	[ "$status" -eq 1 ]
	CMDLINE='rd.shell=0 rd.shell'
	run getargbool 0 rd.shell
	[ "$status" -eq 0 ]
}

@test "lr_parse_flags sets LR_SHELL, LR_DEBUG, LR_QUIET" {
	CMDLINE='rd.shell rd.lazyroot.debug=1 quiet'
	lr_parse_flags
	[ "$LR_SHELL" = 1 ]
	[ "$LR_DEBUG" = 1 ]
	[ "$LR_QUIET" = 1 ]
	CMDLINE='rd.shell=0'
	lr_parse_flags
	[ -z "$LR_SHELL" ]
	[ -z "$LR_DEBUG" ]
	[ -z "$LR_QUIET" ]
}

# --- the whole command line -----------------------------------------------------------

@test "lr_parse_cmdline: defaults" {
	export LR_MEMINFO="$BATS_TEST_TMPDIR/meminfo"
	printf 'MemTotal:       24000000 kB\n' > "$LR_MEMINFO"
	CMDLINE='console=ttyS0 erofs.fsid=rootfs-v1 erofs.url=https://10.0.2.2:8443/img/'
	lr_parse_cmdline
	[ "$LR_FSID" = rootfs-v1 ]
	[ "$LR_URL" = https://10.0.2.2:8443/img/ ]
	[ "$LR_INIT" = /sbin/init ]
	[ "$LR_CACHESIZE" = 4294967296 ]
	[ "$LR_CACHESIZE_ARG" = 4G ]
	[ "$LR_NET_TIMEOUT" = 30 ]
	[ "$IP_MODE" = dhcp ]
	[ -z "$IP_DEV" ]
}

@test "lr_parse_cmdline: everything given" {
	CMDLINE='erofs.fsid=r erofs.url="https://h/i/" init=/lib/systemd/systemd erofs.cachesize=512M ip=eth1:dhcp rd.lazyroot.nettimeout=5'
	lr_parse_cmdline
	[ "$LR_URL" = https://h/i/ ]
	[ "$LR_INIT" = /lib/systemd/systemd ]
	[ "$LR_CACHESIZE" = 536870912 ]
	[ "$LR_CACHESIZE_ARG" = 512M ]
	[ "$IP_MODE" = dhcp ]
	[ "$IP_DEV" = eth1 ]
	[ "$LR_NET_TIMEOUT" = 5 ]
}

@test "lr_parse_cmdline: an empty value is the default, as if the parameter were absent" {
	export LR_MEMINFO="$BATS_TEST_TMPDIR/meminfo"
	printf 'MemTotal:       24000000 kB\n' > "$LR_MEMINFO"
	CMDLINE='erofs.fsid=r erofs.url=https://h/ erofs.cachesize= erofs.cache= init= ip= rd.lazyroot.nettimeout='
	lr_parse_cmdline
	[ "$LR_CACHESIZE_ARG" = 4G ]
	[ -z "$LR_CACHEDEV" ]
	[ "$LR_INIT" = /sbin/init ]
	[ "$IP_MODE" = dhcp ]
	[ "$LR_NET_TIMEOUT" = 30 ]
}

@test "lr_parse_cmdline: init must be absolute" {
	CMDLINE='erofs.fsid=a erofs.url=https://h/ init=sbin/init'
	fails lr_parse_cmdline
	[ "$LR_ERR" = "init=sbin/init: must be an absolute path" ]
	CMDLINE='erofs.fsid=a erofs.url=https://h/ init='
	lr_parse_cmdline
	[ "$LR_INIT" = /sbin/init ]
}

@test "lr_parse_cmdline: bad cachesize, ip and nettimeout are reported" {
	CMDLINE='erofs.fsid=a erofs.url=https://h/ erofs.cachesize=lots'
	fails lr_parse_cmdline
	case $LR_ERR in "erofs.cachesize=lots: "*) ;; *) return 1 ;; esac
	CMDLINE='erofs.fsid=a erofs.url=https://h/ ip=bogus'
	fails lr_parse_cmdline
	case $LR_ERR in "ip=bogus: "*) ;; *) return 1 ;; esac
	for t in 0 -1 abc 3601 1.5; do
		CMDLINE="erofs.fsid=a erofs.url=https://h/ rd.lazyroot.nettimeout=$t"
		fails lr_parse_cmdline || { echo "accepted nettimeout=$t"; return 1; }
		case $LR_ERR in "rd.lazyroot.nettimeout=$t: "*) ;; *) return 1 ;; esac
	done
}

# --- ip= -------------------------------------------------------------------------------

@test "lr_parse_ip: absent, dhcp, on, any mean DHCP on the first ethernet interface" {
	for v in '' dhcp on any; do
		lr_parse_ip "$v"
		[ "$IP_MODE" = dhcp ] && [ -z "$IP_DEV" ] || { echo "ip=$v"; return 1; }
	done
}

@test "lr_parse_ip: off and none leave the network alone" {
	lr_parse_ip off
	[ "$IP_MODE" = off ]
	lr_parse_ip none
	[ "$IP_MODE" = off ]
}

@test "lr_parse_ip: <dev>:dhcp" {
	lr_parse_ip enp0s3:dhcp
	[ "$IP_MODE" = dhcp ]
	[ "$IP_DEV" = enp0s3 ]
	lr_parse_ip eth0:on
	[ "$IP_MODE" = dhcp ]
	[ "$IP_DEV" = eth0 ]
}

@test "lr_parse_ip: the kernel's static form" {
	lr_parse_ip 10.0.2.15:10.0.2.2:10.0.2.2:255.255.255.0:guest:eth0:off:10.0.2.3:1.1.1.1
	[ "$IP_MODE" = static ]
	[ "$IP_ADDR" = 10.0.2.15 ]
	[ "$IP_PREFIX" = 24 ]
	[ "$IP_GW" = 10.0.2.2 ]
	[ "$IP_HOSTNAME" = guest ]
	[ "$IP_DEV" = eth0 ]
	[ "$IP_DNS" = "10.0.2.3 1.1.1.1" ]
}

@test "lr_parse_ip: static with short forms (no gateway, device, autoconf, dns)" {
	lr_parse_ip 192.168.1.20::::::
	[ "$IP_MODE" = static ]
	[ "$IP_ADDR" = 192.168.1.20 ]
	[ "$IP_PREFIX" = 24 ]
	[ -z "$IP_GW" ]
	[ -z "$IP_DEV" ]
	[ -z "$IP_DNS" ]
	lr_parse_ip 10.1.2.3::10.0.0.1
	[ "$IP_MODE" = static ]
	[ "$IP_PREFIX" = 8 ]
	[ "$IP_GW" = 10.0.0.1 ]
	lr_parse_ip 172.16.5.5:::::eth2:none
	[ "$IP_PREFIX" = 16 ]
	[ "$IP_DEV" = eth2 ]
	lr_parse_ip 10.0.2.15:::255.255.255.0::eth0:static::10.0.2.3
	[ "$IP_MODE" = static ]
	[ "$IP_DNS" = 10.0.2.3 ]
}

@test "lr_parse_ip: netmask as dotted quad or prefix length" {
	lr_parse_ip 10.0.2.15:::255.255.255.252::eth0:off
	[ "$IP_PREFIX" = 30 ]
	lr_parse_ip 10.0.2.15:::255.255.0.0::eth0:off
	[ "$IP_PREFIX" = 16 ]
	lr_parse_ip 10.0.2.15:::255.255.255.255::eth0:off
	[ "$IP_PREFIX" = 32 ]
	lr_parse_ip 10.0.2.15:::0.0.0.0::eth0:off
	[ "$IP_PREFIX" = 0 ]
	lr_parse_ip 10.0.2.15:::20::eth0:off
	[ "$IP_PREFIX" = 20 ]
}

@test "lr_parse_ip: DHCP in the long form, with device, hostname and DNS" {
	lr_parse_ip :::::eth1:dhcp
	[ "$IP_MODE" = dhcp ]
	[ "$IP_DEV" = eth1 ]
	[ -z "$IP_ADDR" ]
	lr_parse_ip ::::node7:eth0:any:10.0.2.3
	[ "$IP_MODE" = dhcp ]
	[ "$IP_HOSTNAME" = node7 ]
	[ "$IP_DNS" = 10.0.2.3 ]
	# no client and no autoconf: the kernel autoconfigures
	lr_parse_ip :::::eth3:
	[ "$IP_MODE" = dhcp ]
	[ "$IP_DEV" = eth3 ]
}

@test "lr_parse_ip: bad addresses are named" {
	fails lr_parse_ip 10.0.2.256:::255.255.255.0::eth0:off
	[ "$LR_ERR" = "ip=10.0.2.256:::255.255.255.0::eth0:off: <client> '10.0.2.256' is not an IPv4 address" ]
	fails lr_parse_ip 10.0.2.15::10.0.2:255.255.255.0::eth0:off
	case $LR_ERR in *"<gw> '10.0.2' is not an IPv4 address") ;; *) return 1 ;; esac
	fails lr_parse_ip 10.0.2.15::::::off:8.8.8.08
	case $LR_ERR in *"<dns0> '8.8.8.08' is not an IPv4 address") ;; *) return 1 ;; esac
	fails lr_parse_ip 10.0.2.15::::::off::1.2.3.4.5
	case $LR_ERR in *"<dns1> '1.2.3.4.5' is not an IPv4 address") ;; *) return 1 ;; esac
	fails lr_parse_ip 010.0.2.15::::::off
	fails lr_parse_ip 10..2.15::::::off
}

@test "lr_parse_ip: bad netmasks are named" {
	for m in 255.0.255.0 255.255.255.1 33 255.255.256.0 255.255.255; do
		LR_ERR=
		fails lr_parse_ip "10.0.2.15:::$m::eth0:off" || { echo "accepted $m"; return 1; }
		[ "$LR_ERR" = "ip=10.0.2.15:::$m::eth0:off: <netmask> '$m' is not a netmask or prefix length" ]
	done
}

@test "lr_parse_ip: a class D/E client without netmask has no default" {
	fails lr_parse_ip 224.0.0.1::::::off
	case $LR_ERR in *"no <netmask>"*) ;; *) return 1 ;; esac
}

@test "lr_parse_ip: static autoconf without a client address" {
	fails lr_parse_ip :::::eth0:off
	[ "$LR_ERR" = "ip=:::::eth0:off: <autoconf> 'off' needs a <client> address" ]
}

@test "lr_parse_ip: unsupported and unknown methods" {
	fails lr_parse_ip bootp
	[ "$LR_ERR" = "ip=bootp: unsupported method (lazyroot does DHCPv4 or static IPv4)" ]
	fails lr_parse_ip dhcp6
	fails lr_parse_ip :::::eth0:rarp
	case $LR_ERR in *"unsupported <autoconf> 'rarp'"*) ;; *) return 1 ;; esac
	fails lr_parse_ip 10.0.2.15::::::magic
	case $LR_ERR in *"unknown <autoconf> 'magic'"*) ;; *) return 1 ;; esac
	fails lr_parse_ip eth0:static
	case $LR_ERR in "ip=eth0:static: expected "*) ;; *) return 1 ;; esac
}

@test "lr_parse_ip: garbage, injection and oversized values" {
	for v in foo eth0 'eth0:dhcp;reboot' '$(reboot):dhcp' 'a b:dhcp' '*:dhcp' \
		eth0:dhcp:1500 1:2:3:4:5:6:7:8:9:10:11; do
		LR_ERR=
		fails lr_parse_ip "$v" || { echo "accepted '$v'"; return 1; }
		case $LR_ERR in "ip=$v: "*) ;; *)
			echo "bad message for '$v': $LR_ERR"
			return 1
			;;
		esac
	done
	fails lr_parse_ip averyveryverylongname0:dhcp
	case $LR_ERR in *"longer than 15 characters"*) ;; *) return 1 ;; esac
	fails lr_parse_ip 10.0.2.15::::-bad:eth0:off
	case $LR_ERR in *"bad hostname '-bad'"*) ;; *) return 1 ;; esac
}

@test "lr_parse_ip does not leak IFS or positional parameters" {
	set -- one two
	lr_parse_ip 10.0.2.15:::255.255.255.0::eth0:off
	[ "$IFS" = $' \t\n' ]
	[ "$1" = one ]
	[ "$#" -eq 2 ]
}

@test "lr_is_ipv4 and lr_mask_to_prefix" {
	lr_is_ipv4 0.0.0.0
	lr_is_ipv4 255.255.255.255
	fails lr_is_ipv4 1.2.3
	fails lr_is_ipv4 1.2.3.4.
	fails lr_is_ipv4 .1.2.3.4
	fails lr_is_ipv4 1.2.3.1000
	fails lr_is_ipv4 ''
	lr_mask_to_prefix 255.255.255.128
	[ "$LR_PREFIX" = 25 ]
	lr_mask_to_prefix 128.0.0.0
	[ "$LR_PREFIX" = 1 ]
	fails lr_mask_to_prefix 0.255.255.255
}

# --- the network and switch_root's helpers --------------------------------------------

mknetdev() { # mknetdev NAME TYPE IFINDEX [device|nodevice] [wireless]
	local d=$LR_SYSFS/class/net/$1
	mkdir -p "$d"
	echo "$2" >"$d/type"
	echo "$3" >"$d/ifindex"
	[ "${4:-device}" = nodevice ] || mkdir "$d/device"
	[ -z "${5:-}" ] || mkdir "$d/wireless"
}

@test "lr_find_netdev picks the lowest-ifindex ethernet device, skipping virtual and wireless" {
	LR_SYSFS=$BATS_TEST_TMPDIR/sys
	mknetdev lo 772 1 nodevice
	mknetdev dummy0 1 2 nodevice
	mknetdev wlan0 1 3 device wireless
	mknetdev sit0 776 4 nodevice
	mknetdev ib0 32 5 device
	mknetdev eth1 1 7
	mknetdev eth0 1 6
	run lr_find_netdev
	[ "$status" -eq 0 ]
	[ "$output" = eth0 ]
}

@test "lr_find_netdev fails when only lo exists" {
	LR_SYSFS=$BATS_TEST_TMPDIR/sys
	mknetdev lo 772 1 nodevice
	run lr_find_netdev
	[ "$status" -eq 1 ]
	[ -z "$output" ]
}

@test "lr_resolve_in_root resolves links inside the root, merged-/usr style" {
	r=$BATS_TEST_TMPDIR/root
	mkdir -p "$r/usr/sbin" "$r/usr/lib/systemd" "$r/usr/bin"
	ln -s usr/sbin "$r/sbin"
	ln -s usr/lib "$r/lib"
	echo x >"$r/usr/lib/systemd/systemd"
	ln -s ../lib/systemd/systemd "$r/usr/sbin/init"
	ln -s /lib/systemd/systemd "$r/usr/bin/absinit"
	ln -s ../../../../../../usr/lib/systemd/systemd "$r/usr/bin/dotdot"
	[ "$(lr_resolve_in_root "$r" /sbin/init)" = /usr/lib/systemd/systemd ]
	[ "$(lr_resolve_in_root "$r" /usr/bin/absinit)" = /usr/lib/systemd/systemd ]
	[ "$(lr_resolve_in_root "$r" /usr/bin/dotdot)" = /usr/lib/systemd/systemd ]
	[ "$(lr_resolve_in_root "$r" //sbin/./init)" = /usr/lib/systemd/systemd ]
	[ "$(lr_resolve_in_root "$r" /usr/sbin/missing)" = /usr/sbin/missing ]
	# an absolute link must not escape to the host's file of the same name
	ln -s /bin/sh "$r/usr/bin/hostsh"
	[ "$(lr_resolve_in_root "$r" /usr/bin/hostsh)" = /bin/sh ]
	[ ! -e "$r/bin/sh" ]
}

@test "lr_resolve_in_root gives up on link loops" {
	r=$BATS_TEST_TMPDIR/root
	mkdir -p "$r/sbin"
	ln -s b "$r/sbin/a"
	ln -s a "$r/sbin/b"
	run lr_resolve_in_root "$r" /sbin/a
	[ "$status" -eq 1 ]
}

# --- messages ------------------------------------------------------------------------------

@test "die prints exactly one line and exits 1" {
	run -1 --separate-stderr die "cannot mount EROFS fsid=x: HTTP 404"
	[ -z "$output" ]
	[ "$stderr" = "lazyroot: cannot mount EROFS fsid=x: HTTP 404" ]
}

@test "die folds a multi-line message into one line" {
	run -1 --separate-stderr die "$(printf 'eth0: cannot add address: RTNETLINK answers\nsecond line')"
	[ "${#stderr_lines[@]}" -eq 1 ]
	[ "$stderr" = "lazyroot: eth0: cannot add address: RTNETLINK answers second line" ]
}

@test "die with rd.shell starts the emergency shell after the line" {
	lr_emergency_shell() {
		echo "shell started" >&2
		exit 7
	}
	LR_SHELL=1
	run -7 --separate-stderr die "boom"
	[ "${stderr_lines[0]}" = "lazyroot: boom" ]
	[ "${stderr_lines[1]}" = "shell started" ]
}

@test "info is hidden by quiet unless debugging; warn never is" {
	LR_QUIET=1
	run --separate-stderr info "step"
	[ -z "$stderr" ]
	run --separate-stderr warn "careful"
	[ "$stderr" = "lazyroot: warning: careful" ]
	LR_DEBUG=1
	run --separate-stderr info "step"
	[ "$stderr" = "lazyroot: step" ]
	LR_QUIET= LR_DEBUG=
	run --separate-stderr info "step"
	[ "$stderr" = "lazyroot: step" ]
}

@test "the library parses the same under busybox ash and dash" {
	for sh in "busybox sh" dash; do
		command -v "${sh%% *}" >/dev/null || continue
		run $sh -c '. "$1"; . "$2"; CMDLINE="$3"; lr_parse_cmdline || { echo "$LR_ERR"; exit 1; }
			echo "$LR_FSID|$LR_URL|$LR_INIT|$LR_CACHESIZE|$IP_MODE|$IP_DEV|$IP_ADDR/$IP_PREFIX|$IP_GW|$IP_DNS"' \
			sh "$I/lazyroot-busybox.sh" "$LIB" 'erofs.fsid=r2 "erofs.url=https://h/i/" erofs.cachesize=64M ip=10.0.2.15::10.0.2.2:255.255.255.0::eth0:off:10.0.2.3 -- init=/x'
		[ "$status" -eq 0 ]
		[ "$output" = "r2|https://h/i/|/sbin/init|67108864|static|eth0|10.0.2.15/24|10.0.2.2|10.0.2.3" ] ||
			{ echo "$sh: $output"; return 1; }
	done
}
