#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# The lint tier: helm lint with helm 4 and helm 3, shellcheck on the chart scripts, yamllint,
# and the generated docs/schema being current. Offline.
set -euo pipefail
cd "$(dirname "$0")/.."
chart=charts/redis-ha
for helm in helm helm3; do
  echo "== $helm lint ($($helm version --short))"
  "$helm" lint --strict "$chart"
  for values in "$chart"/ci/*-values.yaml; do
    "$helm" lint --strict "$chart" --values "$values" >/dev/null
  done
done
echo "== shellcheck"
shellcheck --shell=sh --external-sources --source-path=SCRIPTDIR "$chart"/files/scripts/*.sh
shellcheck ci/*.sh ci/e2e/*.sh .ci/run
echo "== yamllint"
yamllint --strict -c ci/lintconf.yaml "$chart/values.yaml" "$chart/Chart.yaml" "$chart"/ci/*.yaml examples/*.yaml ci/*.yaml
echo "== generated docs and schema"
python ci/values_docs.py --check
