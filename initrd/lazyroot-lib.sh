# shellcheck shell=sh disable=SC3043,SC2034
# (local: busybox ash, dash and bash all have it; SC2034: the variables are for /init)
# lazyroot-lib.sh: functions for lazyroot's /init (busybox ash), also sourced by the bats tests.
#
# Kernel command line (parsed by lr_parse_flags and lr_parse_cmdline from $CMDLINE):
#   erofs.fsid=ID            required; fsid of the EROFS image (cachefiles cookie key); no ','
#   erofs.url=URL            required; https:// base URL (lazyrootd reads it too, with
#                            erofs.ca= and erofs.timeout=)
#   erofs.cachesize=N[KMGT]  size of the sparse RAM-backed cache image; default 4G or half
#                            the RAM if less; 16M..1T
#   erofs.cache=/dev/DEV     keep fetched pages on this block device across boots instead
#                            (blank, or made by lazyroot before: label lazyroot-cache)
#   init=PATH                init program of the root image; default /sbin/init
#   ip=                      absent, dhcp, on, any: DHCP on the first ethernet interface
#                            <dev>:dhcp: DHCP on <dev>
#                            off, none: leave the network unconfigured
#                            <client>:<server>:<gw>:<netmask>:<hostname>:<dev>:<autoconf>:<dns0>:<dns1>
#                            the kernel's form (IPv4 only); <autoconf> off/none/static or empty
#                            with a <client> is static, dhcp/on/any (or empty without a client)
#                            is DHCP; <netmask> may also be a prefix length
#   rd.shell[=0|1]           on failure, a shell on the console instead of a kernel panic
#   rd.lazyroot.debug        trace /init (set -x) and show the helpers' output
#   rd.lazyroot.nettimeout=S seconds to wait for the interface plus DHCP; default 30
#   quiet                    no info lines (failures are still printed)
#
# Conventions: parsing functions take their input from $CMDLINE or their arguments and set
# LR_* / IP_* variables; on bad input they set LR_ERR to one line naming the bad value and
# return 1. The setup functions (lr_net_setup, lr_cache_setup) do the same on failure, so /init
# can always `lr_x || die "$LR_ERR"`. die() itself lives here too: one line, then the shell
# or the panic.

LR_RUN=${LR_RUN:-/run/lazyroot}
LR_SYSFS=${LR_SYSFS:-/sys}
LR_LIBDIR=${LR_LIBDIR:-/lib/lazyroot}
LR_SIZE_MIN=16777216            # 16M: room for cachefiles' directories, not much more
LR_SIZE_MAX=1099511627776       # 1T

info() {
	[ -n "${LR_QUIET:-}" ] && [ -z "${LR_DEBUG:-}" ] && return 0
	printf 'lazyroot: %s\n' "$*" >&2
}

warn() {
	printf 'lazyroot: warning: %s\n' "$*" >&2
}

debug() {
	[ -n "${LR_DEBUG:-}" ] || return 0
	printf 'lazyroot: debug: %s\n' "$*" >&2
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

# lr__emit_word RAW: print one parameter without its quotes; return 1 at "--".
lr__emit_word() {
	local p="$1" q='' name val
	[ "$p" = -- ] && return 1
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

# lr_parse_size VALUE: set LR_SIZE to the bytes in VALUE (digits plus an optional K, M, G or
# T suffix, binary units, either case), which must lie within LR_SIZE_MIN..LR_SIZE_MAX.
lr_parse_size() {
	local v="$1" n suf mult
	n=${v%[KkMmGgTt]}
	suf=${v#"$n"}
	case $n in
	'' | *[!0-9]*)
		LR_ERR="erofs.cachesize=$v: expected a size like 4G (digits and an optional K, M, G or T)"
		return 1
		;;
	esac
	n=${n#"${n%%[!0]*}"} # no leading zeros: sh arithmetic reads 010 as octal
	[ -n "$n" ] || n=0
	case $suf in
	'') mult=1 ;;
	[Kk]) mult=1024 ;;
	[Mm]) mult=1048576 ;;
	[Gg]) mult=1073741824 ;;
	[Tt]) mult=1099511627776 ;;
	esac
	if [ ${#n} -gt 15 ] || [ "$n" -gt $((LR_SIZE_MAX / mult)) ]; then
		LR_ERR="erofs.cachesize=$v: too large (at most 1T)"
		return 1
	fi
	LR_SIZE=$((n * mult))
	if [ "$LR_SIZE" -lt "$LR_SIZE_MIN" ]; then
		LR_ERR="erofs.cachesize=$v: too small (at least 16M)"
		return 1
	fi
}

# lr_default_cachesize: 4G, or half the RAM (in MiB) when that is less: the
# cache image lives in /run, a tmpfs that holds at most half the RAM, and
# an ext2 larger than what can back it fails with I/O errors when full.
# Reads /proc/meminfo, or $LR_MEMINFO in tests.
lr_default_cachesize() {
	local kb mb
	kb=$(sed -n 's/^MemTotal: *\([0-9]*\) kB$/\1/p' "${LR_MEMINFO:-/proc/meminfo}")
	LR_CACHESIZE=4294967296 LR_CACHESIZE_ARG=4G
	case $kb in
	'' | *[!0-9]*) return 0 ;;
	esac
	mb=$((kb / 2048))
	if [ "$mb" -lt 4096 ]; then
		LR_CACHESIZE=$((mb * 1048576)) LR_CACHESIZE_ARG=${mb}M
	fi
}

