#!/usr/bin/env bats
# tests/lib/dracut-env.sh: the private dracut base the dracut tests build with holds this
# tree's lazyroot module whatever `make install` put into the system's dracut (issue 9: with
# an installed 90lazyroot, the copy of the tree's failed and the tests used the wrong one).

bats_require_minimum_version 1.5.0

setup() {
	cd "$BATS_TEST_DIRNAME/../.."
	# a system dracut with its own modules and an installed lazyroot module
	S=$BATS_TEST_TMPDIR/system
	mkdir -p "$S/modules.d/99base" "$S/modules.d/90lazyroot" "$S/modules.d/95lazyroot"
	echo 'dracut functions' >"$S/dracut-functions.sh"
	echo 'base' >"$S/modules.d/99base/module-setup.sh"
	for m in 90lazyroot 95lazyroot; do
		echo '# the installed copy' >"$S/modules.d/$m/module-setup.sh"
	done
	export DRACUT_SYSTEM_BASE=$S
	. tests/lib/dracut-env.sh
}

@test "dracut_env_setup uses the tree's module even when one is installed" {
	W=$BATS_TEST_TMPDIR/w
	dracut_env_setup "$W" "$BATS_TEST_TMPDIR/ca.pem"
	b=$DRACUT_BASE
	# dracut's own files and modules are the system's, linked
	[ "$(readlink "$b/dracut-functions.sh")" = "$S/dracut-functions.sh" ]
	[ "$(readlink "$b/modules.d/99base")" = "$S/modules.d/99base" ]
	# lazyroot is the tree's, a copy, and the only lazyroot module there
	[ -d "$b/modules.d/90lazyroot" ] && [ ! -L "$b/modules.d/90lazyroot" ]
	cmp "$b/modules.d/90lazyroot/module-setup.sh" dracut-module/90lazyroot/module-setup.sh
	cmp "$b/modules.d/90lazyroot/lazyroot-lib.sh" initrd/lazyroot-lib.sh
	[ "$(cd "$b/modules.d" && echo *lazyroot)" = 90lazyroot ]
	grep -qx "lazyroot_daemon=$PWD/daemon/lazyrootd" "$DRACUT_CONF/lazyroot.conf"
	# and the system's installed module is untouched
	grep -qx '# the installed copy' "$S/modules.d/90lazyroot/module-setup.sh"
}

@test "dracut_env_setup can be run twice into the same directory" {
	W=$BATS_TEST_TMPDIR/w
	dracut_env_setup "$W" ca.pem
	dracut_env_setup "$W" ca.pem
	[ "$(cd "$DRACUT_BASE/modules.d" && echo *lazyroot)" = 90lazyroot ]
}
