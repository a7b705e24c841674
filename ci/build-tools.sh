#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Builds the chart tools that exist on neither PyPI nor npm from the Go module proxy, at pinned
# versions, into the tool cache (ci/bootstrap.sh calls this):
#   ct             github.com/helm/chart-testing/v3      -> $CACHE/bin/ct
#   helm-unittest  github.com/helm-unittest/helm-unittest -> $CACHE/helm/data/plugins/helm-unittest
#   actionlint     github.com/rhysd/actionlint            -> $CACHE/bin/actionlint (.github/workflows)
#   kube-score     github.com/zegl/kube-score             -> $CACHE/bin/kube-score (tests/unit/test_scanners.py)
# Each build lands in $CACHE/tools/<name>-<version>/, so a warm cache only checks that the
# directory exists. The plugin is installed by copying its folder (plugin.yaml + binary) into
# $HELM_DATA_HOME/plugins: helm 4 installs there and ignores HELM_PLUGINS when installing, helm 3
# reads HELM_PLUGINS, which defaults to the same folder, and the copy runs no download hook.
# Go's build and module caches live in the tool cache too; nothing is written to ~/go or ~/.local.
#
# Two runs may start at once (`tox -e unit` in one terminal, ci/e2e/up.sh in another): every step
# holds its own lock ($CACHE/locks/<step>.lock) and checks again once it has it, and every result
# is built in a folder unique to this process and renamed into place, so nobody ever sees a
# half-built tool. Arguments name the steps to run (default: all of them).
set -euo pipefail

CACHE=${REDIS_HA_CACHE:-$HOME/.cache/redis-ha}
CT_VERSION=v3.14.0
UNITTEST_VERSION=v1.1.2
ACTIONLINT_VERSION=v1.7.12
KUBE_SCORE_VERSION=v1.20.0
BIN=$CACHE/bin
TOOLS=$CACHE/tools
PLUGINS=${HELM_DATA_HOME:-$CACHE/helm/data}/plugins
mkdir -p "$BIN" "$TOOLS" "$PLUGINS"
# shellcheck source=ci/atomic.sh
. "$(dirname "$0")/atomic.sh"

log() { printf 'build-tools: %s\n' "$*" >&2; }

go_env() {
  local go
  go=$(command -v go || echo /usr/local/go/bin/go)
  [ -x "$go" ] || { log "Go is needed to build ct and helm-unittest (looked on PATH and /usr/local/go/bin)"; exit 1; }
  export GOCACHE=$CACHE/go/build GOMODCACHE=$CACHE/go/mod GOFLAGS="-modcacherw -trimpath" GOTOOLCHAIN=local CGO_ENABLED=0
  GO=$go
}

# go_module_dir MODULE VERSION: prints the module's folder in the module cache (downloads it once).
go_module_dir() {
  local dir
  dir=$("$GO" mod download -json "$1@$2" | sed -n 's/^[[:space:]]*"Dir": "\(.*\)",$/\1/p')
  [ -d "$dir" ] || { log "go mod download $1@$2 failed"; exit 1; }
  printf '%s\n' "$dir"
}

# go_build MODULE VERSION PACKAGE OUT LDFLAGS: builds ./PACKAGE of MODULE@VERSION to OUT inside the
# module's own directory, so its go.mod and go.sum pin every dependency exactly as upstream
# released it. (`go install MODULE@VERSION` would also work, but it reads the module's version
# list for deprecation notices, which this machine's proxy refuses.)
go_build() {
  local module=$1 version=$2 package=$3 out=$4 ldflags=$5 dir
  go_env
  log "building $module@$version ./$package (once per version)"
  dir=$(go_module_dir "$module" "$version")
  # nice: this machine is shared with other builds; the result is cached, so speed matters less.
  (cd "$dir" && nice -n 10 "$GO" build -ldflags "$ldflags" -o "$out" "./$package") ||
    { log "go build $module@$version failed"; exit 1; }
}

# go_tool NAME MODULE VERSION PACKAGE LDFLAGS: $TOOLS/NAME-VERSION/NAME, linked as $BIN/NAME.
go_tool() {
  local name=$1 module=$2 version=$3 package=$4 ldflags=$5 dir tmp
  dir=$TOOLS/$name-$version
  if [ ! -x "$dir/$name" ]; then
    tmp=$(atomic_tmpdir "$dir")
    go_build "$module" "$version" "$package" "$tmp/$name" "$ldflags"
    atomic_publish "$tmp" "$dir"
  fi
  atomic_symlink "$dir/$name" "$BIN/$name"
}

step_ct() {
  go_tool ct github.com/helm/chart-testing/v3 "$CT_VERSION" ct \
    "-s -w -X github.com/helm/chart-testing/v3/ct/cmd.Version=$CT_VERSION"
}

step_actionlint() {
  go_tool actionlint github.com/rhysd/actionlint "$ACTIONLINT_VERSION" cmd/actionlint "-s -w"
}

step_kube_score() {
  go_tool kube-score github.com/zegl/kube-score "$KUBE_SCORE_VERSION" cmd/kube-score \
    "-s -w -X main.version=${KUBE_SCORE_VERSION#v}"
}

# The plugin folder: the binary, plugin.yaml and the suites' JSON schema (for ci/lint.sh's
# check-jsonschema), all from the same module version.
step_helm_unittest() {
  local os arch untt dir tmp src
  # plugin.yaml picks the binary by platform: untt-<linux|macos>-<arch>.
  case "$(uname -s)" in Darwin) os=macos ;; *) os=linux ;; esac
  case "$(uname -m)" in x86_64) arch=amd64 ;; aarch64 | arm64) arch=arm64 ;; *) arch=$(uname -m) ;; esac
  untt=untt-$os-$arch
  dir=$TOOLS/helm-unittest-$UNITTEST_VERSION
  if [ ! -x "$dir/$untt" ] || [ ! -f "$dir/schema/helm-testsuite.json" ]; then
    tmp=$(atomic_tmpdir "$dir")
    go_build github.com/helm-unittest/helm-unittest "$UNITTEST_VERSION" cmd/helm-unittest "$tmp/$untt" \
      "-s -w -X github.com/helm-unittest/helm-unittest/internal/build.version=${UNITTEST_VERSION#v}"
    src=$(go_module_dir github.com/helm-unittest/helm-unittest "$UNITTEST_VERSION")
    # Its install hooks (which download a release) are dropped: nothing here runs `helm plugin install`.
    sed '/^platformHooks:/,$d' "$src/plugin.yaml" >"$tmp/plugin.yaml"
    mkdir -p "$tmp/schema"
    cp "$src/schema/helm-testsuite.json" "$tmp/schema/"
    atomic_publish "$tmp" "$dir"
  fi
  if ! diff -rq "$dir" "$PLUGINS/helm-unittest" >/dev/null 2>&1; then
    log "installing the helm-unittest $UNITTEST_VERSION plugin into $PLUGINS"
    tmp=$(atomic_tmpdir "$PLUGINS/helm-unittest")
    cp -R "$dir/." "$tmp/"
    atomic_publish "$tmp" "$PLUGINS/helm-unittest" replace
  fi
}

[ "$#" -gt 0 ] || set -- ct actionlint kube-score helm-unittest
for step in "$@"; do
  case $step in
    ct | actionlint | kube-score | helm-unittest) with_lock "$CACHE" "build-$step" "step_${step//-/_}" ;;
    *) log "unknown step $step (ct, actionlint, kube-score, helm-unittest)"; exit 2 ;;
  esac
done
