#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Build kind ($KIND_VERSION) from the Go module proxy into $CACHE/bin/kind-$KIND_VERSION.
set -euo pipefail
. "$(dirname "$0")/../lib.sh"
hold_lock build-kind
if [ -x "$KIND_BIN" ] && "$KIND_BIN" version 2>/dev/null | grep -q "${KIND_VERSION}"; then
  log "kind $KIND_VERSION cached: $KIND_BIN"; exit 0
fi
[ -n "$GO" ] || die "go not found (needed to build kind; set GO=/path/to/go)"
stage_start build_kind
tmp=$(mktemp -d "$CACHE/bin/.kind-$KIND_VERSION.tmp.XXXXXX")
(cd /tmp && GOBIN="$tmp" CGO_ENABLED=0 "$GO" install -trimpath -ldflags "-s -w" "sigs.k8s.io/kind@$KIND_VERSION") \
  >>"$LOG_DIR/build-kind.log" 2>&1 || { tail -20 "$LOG_DIR/build-kind.log" >&2; die "go install sigs.k8s.io/kind@$KIND_VERSION failed"; }
mv -f "$tmp/kind" "$KIND_BIN"
ln -s "$(basename "$KIND_BIN")" "$tmp/kind" && mv -f "$tmp/kind" "$CACHE/bin/kind"; rmdir "$tmp"
stage_end build_kind
