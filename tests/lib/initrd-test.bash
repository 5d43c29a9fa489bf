# shellcheck shell=bash
# Shared by the bats files that test initrd/lazyroot-busybox.sh and initrd/lazyroot-lib.sh:
# both libraries sourced into the test shell as /init sources them, and fails().

# fails CMD...: CMD must fail. (`! CMD` would not fail a bats test: errexit ignores it.)
fails() {
	if "$@"; then
		echo "unexpectedly succeeded: $*" >&2
		return 1
	fi
}

setup() {
	I=$BATS_TEST_DIRNAME/../../initrd
	LIB=$I/lazyroot-lib.sh
	# shellcheck source=../../initrd/lazyroot-busybox.sh
	. "$I/lazyroot-busybox.sh"
	# shellcheck source=../../initrd/lazyroot-lib.sh
	. "$LIB"
	LR_ERR=
}
