#!/bin/bash
# /usr/lib/lazyroot/lazyrootd-at ARGS...: runs lazyrootd as "@lazyrootd". systemd's killing
# sprees at switch-root and at shutdown spare processes whose argv[0] starts with '@', and
# lazyrootd serves the root file system: it must outlive both. bash for `exec -a`.
exec -a @lazyrootd /usr/sbin/lazyrootd "$@"
