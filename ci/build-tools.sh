#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Builds the chart tools that exist on neither PyPI nor npm from the Go module proxy, at pinned
# versions, into the tool cache (ci/bootstrap.sh calls this):
#   ct             github.com/helm/chart-testing/v3      -> $CACHE/bin/ct
#   helm-unittest  github.com/helm-unittest/helm-unittest -> $CACHE/helm/data/plugins/helm-unittest
#   actionlint     github.com/rhysd/actionlint            -> $CACHE/bin/actionlint (.github/workflows)
# Each build lands in $CACHE/tools/<name>-<version>/, so a warm cache only checks that the
# directory exists. The plugin is installed by copying its folder (plugin.yaml + binary) into
# $HELM_DATA_HOME/plugins: helm 4 installs there and ignores HELM_PLUGINS when installing, helm 3
# reads HELM_PLUGINS, which defaults to the same folder, and the copy runs no download hook.
# Go's build and module caches live in the tool cache too; nothing is written to ~/go or ~/.local.
set -euo pipefail

CACHE=${REDIS_HA_CACHE:-$HOME/.cache/redis-ha}
CT_VERSION=v3.14.0
UNITTEST_VERSION=v1.1.2
ACTIONLINT_VERSION=v1.7.12
BIN=$CACHE/bin
TOOLS=$CACHE/tools
PLUGINS=${HELM_DATA_HOME:-$CACHE/helm/data}/plugins
mkdir -p "$BIN" "$TOOLS" "$PLUGINS"

log() { printf 'build-tools: %s\n' "$*" >&2; }

go_env() {
  local go
  go=$(command -v go || echo /usr/local/go/bin/go)
  [ -x "$go" ] || { log "Go is needed to build ct and helm-unittest (looked on PATH and /usr/local/go/bin)"; exit 1; }
  export GOCACHE=$CACHE/go/build GOMODCACHE=$CACHE/go/mod GOFLAGS="-modcacherw -trimpath" GOTOOLCHAIN=local CGO_ENABLED=0
  GO=$go
}

# go_build MODULE VERSION PACKAGE OUT LDFLAGS: builds ./PACKAGE of MODULE@VERSION to OUT inside the
# module's own directory, so its go.mod and go.sum pin every dependency exactly as upstream
# released it. (`go install MODULE@VERSION` would also work, but it reads the module's version
# list for deprecation notices, which this machine's proxy refuses.)
go_build() {
  local module=$1 version=$2 package=$3 out=$4 ldflags=$5 dir
  go_env
  log "building $module@$version ./$package (once per version)"
  dir=$("$GO" mod download -json "$module@$version" | sed -n 's/^[[:space:]]*"Dir": "\(.*\)",$/\1/p')
  [ -d "$dir" ] || { log "go mod download $module@$version failed"; exit 1; }
  # nice: this machine is shared with other builds; the result is cached, so speed matters less.
  (cd "$dir" && nice -n 10 "$GO" build -ldflags "$ldflags" -o "$out" "./$package") ||
    { log "go build $module@$version failed"; exit 1; }
}

ct_dir=$TOOLS/ct-$CT_VERSION
if [ ! -x "$ct_dir/ct" ]; then
  mkdir -p "$ct_dir"
  go_build github.com/helm/chart-testing/v3 "$CT_VERSION" ct "$ct_dir/ct.tmp" \
    "-s -w -X github.com/helm/chart-testing/v3/ct/cmd.Version=$CT_VERSION"
  mv "$ct_dir/ct.tmp" "$ct_dir/ct"
fi
ln -sfn "$ct_dir/ct" "$BIN/ct"

actionlint_dir=$TOOLS/actionlint-$ACTIONLINT_VERSION
if [ ! -x "$actionlint_dir/actionlint" ]; then
  mkdir -p "$actionlint_dir"
  go_build github.com/rhysd/actionlint "$ACTIONLINT_VERSION" cmd/actionlint "$actionlint_dir/actionlint.tmp" \
    "-s -w"
  mv "$actionlint_dir/actionlint.tmp" "$actionlint_dir/actionlint"
fi
ln -sfn "$actionlint_dir/actionlint" "$BIN/actionlint"

# plugin.yaml picks the binary by platform: untt-<linux|macos>-<arch>.
case "$(uname -s)" in Darwin) os=macos ;; *) os=linux ;; esac
case "$(uname -m)" in x86_64) arch=amd64 ;; aarch64 | arm64) arch=arm64 ;; *) arch=$(uname -m) ;; esac
untt=untt-$os-$arch
unittest_dir=$TOOLS/helm-unittest-$UNITTEST_VERSION
if [ ! -x "$unittest_dir/$untt" ]; then
  rm -rf "$unittest_dir.tmp"
  mkdir -p "$unittest_dir.tmp"
  go_build github.com/helm-unittest/helm-unittest "$UNITTEST_VERSION" cmd/helm-unittest "$unittest_dir.tmp/$untt" \
    "-s -w -X github.com/helm-unittest/helm-unittest/internal/build.version=${UNITTEST_VERSION#v}"
  # plugin.yaml from the same module version; its install hooks (which download a release) are
  # dropped because nothing here runs `helm plugin install`.
  sed '/^platformHooks:/,$d' "$GOMODCACHE/github.com/helm-unittest/helm-unittest@$UNITTEST_VERSION/plugin.yaml" >"$unittest_dir.tmp/plugin.yaml"
  rm -rf "$unittest_dir"
  mv "$unittest_dir.tmp" "$unittest_dir"
fi
# The suites' JSON schema from the same version, for ci/lint.sh (check-jsonschema).
if [ ! -f "$unittest_dir/schema/helm-testsuite.json" ]; then
  go_env
  dir=$("$GO" mod download -json "github.com/helm-unittest/helm-unittest@$UNITTEST_VERSION" | sed -n 's/^[[:space:]]*"Dir": "\(.*\)",$/\1/p')
  mkdir -p "$unittest_dir/schema"
  cp "$dir/schema/helm-testsuite.json" "$unittest_dir/schema/"
fi
if ! diff -rq "$unittest_dir" "$PLUGINS/helm-unittest" >/dev/null 2>&1; then
  log "installing the helm-unittest $UNITTEST_VERSION plugin into $PLUGINS"
  rm -rf "$PLUGINS/helm-unittest"
  cp -R "$unittest_dir" "$PLUGINS/helm-unittest"
fi
