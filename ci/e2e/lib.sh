# shellcheck shell=bash
# SPDX-License-Identifier: Apache-2.0
# Shared settings for the offline e2e infrastructure. Sourced by every ci/e2e script.
# Everything built goes into $CACHE, keyed by versions, so a second run is fast.

E2E_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# The builders of the offline cluster (ci/e2e/README.md "Offline infrastructure").
OFFLINE_DIR=$E2E_DIR/offline
export E2E_DIR OFFLINE_DIR

# ---- pinned versions (change here; cache keys follow) -------------------------
KIND_VERSION=${KIND_VERSION:-v0.33.0}
K8S_VERSION=${K8S_VERSION:-v1.34.4}
# staging modules k8s.io/api etc. are released as v0.<minor>.<patch>
K8S_STAGING_VERSION="v0.${K8S_VERSION#v1.}"
KUBE_ROUTER_VERSION=${KUBE_ROUTER_VERSION:-v2.1.0}
COREDNS_VERSION=${COREDNS_VERSION:-v1.12.1}
LPP_VERSION=${LPP_VERSION:-v0.0.30}
DEBIAN_SUITE=${DEBIAN_SUITE:-trixie}
DEBIAN_MIRROR=${DEBIAN_MIRROR:-http://deb.debian.org/debian}
export KIND_VERSION K8S_VERSION K8S_STAGING_VERSION KUBE_ROUTER_VERSION COREDNS_VERSION LPP_VERSION DEBIAN_SUITE DEBIAN_MIRROR

# ---- cluster ---------------------------------------------------------------------
KIND_CLUSTER=${KIND_CLUSTER:-redis-ha-e2e}
export KIND_CLUSTER

# ---- cache layout ----------------------------------------------------------------
CACHE=${REDIS_HA_CACHE:-$HOME/.cache/redis-ha}
mkdir -p "$CACHE"
CACHE=$(cd "$CACHE" && pwd)
export CACHE REDIS_HA_CACHE="$CACHE"
export LOG_DIR="$CACHE/logs"
mkdir -p "$LOG_DIR" "$CACHE/bin" "$CACHE/rootfs" "$CACHE/images" "$CACHE/stamps"

# Go: own module + build caches inside $CACHE
GO=${GO:-}
if [ -z "$GO" ]; then
  if command -v go >/dev/null 2>&1; then GO=$(command -v go)
  elif [ -x /usr/local/go/bin/go ]; then GO=/usr/local/go/bin/go
  fi
fi
export GO
export GOMODCACHE="$CACHE/go/mod" GOCACHE="$CACHE/go/build" GOFLAGS="-buildvcs=false -modcacherw"
export GOTOOLCHAIN=local
# tools we build go here
export PATH="$CACHE/bin:$PATH"

KIND_BIN="$CACHE/bin/kind-$KIND_VERSION"
export KIND_BIN

log() { printf '[e2e %s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }
die() { printf '[e2e %s] ERROR: %s\n' "$(date +%H:%M:%S)" "$*" >&2; exit 1; }

# timing: stage_start NAME ; ... ; stage_end NAME  -> appends to $LOG_DIR/timings.log
_stage_var() { printf '__stage_t_%s' "$1" | tr -c 'A-Za-z0-9_' '_'; }
stage_start() { printf -v "$(_stage_var "$1")" '%s' "$(date +%s)"; log "stage $1: start"; }
stage_end() {
  local v t0 now
  v=$(_stage_var "$1"); t0=${!v:-$(date +%s)}
  now=$(date +%s)
  log "stage $1: done in $((now - t0))s"
  printf '%s %s %ss\n' "$(date -u +%Y-%m-%dT%H:%M:%SZ)" "$1" "$((now - t0))" >>"$LOG_DIR/timings.log"
}

# hold_lock NAME: holds $CACHE/locks/NAME.lock until this script exits, so a second run of the same
# step (two terminals, or cluster-up.sh and a direct call) waits for the first and then finds its
# result instead of building into the same folders.
hold_lock() {
  local fd
  mkdir -p "$CACHE/locks"
  exec {fd}>"$CACHE/locks/$1.lock"
  if ! flock -n "$fd"; then
    log "waiting for another run holding $CACHE/locks/$1.lock"
    flock "$fd"
  fi
}

need_root() { [ "$(id -u)" = 0 ] || die "$1 needs root (run as root or via sudo)"; }

apt_install() {
  # apt_install PKG... : install Debian packages on the host when missing
  local missing=() p
  for p in "$@"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
  done
  [ ${#missing[@]} -eq 0 ] && return 0
  need_root "installing ${missing[*]}"
  log "apt-get install ${missing[*]}"
  # wait for another apt/dpkg (e.g. a concurrent session) to finish
  local i=0
  while fuser /var/lib/dpkg/lock-frontend >/dev/null 2>&1 || pgrep -x apt-get >/dev/null 2>&1; do
    i=$((i + 1)); [ $i -gt 300 ] && die "dpkg lock still held after 10 min"; sleep 2
  done
  if [ ! -f "$CACHE/stamps/apt-updated" ] || [ -n "$(find "$CACHE/stamps/apt-updated" -mmin +720 2>/dev/null)" ]; then
    apt-get update >>"$LOG_DIR/apt.log" 2>&1 || die "apt-get update failed (see $LOG_DIR/apt.log)"
    touch "$CACHE/stamps/apt-updated"
  fi
  DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends "${missing[@]}" >>"$LOG_DIR/apt.log" 2>&1 \
    || die "apt-get install ${missing[*]} failed (see $LOG_DIR/apt.log)"
}
