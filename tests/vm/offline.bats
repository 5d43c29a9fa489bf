#!/usr/bin/env bats
# Offline boot (erofs.cache=): a first boot reads every file of the root, so
# the disk holds a complete copy; a later boot with the server gone boots
# from it and says so. Only a complete copy of the image the command line
# names is used: a partial one, or one of another image under the same
# fsid, is not.

bats_require_minimum_version 1.5.0

setup_file() {
	. tests/lib/vm-env.sh
	vm_env_setup "$BATS_FILE_TMPDIR" 4
	vm_verified_image || return 1
}

teardown_file() {
	tests/lib/https-server stop "$W/srv"
}

setup() {
	. tests/lib/vm-env.sh
}

# boot NAME DISK KERNEL-ARGS...: sets log and qemu_status
boot() {
	local name=$1 disk=$2
	shift 2
	VM_DISK=$disk vm_boot_test "$name" 180 erofs.cache=/dev/vda erofs.timeout=5 "$@"
}

server_down() { tests/lib/https-server stop "$W/srv"; }
server_up() { tests/lib/https-server start "$W/srv" "$W/www"; }

plain() { echo erofs.fsid=rootfs-test erofs.url="$(vm_url "$PORT")"; }
verified() { echo erofs.fsid=rootfs-v erofs.url="https://10.0.2.2:$PORT/vimg/" erofs.digest="$1"; }

@test "plain image: with the server gone, a complete copy on the disk boots, saying so" {
	truncate -s 128M "$W/plain.disk"
	# shellcheck disable=SC2046
	boot fill-plain "$W/plain.disk" $(plain) lazyroot.test=readall
	vm_booted_ok
	grep -q '^LAZYROOT-TEST: read all' "$log"
	grep -Eq 'lazyrootd: stats: blob rootfs-test: ([0-9]+) of \1 pages on disk, 0 bytes waiting' "$log"
	server_down
	# shellcheck disable=SC2046
	boot offline-plain "$W/plain.disk" $(plain)
	server_up
	vm_booted_ok
	[ "$(grep -c "lazyrootd: blob rootfs-test: booting from the local copy in /run/lazyroot/cache/store: no mirror answers ($(vm_url "$PORT")rootfs-test: .*); it is complete, of the image whose rootfs-test.sha256 said [0-9a-f]\{16\}… when last seen$" "$log")" -eq 1 ]
	grep -Eq 'lazyrootd: stats: .*bytes fetched 0, .*errors 0$' "$log"
}

@test "plain image: a partial copy with the server gone fails, naming the fsid and the mirror's reason" {
	truncate -s 128M "$W/partial.disk"
	# shellcheck disable=SC2046
	boot fill-partial "$W/partial.disk" $(plain)
	vm_booted_ok
	server_down
	# shellcheck disable=SC2046
	boot partial "$W/partial.disk" $(plain) erofs.onerror=fail
	server_up
	[ "$qemu_status" -ne 0 ]
	! grep -q '^LAZYROOT-TEST' "$log"
	grep -q "lazyrootd: cannot open blob rootfs-test: $(vm_url "$PORT")rootfs-test: .*Could not connect to server.*; not booting from the local copy: it is not complete ([0-9]* of [0-9]* pages)$" "$log"
}

@test "verified image: with the server gone, a complete copy boots; one of another image under the same fsid does not" {
	truncate -s 128M "$W/verified.disk"
	# shellcheck disable=SC2046
	boot fill-verified "$W/verified.disk" $(verified "$DIGEST") lazyroot.test=readall
	vm_booted_ok
	grep -q '^LAZYROOT-TEST: read all' "$log"
	server_down
	# shellcheck disable=SC2046
	boot offline-verified "$W/verified.disk" $(verified "$DIGEST")
	vm_booted_ok
	[ "$(grep -c "lazyrootd: booting from the local copy in /run/lazyroot/cache/store: no mirror answers (https://10.0.2.2:$PORT/vimg/rootfs-v.manifest: .*); it is complete and its manifest has the sha256 of erofs.digest=$" "$log")" -eq 1 ]
	grep -Eq 'lazyrootd: stats: chunks verified 0, failed verification 0$' "$log"
	# another image under the same fsid: the copy is not it
	other=sha256:$(printf '%064d' 1)
	# shellcheck disable=SC2046
	boot offline-other "$W/verified.disk" $(verified "$other") erofs.onerror=fail
	server_up
	[ "$qemu_status" -ne 0 ]
	! grep -q '^LAZYROOT-TEST' "$log"
	grep -q "lazyrootd: cannot load the manifest of fsid rootfs-v: https://10.0.2.2:$PORT/vimg/rootfs-v.manifest: .*; not booting from the local copy: the copy in /run/lazyroot/cache/store is of another image (its manifest's sha256 is ${DIGEST#sha256:})$" "$log"
}
