#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# The README's first command: a local kind cluster (ci/e2e/cluster-up.sh) with the chart
# installed from this checkout, then how to connect. Re-running it reuses the cluster and
# upgrades the release. Extra arguments go to `helm upgrade`, e.g. --set replicas=5.
#   RELEASE (default redis-ha), NAMESPACE (default redis-ha)
set -euo pipefail
cd "$(dirname "$0")/../.."
RELEASE=${RELEASE:-redis-ha}
NAMESPACE=${NAMESPACE:-redis-ha}

PATH="$(bash ci/bootstrap.sh):$PATH"
export PATH
KUBECONFIG=$(bash ci/e2e/cluster-up.sh)
export KUBECONFIG

# This machine has no registry: the e2e values point the chart at images built here.
values=()
[ ! -f ci/e2e/values-e2e.yaml ] || values=(--values ci/e2e/values-e2e.yaml)
helm upgrade --install "$RELEASE" charts/redis-ha --namespace "$NAMESPACE" --create-namespace \
  --wait --timeout 10m "${values[@]}" "$@" >&2

# The master as Sentinel reports it; its host name starts with the pod name.
# shellcheck disable=SC2016 # expanded inside the pod, not here
auth='REDISCLI_AUTH="$(cat /secrets/password 2>/dev/null)"'
# Sentinel runs in pods of its own by default, or beside Redis (sentinel.colocated).
sentinel=$(kubectl -n "$NAMESPACE" get pods -l "app.kubernetes.io/instance=$RELEASE,app.kubernetes.io/component=sentinel" \
  -o jsonpath='{.items[0].metadata.name}' 2>/dev/null || true)
master=$(kubectl -n "$NAMESPACE" exec "${sentinel:-$RELEASE-0}" -c sentinel -- sh -c \
  "$auth redis-cli --raw -p 26379 SENTINEL GET-MASTER-ADDR-BY-NAME mymaster" 2>/dev/null | head -n 1 || true)
pod=${master%%.*}
pod=${pod:-$RELEASE-0}

cat <<MSG

redis-ha is running: release "$RELEASE", namespace "$NAMESPACE", master ${master:-unknown}.

  export KUBECONFIG=$KUBECONFIG PATH=$(dirname "$(command -v helm)"):\$PATH
  helm status -n $NAMESPACE $RELEASE           # connection details (the chart's NOTES)
  kubectl -n $NAMESPACE get pods -o wide

  # a redis-cli on the master, password read from the mounted Secret file
  kubectl -n $NAMESPACE exec -it $pod -c redis -- sh -c '$auth exec redis-cli'

  # from this machine: forward the master's port and use the password from the Secret
  kubectl -n $NAMESPACE port-forward pod/$pod 6379:6379 &
  REDISCLI_AUTH="\$(kubectl -n $NAMESPACE get secret $RELEASE -o jsonpath='{.data.password}' | base64 -d)" redis-cli -p 6379 PING

Tear down with ci/e2e/cluster-down.sh.
MSG
