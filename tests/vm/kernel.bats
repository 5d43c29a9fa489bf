#!/usr/bin/env bats
# The test kernel alone, before any lazyroot code: cachefiles on-demand
# binds on a loop-mounted ext2, EROFS and overlayfs are there, the guest
# reaches the host's nginx over TLS. A failure here is the kernel's.

@test "test kernel: cachefiles, EROFS, overlay, loop, network" {
	run tests/vm/kernel-smoke.sh
	echo "$output" | tail -n 30
	[ "$status" -eq 0 ]
}
