#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Delete the e2e kind cluster ($KIND_CLUSTER, default redis-ha-e2e). Keeps the cache and dockerd.
set -euo pipefail
. "$(dirname "$0")/lib.sh"
KUBECONFIG_OUT=${KUBECONFIG_OUT:-$CACHE/kubeconfig-$KIND_CLUSTER}
if ! docker info >/dev/null 2>&1; then log "docker is not running: nothing to delete"; exit 0; fi
if [ ! -x "$KIND_BIN" ]; then "$OFFLINE_DIR/build-kind.sh"; fi
stage_start cluster_down
"$KIND_BIN" delete cluster --name "$KIND_CLUSTER" >&2
rm -f "$KUBECONFIG_OUT"
stage_end cluster_down
