#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Bring up (or reuse) the e2e kind cluster, fully offline when needed.
#
#   ci/e2e/cluster-up.sh            -> prints the kubeconfig path on stdout (only that)
#
# Env:
#   KIND_CLUSTER     cluster name (default redis-ha-e2e); an existing healthy cluster is reused
#   KUBECONFIG_OUT   where to write the kubeconfig (default $REDIS_HA_CACHE/kubeconfig-$KIND_CLUSTER)
#   REDIS_HA_CACHE   cache dir (default ~/.cache/redis-ha)
#   NODE_IMAGE       use this node image instead of pulling/building one
#   E2E_OFFLINE_NODE=always   skip the upstream kindest/node pull attempt
#   E2E_SKIP_TEST_IMAGES=1    do not build/load the redis-ha-test/* images
#   E2E_RECREATE=1            delete an existing cluster of that name first
# Stages (docker, kind, node image, test images, cluster, load) log to stderr and
# append their durations to $REDIS_HA_CACHE/logs/timings.log.
set -euo pipefail
. "$(dirname "$0")/lib.sh"
# A second bring-up (another terminal, tox -e e2e beside ci/e2e/up.sh) waits here, then reuses
# the cluster the first one made.
hold_lock "cluster-$KIND_CLUSTER"

KUBECONFIG_OUT=${KUBECONFIG_OUT:-$CACHE/kubeconfig-$KIND_CLUSTER}
T0=$(date +%s)
stage_start cluster_up_total

"$OFFLINE_DIR/docker.sh"
"$OFFLINE_DIR/build-kind.sh"

stage_start node_image_total
NODE_IMAGE=${NODE_IMAGE:-}
if [ -z "$NODE_IMAGE" ] && [ "${E2E_OFFLINE_NODE:-auto}" != always ]; then
  NODE_IMAGE=$("$OFFLINE_DIR/build-node-image.sh" --upstream-only)
fi
bg_pid=""
if [ -z "$NODE_IMAGE" ]; then
  # offline node image: the Go builds are CPU-bound, the debootstraps network/IO-bound, so
  # run the Go builds in the background while the rootfs tarballs are made (each build
  # script takes a lock, so build-node-image.sh below just waits for what is still running)
  if ! "$OFFLINE_DIR/build-k8s.sh" --check 2>/dev/null; then
    log "starting the Go builds in the background (log $LOG_DIR/go-builds.log)"
    ( "$OFFLINE_DIR/build-gotools.sh" crictl && "$OFFLINE_DIR/build-k8s.sh" && "$OFFLINE_DIR/build-gotools.sh" ) >>"$LOG_DIR/go-builds.log" 2>&1 &
    bg_pid=$!
  fi
  if [ "${E2E_SKIP_TEST_IMAGES:-0}" != 1 ]; then "$OFFLINE_DIR/build-test-images.sh"; fi
  NODE_IMAGE=$(E2E_OFFLINE_NODE=always "$OFFLINE_DIR/build-node-image.sh")
  if [ -n "$bg_pid" ]; then
    wait "$bg_pid" || { tail -20 "$LOG_DIR/go-builds.log" >&2; die "background Go builds failed (see $LOG_DIR/go-builds.log)"; }
  fi
elif [ "${E2E_SKIP_TEST_IMAGES:-0}" != 1 ]; then
  "$OFFLINE_DIR/build-test-images.sh"
fi
[ -n "$NODE_IMAGE" ] || die "no node image"
stage_end node_image_total
log "node image: $NODE_IMAGE"

kind_nodes() { docker ps -a --filter "label=io.x-k8s.kind.cluster=$KIND_CLUSTER" --format '{{.Names}}'; }
cp_node() { docker ps --filter "label=io.x-k8s.kind.cluster=$KIND_CLUSTER" --filter "label=io.x-k8s.kind.role=control-plane" --format '{{.Names}}' | head -1; }
kctl() { docker exec -i "$(cp_node)" kubectl --kubeconfig=/etc/kubernetes/admin.conf "$@"; }

healthy() {
  [ "$(kind_nodes | wc -l)" -eq 4 ] || return 1
  [ -z "$(docker ps -a --filter "label=io.x-k8s.kind.cluster=$KIND_CLUSTER" --filter status=exited --format '{{.Names}}')" ] || return 1
  [ -n "$(cp_node)" ] || return 1
  kctl get --raw /readyz >/dev/null 2>&1 || return 1
  [ "$(docker inspect -f '{{.Config.Image}}' "$(cp_node)")" = "$NODE_IMAGE" ]
}

