# shellcheck shell=sh disable=SC3043,SC2034
# (local: busybox ash, dash and bash all have it; SC2034: the variables are for /init)
# lazyroot-busybox.sh: what only the busybox /init of lazyroot-mkinitrd needs, sourced before
# lazyroot-lib.sh (the steps it shares with the dracut module): stand-ins for dracut-lib's
# getarg, getargbool, info, warn and die that read $CMDLINE and print "lazyroot: ..." lines,
# the rest of the command line (ip=, init=, rd.shell, rd.lazyroot.nettimeout=, quiet), the
# kernel modules of lazyroot-mkinitrd --kmoddir, the network (DHCP through udhcpc and
# udhcpc.script, or static), and switch_root's helpers.
# The dracut image does not ship this file: there, dracut-lib.sh and dracut's network module
# do all this.
#
# The grammar of the command line and every parameter: docs/cmdline.md. getarg follows the
# kernel's grammar exactly (lr_cmdline_words).
#
# Conventions: parsing functions take their input from $CMDLINE or their arguments and set
# LR_* / IP_* variables; on bad input they set LR_ERR to one line naming the bad value and
# return 1. The setup functions (lr_net_setup, and lazyroot-lib.sh's) do the same on failure,
# so /init can always `lr_x || die "$LR_ERR"`: one line, then the shell or the panic.

LR_SYSFS=${LR_SYSFS:-/sys}
LR_LIBDIR=${LR_LIBDIR:-/lib/lazyroot}
LR_MODDIR=${LR_MODDIR:-/lib/modules}
LR_KMOD_LIST=${LR_KMOD_LIST:-$LR_LIBDIR/kmod.list}

# info, warn, die, getarg, getargbool: dracut-lib.sh's names and calling conventions, so that
# lazyroot-lib.sh runs the same under both inits; their lines say "lazyroot: ".
info() {
	[ -n "${LR_QUIET:-}" ] && [ -z "${LR_DEBUG:-}" ] && return 0
	printf 'lazyroot: %s\n' "$*" >&2
}

warn() {
	printf 'lazyroot: warning: %s\n' "$*" >&2
}

# die MESSAGE: print exactly one line "lazyroot: MESSAGE" on the console, then either start
# the rd.shell shell or exit. /init is PID 1, so exiting makes the kernel panic ("Attempted
# to kill init"); users who want a reboot instead add panic=N (seconds) to the command line.
die() {
	printf 'lazyroot: %s\n' "$(printf '%s' "$*" | tr '\n' ' ')" >&2
	[ -n "${LR_SHELL:-}" ] && lr_emergency_shell
	exit 1
}

# The console shell for rd.shell. PID 1 is not a process group leader (its pgid is 0), so
# setsid does not fork and the shell stays PID 1; cttyhack gives it the real console as its
# controlling tty, so job control and ^C work. Leaving the shell panics like a plain die.
lr_emergency_shell() {
	exec setsid cttyhack sh
}

# Print the parameters of $CMDLINE one per line, unquoted the way the kernel's next_arg()
# does: double quotes group blanks, and a quote opening the parameter or its value is dropped
# with the final quote. Stops at "--" (what follows belongs to init).
lr_cmdline_words() {
	case $CMDLINE in
	*'"'*)
		lr__split_quoted
		;;
	*)
		(
			set -f
			# shellcheck disable=SC2086 # splitting on blanks is the point
			for _w in $CMDLINE; do
				[ "$_w" = -- ] && break
				printf '%s\n' "$_w"
			done
		)
		;;
	esac
}

lr__split_quoted() {
	local s="$CMDLINE" c w='' inq='' have=''
	while [ -n "$s" ]; do
		c=${s%"${s#?}"}
		s=${s#?}
		case $c in
		' ' | '	' | '
')
			if [ -n "$inq" ]; then
				w=$w$c
			elif [ -n "$have" ]; then
				lr__emit_word "$w" || return 0
				w='' have=''
			fi
			;;
		'"')
			if [ -n "$inq" ]; then inq=''; else inq=1; fi
			w=$w$c have=1
			;;
		*)
			w=$w$c have=1
			;;
		esac
	done
	[ -z "$have" ] || lr__emit_word "$w" || :
}

