#!/usr/bin/env bash
# Build kind ($KIND_VERSION) from the Go module proxy into $CACHE/bin/kind-$KIND_VERSION.
set -euo pipefail
. "$(dirname "$0")/lib.sh"
if [ -x "$KIND_BIN" ] && "$KIND_BIN" version 2>/dev/null | grep -q "${KIND_VERSION}"; then
  log "kind $KIND_VERSION cached: $KIND_BIN"; exit 0
fi
[ -n "$GO" ] || die "go not found (needed to build kind; set GO=/path/to/go)"
stage_start build_kind
tmp="$CACHE/bin/.kind-$KIND_VERSION.d"
rm -rf "$tmp"; mkdir -p "$tmp"
(cd /tmp && GOBIN="$tmp" CGO_ENABLED=0 "$GO" install -trimpath -ldflags "-s -w" "sigs.k8s.io/kind@$KIND_VERSION") \
  >>"$LOG_DIR/build-kind.log" 2>&1 || { tail -20 "$LOG_DIR/build-kind.log" >&2; die "go install sigs.k8s.io/kind@$KIND_VERSION failed"; }
mv -f "$tmp/kind" "$KIND_BIN"; rm -rf "$tmp"
ln -sf "$(basename "$KIND_BIN")" "$CACHE/bin/kind"
stage_end build_kind
