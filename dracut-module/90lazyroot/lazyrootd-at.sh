#!/bin/bash
# /usr/lib/lazyroot/lazyrootd-at ARGS...: runs lazyrootd as "@lazyrootd". systemd's killing
# sprees at switch-root and at shutdown spare processes whose argv[0] starts with '@', and
# lazyrootd serves the root file system: it must outlive both. Its worker is a fork of it, no
# new exec, so it has the same argv[0] (and is spared too). bash for `exec -a`.
exec -a @lazyrootd /usr/sbin/lazyrootd "$@"