# lr__emit_word RAW: print one parameter without its quotes; return 1 at "--" (quoted or not,
# as the kernel's parse_args sees it).
lr__emit_word() {
	local p="$1" q='' name val
	case $p in '"'*) p=${p#?} q=1 ;; esac
	case $p in
	*=*)
		name=${p%%=*} val=${p#*=}
		case $val in
		'"'*) val=${val#?} val=${val%'"'} ;;
		*) [ -z "$q" ] || val=${val%'"'} ;;
		esac
		printf '%s=%s\n' "$name" "$val"
		;;
	*)
		[ -z "$q" ] || p=${p%'"'}
		[ "$p" != -- ] || return 1
		printf '%s\n' "$p"
		;;
	esac
}

# getarg NAME: print the value of the last NAME=VALUE in $CMDLINE (nothing for a bare NAME)
# and return 0; return 1 when NAME is absent. A trailing '=' on NAME is ignored.
getarg() {
	local name="${1%=}" w val='' found=1
	while IFS= read -r w; do
		case $w in
		"$name") val='' found=0 ;;
		"$name"=*) val=${w#"$name"=} found=0 ;;
		esac
	done <<EOF
$(lr_cmdline_words)
EOF
	[ "$found" -eq 0 ] && printf '%s\n' "$val"
	return "$found"
}

# getargbool DEFAULT NAME: true (0) when NAME is present bare or with any value but
# 0/no/off/false/n; when NAME is absent, true only if DEFAULT is 1.
getargbool() {
	local def="$1" val
	if ! val=$(getarg "$2"); then
		[ "$def" = 1 ]
		return
	fi
	case $val in
	0 | no | off | false | n) return 1 ;;
	*) return 0 ;;
	esac
}

# lr_is_ipv4 ADDR: dotted quad, each part 0..255 without leading zeros.
lr_is_ipv4() {
	local IFS=. x
	case $1 in
	'' | *[!0-9.]* | .* | *. | *..*) return 1 ;;
	esac
	# shellcheck disable=SC2086 # split on dots; only digits and dots are left
	set -- $1
	[ $# -eq 4 ] || return 1
	for x; do
		case $x in
		0?* | ????*) return 1 ;;
		esac
		[ "$x" -le 255 ] || return 1
	done
}

# lr_mask_to_prefix MASK: set LR_PREFIX from a dotted netmask or a prefix length 0..32.
lr_mask_to_prefix() {
	local IFS=. o bits=0 rest=''
	case $1 in
	[0-9] | [12][0-9] | 3[0-2])
		LR_PREFIX=$1
		return 0
		;;
	esac
	lr_is_ipv4 "$1" || return 1
	# shellcheck disable=SC2086 # split on dots
	set -- $1
	for o; do
		if [ -n "$rest" ]; then
			[ "$o" -eq 0 ] || return 1
			continue
		fi
		case $o in
		255) bits=$((bits + 8)) ;;
		254) bits=$((bits + 7)) rest=1 ;;
		252) bits=$((bits + 6)) rest=1 ;;
		248) bits=$((bits + 5)) rest=1 ;;
		240) bits=$((bits + 4)) rest=1 ;;
		224) bits=$((bits + 3)) rest=1 ;;
		192) bits=$((bits + 2)) rest=1 ;;
		128) bits=$((bits + 1)) rest=1 ;;
		0) rest=1 ;;
		*) return 1 ;;
		esac
	done
	LR_PREFIX=$bits
}

# lr_classful_prefix ADDR: set LR_PREFIX to the class A/B/C default, as the kernel's ip= does
# when the netmask is left out.
lr_classful_prefix() {
	local first="${1%%.*}"
	if [ "$first" -lt 128 ]; then
		LR_PREFIX=8
	elif [ "$first" -lt 192 ]; then
		LR_PREFIX=16
	elif [ "$first" -lt 224 ]; then
		LR_PREFIX=24
	else
		return 1
	fi
}