# lr_check_url URLS: erofs.url is one https://HOST[...] URL or a comma-separated list of them
# (mirrors, tried in order by lazyrootd): the root image must come from an authenticated server.
lr_check_url() {
	local rest list=$1 u n=0 in=
	case $list in
	'' | ,* | *, | *,,*)
		LR_ERR="erofs.url=$list: empty entry in the mirror list"
		return 1
		;;
	esac
	while [ -n "$list" ]; do
		u=${list%%,*}
		case $list in
		*,*) list=${list#*,} ;;
		*) list= ;;
		esac
		n=$((n + 1))
		[ "$u" = "$1" ] || in=" (entry $u)"
		case $u in
		https://*) ;;
		*)
			LR_ERR="erofs.url=$1: must start with https:// (the root image must come from an authenticated server)$in"
			return 1
			;;
		esac
		rest=${u#*://}
		case ${rest%%/*} in
		'' | :* | @*)
			LR_ERR="erofs.url=$1: no host after the scheme$in"
			return 1
			;;
		esac
	done
	if [ "$n" -gt 8 ]; then
		LR_ERR="erofs.url=$1: more than 8 mirrors"
		return 1
	fi
}

# lr_check_cachedev DEV: erofs.cache= names a block device by its /dev path.
lr_check_cachedev() {
	case $1 in
	/dev/?*) ;;
	*)
		LR_ERR="erofs.cache=$1: expected a block device path such as /dev/vdb"
		return 1
		;;
	esac
	case $1 in
	*[!A-Za-z0-9/._:-]* | */../* | */..)
		LR_ERR="erofs.cache=$1: expected a block device path such as /dev/vdb"
		return 1
		;;
	esac
}