if "$KIND_BIN" get clusters 2>/dev/null | grep -qx "$KIND_CLUSTER"; then
  if [ "${E2E_RECREATE:-0}" != 1 ] && healthy; then
    log "reusing kind cluster $KIND_CLUSTER"
  else
    log "cluster $KIND_CLUSTER exists but is unhealthy, outdated or E2E_RECREATE=1: recreating"
    "$KIND_BIN" delete cluster --name "$KIND_CLUSTER" >&2
  fi
fi

if ! "$KIND_BIN" get clusters 2>/dev/null | grep -qx "$KIND_CLUSTER"; then
  stage_start kind_create
  "$KIND_BIN" create cluster --name "$KIND_CLUSTER" --image "$NODE_IMAGE" \
    --config "$E2E_DIR/kind-config.yaml" --kubeconfig "$KUBECONFIG_OUT" --wait 5m >&2 \
    || die "kind create cluster failed (node logs: $KIND_BIN export logs --name $KIND_CLUSTER)"
  stage_end kind_create
fi

mkdir -p "$(dirname "$KUBECONFIG_OUT")"
"$KIND_BIN" get kubeconfig --name "$KIND_CLUSTER" >"$KUBECONFIG_OUT.tmp" && mv -f "$KUBECONFIG_OUT.tmp" "$KUBECONFIG_OUT"
chmod 0600 "$KUBECONFIG_OUT"

stage_start cluster_ready
kctl wait --for=condition=Ready nodes --all --timeout=300s >&2 || die "nodes not Ready: $(kctl get nodes -o wide 2>&1)"
for ds in $(kctl -n kube-system get ds -o name); do
  kctl -n kube-system rollout status "$ds" --timeout=300s >&2 || die "$ds not ready"
done
kctl -n kube-system rollout status deploy/coredns --timeout=300s >&2 || die "coredns not ready"
kctl -n local-path-storage rollout status deploy/local-path-provisioner --timeout=300s >&2 \
  || die "local-path-provisioner not ready"
stage_end cluster_ready

# Offline node image: kind applied the kube-router manifest (CNI + NetworkPolicy) baked into the
# node image when the cluster was created. Bring a reused cluster to the current
# ci/e2e/offline/kube-router.yaml without recreating it (e.g. the bridge CNI's hairpinMode): server-side
# apply, then roll the DaemonSet (its init container rewrites the node's CNI config and sets
# hairpin on running pods' bridge ports). The manifest's hash on the DaemonSet makes it a no-op
# when nothing changed.
if kctl -n kube-system get ds kube-router >/dev/null 2>&1; then
  # Without its licence line, as build-node-image.sh bakes it: the hash names the manifest itself.
  cni_manifest=$(sed -e '/^# SPDX-License-Identifier/d' -e "s#image: redis-ha.local/kube-router:.*#image: redis-ha.local/kube-router:$KUBE_ROUTER_VERSION#" "$OFFLINE_DIR/kube-router.yaml")
  cni_sum=$(printf '%s\n' "$cni_manifest" | sha256sum | cut -c1-16)
  if [ "$(kctl -n kube-system get ds kube-router -o jsonpath='{.metadata.annotations.redis-ha\.e2e/manifest}')" != "$cni_sum" ]; then
    stage_start cni_update
    printf '%s\n' "$cni_manifest" | kctl apply --server-side --force-conflicts --field-manager=redis-ha-e2e -f - >&2 \
      || die "kubectl apply of ci/e2e/offline/kube-router.yaml failed"
    kctl -n kube-system rollout status ds/kube-router --timeout=300s >&2 || die "kube-router did not roll out"
    kctl -n kube-system annotate ds kube-router --overwrite "redis-ha.e2e/manifest=$cni_sum" >/dev/null
    stage_end cni_update
  fi
fi

if [ "${E2E_SKIP_TEST_IMAGES:-0}" != 1 ]; then
  # shellcheck disable=SC1091
  . "$E2E_DIR/images.env"
  stage_start load_images
  workers=$(kind_nodes | grep -v control-plane | paste -sd, -)
  # shellcheck disable=SC2086
  "$KIND_BIN" load docker-image --name "$KIND_CLUSTER" --nodes "$workers" $TEST_IMAGES >&2 \
    || die "kind load docker-image failed"
  stage_end load_images
fi

stage_end cluster_up_total
log "cluster $KIND_CLUSTER ready in $(($(date +%s) - T0))s; export KUBECONFIG=$KUBECONFIG_OUT"
echo "$KUBECONFIG_OUT"