# lr_parse_ip VALUE: parse an ip= value (empty = absent). Sets IP_MODE (dhcp, static, off),
# IP_DEV (empty: first ethernet interface), IP_ADDR, IP_PREFIX, IP_GW, IP_HOSTNAME, IP_DNS.
lr_parse_ip() {
	local v="$1" IFS=: client server gw mask host dev auto dns0 dns1 x a
	local usage='expected dhcp, off, <dev>:dhcp or <client>:<server>:<gw>:<netmask>:<hostname>:<dev>:<autoconf>:<dns0>:<dns1>'
	IP_MODE='' IP_DEV='' IP_ADDR='' IP_PREFIX='' IP_GW='' IP_HOSTNAME='' IP_DNS=''
	case $v in
	'' | dhcp | on | any)
		IP_MODE=dhcp
		return 0
		;;
	off | none)
		IP_MODE=off
		return 0
		;;
	*[!A-Za-z0-9.:_-]*)
		LR_ERR="ip=$v: $usage"
		return 1
		;;
	*:*) ;;
	bootp | rarp | both | dhcp6 | auto6 | ibft)
		LR_ERR="ip=$v: unsupported method (lazyroot does DHCPv4 or static IPv4)"
		return 1
		;;
	*)
		LR_ERR="ip=$v: $usage"
		return 1
		;;
	esac
	# shellcheck disable=SC2086 # split on ':'; glob characters were refused above
	set -- $v
	client=${1-} server=${2-} gw=${3-} mask=${4-} host=${5-} dev=${6-} auto=${7-}
	dns0=${8-} dns1=${9-}
	if [ $# -eq 2 ] && [ -n "$client" ] && ! lr_is_ipv4 "$client"; then
		# <dev>:<method>, dracut's short form
		dev=$client client='' auto=$server server=''
		case $auto in
		dhcp | on | any) ;;
		*)
			LR_ERR="ip=$v: $usage"
			return 1
			;;
		esac
	elif [ $# -gt 10 ]; then
		LR_ERR="ip=$v: too many fields; $usage"
		return 1
	fi
	for x in client server gw dns0 dns1; do
		eval "a=\$$x"
		if [ -n "$a" ] && ! lr_is_ipv4 "$a"; then
			LR_ERR="ip=$v: <$x> '$a' is not an IPv4 address"
			return 1
		fi
	done
	case $dev in
	'' | [A-Za-z0-9]*) ;;
	*)
		LR_ERR="ip=$v: bad interface name '$dev'"
		return 1
		;;
	esac
	if [ ${#dev} -gt 15 ]; then
		LR_ERR="ip=$v: bad interface name '$dev' (longer than 15 characters)"
		return 1
	fi
	case $host in
	-* | *_*)
		LR_ERR="ip=$v: bad hostname '$host'"
		return 1
		;;
	esac
	case $auto in
	dhcp | on | any)
		IP_MODE=dhcp
		;;
	'' | off | none | static)
		if [ -z "$client" ]; then
			if [ -n "$auto" ]; then
				LR_ERR="ip=$v: <autoconf> '$auto' needs a <client> address"
				return 1
			fi
			IP_MODE=dhcp
		else
			IP_MODE=static
		fi
		;;
	bootp | rarp | both | dhcp6 | auto6 | ibft)
		LR_ERR="ip=$v: unsupported <autoconf> '$auto' (lazyroot does DHCPv4 or static IPv4)"
		return 1
		;;
	*)
		LR_ERR="ip=$v: unknown <autoconf> '$auto'"
		return 1
		;;
	esac
	if [ "$IP_MODE" = static ]; then
		IP_ADDR=$client IP_GW=$gw
		if [ -n "$mask" ]; then
			if ! lr_mask_to_prefix "$mask"; then
				LR_ERR="ip=$v: <netmask> '$mask' is not a netmask or prefix length"
				return 1
			fi
		elif ! lr_classful_prefix "$client"; then
			LR_ERR="ip=$v: no <netmask> and '$client' has no class default"
			return 1
		fi
		IP_PREFIX=$LR_PREFIX
	fi
	IP_DEV=$dev IP_HOSTNAME=$host
	IP_DNS=$dns0${dns1:+${dns0:+ }$dns1}
}