# lr_check_fsid FSID: the fsid goes into the mount options, so no ',' (or blanks or quotes).
lr_check_fsid() {
	case $1 in
	*[,\"\ \	]*)
		LR_ERR="erofs.fsid=$1: must not contain ',', quotes or blanks"
		return 1
		;;
	esac
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

# lr_parse_cmdline: parse everything else /init needs from $CMDLINE. Sets LR_FSID, LR_URL,
# LR_INIT, LR_CACHESIZE (bytes), LR_CACHESIZE_ARG (as given), LR_NET_TIMEOUT, IP_*.
lr_parse_cmdline() {
	local v
	LR_ERR=''
	v=$(getarg erofs.fsid) || v=''
	if [ -z "$v" ]; then
		LR_ERR="missing erofs.fsid= on the kernel command line (the fsid of the EROFS image)"
		return 1
	fi
	lr_check_fsid "$v" || return 1
	LR_FSID=$v

	v=$(getarg erofs.url) || v=''
	if [ -z "$v" ]; then
		LR_ERR="missing erofs.url= on the kernel command line (https://HOST/PATH of the image)"
		return 1
	fi
	lr_check_url "$v" || return 1
	LR_URL=$v

	v=$(getarg init) || v=''
	LR_INIT=${v:-/sbin/init}
	case $LR_INIT in
	/*) ;;
	*)
		LR_ERR="init=$LR_INIT: must be an absolute path"
		return 1
		;;
	esac

	if v=$(getarg erofs.cachesize); then
		lr_parse_size "$v" || return 1
		LR_CACHESIZE=$LR_SIZE LR_CACHESIZE_ARG=$v
	else
		lr_default_cachesize
	fi

	LR_CACHEDEV=
	if v=$(getarg erofs.cache); then
		lr_check_cachedev "$v" || return 1
		LR_CACHEDEV=$v
	fi

	LR_NET_TIMEOUT=30
	if v=$(getarg rd.lazyroot.nettimeout); then
		lr_parse_seconds rd.lazyroot.nettimeout "$v" 3600 || return 1
		LR_NET_TIMEOUT=$LR_NUM
	fi

	v=$(getarg ip) || v=''
	lr_parse_ip "$v"
}

# lr_have_fs NAME [FILE]: NAME is listed in /proc/filesystems (or FILE).
lr_have_fs() {
	local dev fs
	while read -r dev fs; do
		[ -n "$fs" ] || fs=$dev
		[ "$fs" = "$1" ] && return 0
	done <"${2:-/proc/filesystems}"
	return 1
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

# lr_erofs_mount_error FSID MOUNT_OUTPUT ERROR_FILE: set LR_ERR to why the EROFS mount failed.
# lazyrootd writes ERROR_FILE when it fails the kernel's OPEN request (e.g. HTTP 404). Without
# it, the errno tells: a kernel without CONFIG_EROFS_FS_ONDEMAND ignores fsid= and looks for a
# block device (or file) "none" (ENOENT); with it but no cache bound to /dev/cachefiles, fscache
# has nowhere to read from (ENOBUFS).
lr_erofs_mount_error() {
	local why="" line=""
	case $2 in
	*"failed: "*) why=${2##*failed: } ;;
	*) why=$2 ;;
	esac
	why=$(printf '%s' "$why" | tr '\n' ' ')
	if [ -e "$3" ]; then
		IFS= read -r line <"$3" || :
		LR_ERR="cannot mount EROFS fsid=$1: ${line:-lazyrootd failed the request (empty $3)}"
	else
		case $why in
		*"No such file or directory"*)
			LR_ERR="cannot mount EROFS fsid=$1: the kernel's EROFS lacks on-demand fscache (CONFIG_EROFS_FS_ONDEMAND); see docs/kernel.md"
			;;
		*"No buffer space available"*)
			LR_ERR="cannot mount EROFS fsid=$1: no cache is bound to /dev/cachefiles (lazyrootd is not serving)"
			;;
		*)
			LR_ERR="cannot mount EROFS fsid=$1: ${why:-mount failed} (lazyrootd reported no error)"
			;;
		esac
	fi
}

# lr_inode_ratio BYTES: bytes-per-inode for mke2fs: one inode per 256K, but 4096..65536
# inodes (cachefiles needs a few hundred directories; busybox mke2fs writes every inode
# table, and the image lives in RAM).
lr_inode_ratio() {
	local inodes=$(($1 / 262144))
	[ "$inodes" -ge 4096 ] || inodes=4096
	[ "$inodes" -le 65536 ] || inodes=65536
	echo $(($1 / inodes))
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
				LR_ERR="no ethernet interface appeared within ${LR_NET_TIMEOUT}s (is its driver built into the kernel?)"
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

# lr_disk_label DEV: prints the volume label of an ext2/3/4 file system on DEV and returns 0;
# returns 1 when DEV holds no ext file system (its superblock magic is 0xEF53 at byte 1080).
lr_disk_label() {
	[ "$(dd if="$1" bs=1 skip=1080 count=2 2>/dev/null | od -An -tx1 | tr -d ' \n')" = 53ef ] ||
		return 1
	dd if="$1" bs=1 skip=1144 count=16 2>/dev/null | tr -d '\000'
}

# lr_disk_blank DEV: the first MiB of DEV is all zeros (no partition table, no file system).
lr_disk_blank() {
	[ "$(dd if="$1" bs=65536 count=16 2>/dev/null | tr -d '\000' | wc -c)" -eq 0 ]
}

# lr_cache_disk_setup: the cache on the block device LR_CACHEDEV (erofs.cache=), kept across
# boots in $LR_RUN/cache/store (lazyrootd --store-dir): an ext file system labelled
# lazyroot-cache is mounted as it is; a blank device (its first MiB zeros) gets one; anything
# else is refused, never formatted.
lr_cache_disk_setup() {
	local dev=$LR_CACHEDEV dir="$LR_RUN/cache" out label i=0
	mkdir -p "$dir"
	# Block devices may show up a little after the network.
	while [ ! -b "$dev" ] && [ "$i" -lt "${LR_CACHEDEV_WAIT:-20}" ]; do
		sleep 0.5
		i=$((i + 1))
	done
	if [ ! -b "$dev" ]; then
		LR_ERR="erofs.cache=$dev: no such block device"
		return 1
	fi
	if label=$(lr_disk_label "$dev"); then
		if [ "$label" != lazyroot-cache ]; then
			LR_ERR="erofs.cache=$dev: holds an ext file system labelled '$label', not a lazyroot cache (label lazyroot-cache): refusing to use it"
			return 1
		fi
	elif lr_disk_blank "$dev"; then
		info "cache: formatting the blank $dev"
		if ! out=$(mke2fs -F -b 4096 -m 0 -L lazyroot-cache "$dev" 2>&1); then
			LR_ERR="erofs.cache=$dev: mke2fs failed: $(printf '%s\n' "$out" | tail -n 1)"
			return 1
		fi
	else
		LR_ERR="erofs.cache=$dev: holds data but no lazyroot cache (an ext file system labelled lazyroot-cache): refusing to format it; zero its first MiB to let lazyroot use it"
		return 1
	fi
	if ! out=$(mount -t ext4 "$dev" "$dir" 2>&1) && ! out=$(mount -t ext2 "$dev" "$dir" 2>&1); then
		LR_ERR="erofs.cache=$dev: cannot mount it on $dir: $out"
		return 1
	fi
	# cachefiles' own objects never outlive a boot; lazyrootd's store does.
	rm -rf "$dir/cache" "$dir/graveyard"
	if ! out=$(mkdir -p "$dir/store" 2>&1); then
		LR_ERR="erofs.cache=$dev: cannot create $dir/store: $out"
		return 1
	fi
	LR_STORE_DIR=$dir/store
	info "cache: $dev (pages kept across boots), mounted on $dir"
}

# lr_cache_setup: the cache directory for cachefiles, which refuses tmpfs: the erofs.cache=
# device, or an ext2 image file of LR_CACHESIZE bytes (sparse, in RAM under /run) on a loop
# device. Sets LR_STORE_DIR for lazyrootd --store-dir (empty without erofs.cache=).
lr_cache_setup() {
	local img="$LR_RUN/cache.img" dir="$LR_RUN/cache" dev out
	LR_STORE_DIR=
	if [ -n "${LR_CACHEDEV:-}" ]; then
		lr_cache_disk_setup
		return
	fi
	mkdir -p "$dir"
	if ! out=$(truncate -s "$LR_CACHESIZE" "$img" 2>&1); then
		LR_ERR="cannot create the cache image $img ($LR_CACHESIZE_ARG): $out"
		return 1
	fi
	if ! out=$(mke2fs -F -b 4096 -m 0 -i "$(lr_inode_ratio "$LR_CACHESIZE")" \
		-L lazyroot-cache "$img" 2>&1); then
		LR_ERR="mke2fs $img failed: $(printf '%s\n' "$out" | tail -n 1)"
		return 1
	fi
	if ! dev=$(losetup -f 2>&1) || [ ! -b "$dev" ]; then
		LR_ERR="no free loop device for the cache (kernel needs CONFIG_BLK_DEV_LOOP): $dev"
		return 1
	fi
	if ! out=$(losetup "$dev" "$img" 2>&1); then
		LR_ERR="losetup $dev $img failed: $out"
		return 1
	fi
	if ! out=$(mount -t ext4 "$dev" "$dir" 2>&1) && ! out=$(mount -t ext2 "$dev" "$dir" 2>&1); then
		LR_ERR="cannot mount the cache filesystem $dev on $dir (kernel needs CONFIG_EXT4_FS): $out"
		return 1
	fi
	info "cache: $LR_CACHESIZE_ARG sparse ext2 image on $dev, mounted on $dir"
}
