#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Runs the helm-unittest suites (charts/redis-ha/tests/*_test.yaml) through helm 4 and helm 3,
# so the plugin is proven to load and run under both. The plugin comes from ci/build-tools.sh;
# HELM_DATA_HOME points at the tool cache so nothing in ~/.local is read or written.
# Extra arguments go to `helm unittest` (e.g. -f 'tests/pdb_test.yaml').
set -euo pipefail
cd "$(dirname "$0")/.."
CACHE=${REDIS_HA_CACHE:-$HOME/.cache/redis-ha}
export HELM_DATA_HOME=${HELM_DATA_HOME:-$CACHE/helm/data}
# helm 3 reads HELM_PLUGINS (default $HELM_DATA_HOME/plugins); a stale value from the caller's
# environment would hide the plugin, so pin it to the same folder helm 4 uses.
export HELM_PLUGINS=$HELM_DATA_HOME/plugins
chart=charts/redis-ha
for helm in helm helm3; do
  echo "== $helm unittest ($($helm version --short))"
  "$helm" unittest --strict "$@" "$chart"
done