# lr_parse_seconds NAME VALUE MAX: set LR_NUM to VALUE, an integer in 1..MAX.
lr_parse_seconds() {
	case $2 in
	'' | *[!0-9]* | 0*)
		LR_ERR="$1=$2: expected a whole number of seconds (1..$3)"
		return 1
		;;
	esac
	if [ ${#2} -gt 9 ] || [ "$2" -gt "$3" ]; then
		LR_ERR="$1=$2: expected a whole number of seconds (1..$3)"
		return 1
	fi
	LR_NUM=$2
}

# lr_parse_flags: the switches that shape failures; parsed first so every die() honours them.
lr_parse_flags() {
	LR_SHELL='' LR_DEBUG='' LR_QUIET=''
	getargbool 0 rd.shell && LR_SHELL=1
	getargbool 0 rd.lazyroot.debug && LR_DEBUG=1
	getargbool 0 quiet && LR_QUIET=1
	return 0
}

# lr_parse_cmdline: parse everything /init needs from $CMDLINE: lr_parse_root's LR_FSID,
# LR_URL, LR_CACHESIZE, LR_CACHESIZE_ARG, LR_CACHEDEV, and LR_INIT, LR_NET_TIMEOUT, IP_*.
# An empty value is the default, as in lr_parse_root.
lr_parse_cmdline() {
	local v
	lr_parse_root || return 1

	v=$(getarg init) || v=''
	LR_INIT=${v:-/sbin/init}
	case $LR_INIT in
	/*) ;;
	*)
		LR_ERR="init=$LR_INIT: must be an absolute path"
		return 1
		;;
	esac

	LR_NET_TIMEOUT=30
	v=$(getarg rd.lazyroot.nettimeout) || v=''
	if [ -n "$v" ]; then
		lr_parse_seconds rd.lazyroot.nettimeout "$v" 3600 || return 1
		LR_NET_TIMEOUT=$LR_NUM
	fi

	v=$(getarg ip) || v=''
	lr_parse_ip "$v"
}

# lr_lazyrootd_at ARGS...: run /sbin/lazyrootd as "@lazyrootd" (for lr_daemon_start).
# shellcheck disable=SC3038 # busybox ash, which runs /init, has exec -a (with a path)
lr_lazyrootd_at() {
	(exec -a @lazyrootd /sbin/lazyrootd "$@")
}

# lr_kmod_load NAME ITEM...: insmod each ITEM, [?]MODULE:PATH under $LR_MODDIR/$LR_KVER, in
# order (kmod.list's sequence for NAME: what it needs first), skipping modules already
# loaded. A soft dependency ('?') may fail (crc32c_intel on a CPU without SSE 4.2); anything
# else sets LR_ERR to the module and the kernel's reason.
lr_kmod_load() {
	local name="$1" it opt m out
	shift
	for it; do
		opt=''
		case $it in '?'*) opt=1 it=${it#?} ;; esac
		m=${it%%:*}
		[ -e "$LR_SYSFS/module/$m/initstate" ] && continue
		out=$(insmod "$LR_MODDIR/$LR_KVER/${it#*:}" 2>&1 </dev/null) && continue
		[ -z "$opt" ] || continue
		out=$(printf '%s' "${out##*: }" | tr '\n' ' ')
		if [ "$m" = "$name" ]; then
			LR_ERR="cannot load kernel module $m: ${out:-insmod failed}"
		else
			LR_ERR="cannot load kernel module $m (needed by $name): ${out:-insmod failed}"
		fi
		return 1
	done
}

# lr_kmod_match LIST DONE: print the drivers of LIST (its "alias PATTERN NAME" lines) that
# match a device's modalias in sysfs, one a line, except those in DONE (blank-separated).
# awk does the matching: a PCI NIC driver has up to a hundred patterns.
lr_kmod_match() {
	{
		cat "$LR_SYSFS"/bus/*/devices/*/modalias 2>/dev/null
		echo --
		cat "$1"
	} | awk -v done=" $2 " '
	function glob2re(p,  re, i, c, n) {
		re = "^"
		n = length(p)
		for (i = 1; i <= n; i++) {
			c = substr(p, i, 1)
			if (c == "*")
				re = re ".*"
			else if (c == "?")
				re = re "."
			else if (c == "[") {
				re = re "["
				if (substr(p, i + 1, 1) == "!") {
					re = re "^"
					i++
				}
			} else if (c == "]")
				re = re "]"
			else if (index(".+^$(){}|\\/", c))
				re = re "\\" c
			else
				re = re c
		}
		return re "$"
	}
	!inlist {
		if ($0 == "--")
			inlist = 1
		else
			dev[++ndev] = $0
		next
	}
	$1 == "alias" && NF == 3 && !(($3 in hit)) && index(done, " " $3 " ") == 0 {
		# the pattern up to its first wildcard must begin the modalias: a cheap test
		# that spares nearly every regular expression (slow to compile under emulation)
		lit = $2
		sub(/[*?[].*/, "", lit)
		n = length(lit)
		re = ""
		for (i = 1; i <= ndev; i++)
			if (substr(dev[i], 1, n) == lit) {
				if (re == "")
					re = glob2re($2)
				if (dev[i] !~ re)
					continue
				hit[$3] = 1
				print $3
				break
			}
	}'
}

