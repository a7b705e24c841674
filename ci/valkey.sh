#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Valkey for the script tests (tests/scripts, `engine: valkey`): Debian trixie's valkey-server,
# valkey-sentinel and valkey-tools (8.1.1, the version of the e2e image redis-ha-test/valkey),
# debootstrapped once into the cache (ci/e2e/offline/rootfs.sh, keyed by suite and packages) and run on
# this host whatever its glibc: each wrapper starts the binary with trixie's dynamic loader and
# libraries, under the name the scripts call (the server picks Sentinel or check-rdb mode by its
# argv[0], as with the links Valkey installs). Prints the directory to use, $CACHE/valkey/bin
# (a link to the current version's), which tests/scripts/harness.py finds by itself.
#   redis-server redis-sentinel redis-cli  and  valkey-server valkey-sentinel valkey-cli valkey-check-rdb
# redis-check-rdb is left out on purpose: Debian's valkey-tools ships only valkey-check-rdb, as
# the e2e image does, so the scripts' fallback to it is what the tests run.
set -euo pipefail
# shellcheck source=e2e/lib.sh
. "$(dirname "$0")/e2e/lib.sh"
# shellcheck source=atomic.sh
. "$(dirname "$0")/atomic.sh"
# shellcheck source=e2e/offline/rootfs.sh
. "$OFFLINE_DIR/rootfs.sh"

VALKEY_VERSION=8.1.1
# One build at a time (ci/atomic.sh): a second run waits, then finds the result.
build_valkey() {
  tar=$(rootfs_tar unit-valkey trixie "valkey-server valkey-sentinel valkey-tools")
  dir=$CACHE/valkey/$(basename "$tar" .tar)
  if [ ! -x "$dir/bin/valkey-check-rdb" ]; then
    log "unpacking Valkey from $tar"
    rm -rf "$dir"
    mkdir -p "$dir/root" "$dir/bin"
    tar -C "$dir/root" -xf "$tar" ./usr/bin ./usr/lib ./usr/lib64
    root=$dir/root
    wrap() { # wrap NAME BINARY: $dir/bin/NAME runs $root/usr/bin/BINARY as argv[0] NAME
      printf '#!/bin/sh\nexec "%s/usr/lib64/ld-linux-x86-64.so.2" --library-path "%s/usr/lib/x86_64-linux-gnu" --argv0 %s "%s/usr/bin/%s" "$@"\n' \
        "$root" "$root" "$1" "$root" "$2" >"$dir/bin/$1"
      chmod 0755 "$dir/bin/$1"
    }
    for name in redis-server redis-sentinel valkey-server valkey-sentinel valkey-check-rdb; do wrap "$name" valkey-server; done
    for name in redis-cli valkey-cli; do wrap "$name" valkey-cli; done
    "$dir/bin/valkey-server" --version | grep -q "v=$VALKEY_VERSION " || die "$tar does not hold Valkey $VALKEY_VERSION: $("$dir/bin/valkey-server" --version)"
  fi
  ln -sfn "$dir/bin" "$CACHE/valkey/bin"
}
with_lock "$CACHE" valkey build_valkey
echo "$CACHE/valkey/bin"
