#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# The lint tier: helm lint with helm 4 and helm 3, ct lint, shellcheck on the chart scripts,
# yamllint, the GitHub workflows against their schema and actionlint, the generated
# docs/schema being current, and no reference to documents, issues or scenario letters outside
# the repository (ci/check_references.py). Offline.
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
echo "== ct lint ($(ct version | sed -n 's/^Version:[[:space:]]*//p'))"
# Chart.yaml against ci/chart_schema.yaml (yamale), yamllint, helm lint per ci/*-values.yaml.
ct lint --config ci/ct.yaml --all
echo "== shellcheck"
shellcheck --shell=sh --external-sources --source-path=SCRIPTDIR "$chart"/files/scripts/*.sh
shellcheck --external-sources --source-path=SCRIPTDIR ci/*.sh ci/e2e/*.sh ci/e2e/offline/*.sh .ci/run ci/tox
echo "== yamllint"
yamllint --strict -c ci/lintconf.yaml "$chart/values.yaml" "$chart/Chart.yaml" "$chart"/ci/*.yaml examples/*.yaml ci/*.yaml \
  "$chart"/tests/*_test.yaml .github/workflows/*.yaml artifacthub-repo.yml
echo "== helm-unittest suites against the plugin's schema"
check-jsonschema --schemafile "${HELM_DATA_HOME:-${REDIS_HA_CACHE:-$HOME/.cache/redis-ha}/helm/data}/plugins/helm-unittest/schema/helm-testsuite.json" \
  "$chart"/tests/*_test.yaml
echo "== GitHub workflows"
# schemastore's github-workflow schema as vendored by check-jsonschema, a timeout on every job,
# then actionlint (expressions, action inputs, shellcheck of run: scripts).
check-jsonschema --builtin-schema vendor.github-workflows .github/workflows/*.yaml
check-jsonschema --builtin-schema custom.github-workflows-require-timeout .github/workflows/*.yaml
actionlint -no-color .github/workflows/*.yaml
echo "== generated docs and schema"
python ci/values_docs.py --check
echo "== references a reader of the repository cannot follow"
python ci/check_references.py