# lr_kmod_setup: the kernel modules lazyroot-mkinitrd --kmoddir put in the initramfs
# ($LR_KMOD_LIST; none: the kernel has all it needs built in, nothing to do). They must be
# for the running kernel. First the "load" modules (erofs, overlay, nbd...), then the drivers
# of the devices found, until no new device shows up (virtio_pci brings the virtio devices
# whose drivers come next). One line names the module that fails to load and why.
lr_kmod_setup() {
	local list="$LR_KMOD_LIST" kind name rest loaded='' drivers='' new round=0
	[ -e "$list" ] || return 0
	IFS=' ' read -r kind LR_KVER <"$list" || kind=''
	if [ "$kind" != kver ] || [ -z "$LR_KVER" ]; then
		LR_ERR="$list: no kernel release on its first line (remake the initramfs)"
		return 1
	fi
	rest=$(uname -r)
	if [ "$LR_KVER" != "$rest" ]; then
		LR_ERR="this initramfs has the kernel modules of $LR_KVER but the kernel is $rest (make one with lazyroot-mkinitrd --kmoddir /lib/modules/$rest)"
		return 1
	fi
	while read -r kind name rest; do
		[ "$kind" = load ] || continue
		# shellcheck disable=SC2086 # the items are blank-separated, without glob characters
		lr_kmod_load "$name" $rest || return 1
		loaded="$loaded $name"
	done <"$list"
	lr_info "kernel modules loaded:${loaded:- none}"
	while [ "$round" -lt 4 ]; do
		new=$(lr_kmod_match "$list" "$drivers")
		[ -n "$new" ] || break
		for name in $new; do
			rest=$(sed -n "s/^driver $name //p" "$list")
			# shellcheck disable=SC2086
			lr_kmod_load "$name" $rest || return 1
			drivers="$drivers $name"
		done
		round=$((round + 1))
	done
	lr_info "drivers for the devices found:${drivers:- none}"
}

# lr_find_netdev: print the ethernet interface with the lowest ifindex that is backed by a
# device (so not lo, dummies, bonds or tunnels) and is not wireless; return 1 if none.
lr_find_netdev() {
	local d n idx best='' bestidx=''
	for d in "$LR_SYSFS"/class/net/*; do
		n=${d##*/}
		[ "$n" != lo ] && [ -e "$d/device" ] || continue
		[ -e "$d/wireless" ] || [ -e "$d/phy80211" ] && continue
		[ "$(cat "$d/type" 2>/dev/null)" = 1 ] || continue
		idx=$(cat "$d/ifindex" 2>/dev/null) || continue
		if [ -z "$bestidx" ] || [ "$idx" -lt "$bestidx" ]; then
			best=$n bestidx=$idx
		fi
	done
	[ -n "$best" ] && printf '%s\n' "$best"
}

# lr_resolve_in_root ROOT PATH: print PATH with every symlink resolved as if ROOT were '/'
# (absolute links stay inside ROOT); return 1 after 40 links. The result may not exist.
lr_resolve_in_root() {
	local root="$1" rest="${2#/}" cur='' comp link n=0
	while [ -n "$rest" ]; do
		case $rest in
		*/*) comp=${rest%%/*} rest=${rest#*/} ;;
		*) comp=$rest rest='' ;;
		esac
		case $comp in
		'' | .) continue ;;
		..)
			cur=${cur%/*}
			continue
			;;
		esac
		if [ -L "$root$cur/$comp" ]; then
			n=$((n + 1))
			[ "$n" -le 40 ] || return 1
			link=$(readlink "$root$cur/$comp") || return 1
			case $link in
			/*) cur='' rest=${link#/}${rest:+/$rest} ;;
			*) rest=$link${rest:+/$rest} ;;
			esac
		else
			cur=$cur/$comp
		fi
	done
	printf '%s\n' "${cur:-/}"
}

lr_uptime() {
	local up rest
	read -r up rest </proc/uptime
	echo "${up%%.*}"
}

# lr_write_resolv DNS...: /etc/resolv.conf with these nameservers.
lr_write_resolv() {
	local d
	for d; do
		printf 'nameserver %s\n' "$d"
	done >"${RESOLV_CONF:-/etc/resolv.conf}"
}

# lr_net_setup: bring up lo and the interface chosen by IP_* within LR_NET_TIMEOUT seconds.
lr_net_setup() {
	local deadline dev out
	ip link set dev lo up 2>/dev/null || warn "cannot bring up lo"
	if [ "$IP_MODE" = off ]; then
		info "network: ip=off, leaving it unconfigured"
		return 0
	fi
	deadline=$(($(lr_uptime) + LR_NET_TIMEOUT))
	while :; do
		if [ -n "$IP_DEV" ]; then
			dev=$IP_DEV
			[ -e "$LR_SYSFS/class/net/$dev" ] && break
		else
			dev=$(lr_find_netdev) && break
		fi
		if [ "$(lr_uptime)" -ge "$deadline" ]; then
			if [ -n "$IP_DEV" ]; then
				LR_ERR="$IP_DEV: no such network interface after ${LR_NET_TIMEOUT}s"
			else
				if [ -e "$LR_KMOD_LIST" ]; then
					LR_ERR="no ethernet interface appeared within ${LR_NET_TIMEOUT}s (is its driver in the initramfs? lazyroot-mkinitrd --add-drivers)"
				else
					LR_ERR="no ethernet interface appeared within ${LR_NET_TIMEOUT}s (is its driver built into the kernel?)"
				fi
			fi
			return 1
		fi
		sleep 0.2
	done
	if ! out=$(ip link set dev "$dev" up 2>&1); then
		LR_ERR="$dev: cannot bring the link up: $out"
		return 1
	fi
	case $IP_MODE in
	dhcp) lr_net_dhcp "$dev" "$deadline" || return 1 ;;
	static) lr_net_static "$dev" || return 1 ;;
	esac
	# shellcheck disable=SC2086 # IP_DNS is a blank-separated list
	[ -z "$IP_DNS" ] || lr_write_resolv $IP_DNS
	[ -z "$IP_HOSTNAME" ] || hostname "$IP_HOSTNAME" || warn "cannot set the hostname to $IP_HOSTNAME"
	return 0
}

lr_net_dhcp() {
	local dev="$1" deadline="$2" left state="$LR_RUN/net.$1" log="$LR_RUN/udhcpc.$1.log" rc
	left=$((deadline - $(lr_uptime)))
	[ "$left" -ge 2 ] || left=2
	rm -f "$state" "$state.err"
	info "$dev: DHCP (waiting up to ${left}s)"
	if [ -n "${LR_DEBUG:-}" ]; then
		LAZYROOT_NETSTATE=$state udhcpc -i "$dev" -n -q -t $((left / 2)) -T 2 \
			-s "$LR_LIBDIR/udhcpc.script"
		rc=$?
	else
		LAZYROOT_NETSTATE=$state udhcpc -i "$dev" -n -q -t $((left / 2)) -T 2 \
			-s "$LR_LIBDIR/udhcpc.script" >"$log" 2>&1
		rc=$?
	fi
	if [ "$rc" -ne 0 ]; then
		if [ "$(cat "$LR_SYSFS/class/net/$dev/carrier" 2>/dev/null)" = 0 ]; then
			LR_ERR="$dev: no DHCP lease within ${left}s: link is down (no carrier)"
		else
			LR_ERR="$dev: no DHCP lease within ${left}s (no answer from a DHCP server)"
		fi
		return 1
	fi
	if [ -s "$state.err" ]; then
		LR_ERR="$dev: cannot apply the DHCP lease: $(cat "$state.err")"
		return 1
	fi
	if [ ! -s "$state" ]; then
		LR_ERR="$dev: udhcpc succeeded but the lease was not applied (see $log)"
		return 1
	fi
	info "$dev: $(cat "$state") (DHCP)"
}

lr_net_static() {
	local dev="$1" out
	if ! out=$(ip addr add "$IP_ADDR/$IP_PREFIX" dev "$dev" 2>&1); then
		LR_ERR="$dev: cannot add address $IP_ADDR/$IP_PREFIX: $out"
		return 1
	fi
	if [ -n "$IP_GW" ] && ! out=$(ip route add default via "$IP_GW" dev "$dev" 2>&1); then
		LR_ERR="$dev: cannot add the default route via $IP_GW: $out"
		return 1
	fi
	info "$dev: $IP_ADDR/$IP_PREFIX${IP_GW:+ gateway $IP_GW}${IP_DNS:+ dns $IP_DNS} (static)"
}
