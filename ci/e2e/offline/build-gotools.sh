#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Build the cluster add-on binaries from the Go module proxy into $CACHE/gotools/<name>-<version>/:
#   etcd (go.etcd.io/etcd/server/v3), coredns, kube-router (CNI + iptables/ipset
#   NetworkPolicy), local-path-provisioner, crictl, and the k8s pause binary (C, from the
#   k8s.io/kubernetes module's build/pause/linux/pause.c).
# Usage: build-gotools.sh [name...]   (default: all)
set -euo pipefail
. "$(dirname "$0")/../lib.sh"

ETCD_VERSION=${ETCD_VERSION:-v3.6.5}
LPP_VERSION=${LPP_VERSION:-v0.0.30}
CRICTL_VERSION=${CRICTL_VERSION:-v1.34.0}

# go_build NAME MODULE VERSION PACKAGE [LDFLAGS] [MAIN_FN]
# MAIN_FN (optional) writes a main.go into the build module ($1) and PACKAGE is then ".".
# Builds PACKAGE from a throw-away module that requires MODULE@VERSION: this works for
# modules whose go.mod has replace directives (which `go install pkg@v` refuses); their
# replaces of other *modules* (not local paths) are copied so the build matches upstream.
go_build() {
  local name=$1 module=$2 version=$3 pkg=$4
  local out="$CACHE/gotools/$name-$version"
  if [ -x "$out/$name" ]; then log "$name $version cached"; return 0; fi
  # one build per tool at a time (a concurrent caller waits, then finds it cached)
  exec 8>"$CACHE/.lock-go-$name"; flock 8
  if [ -x "$out/$name" ]; then log "$name $version cached"; return 0; fi
  [ -n "$GO" ] || die "go not found"
  stage_start "go_$name"
  local mod="$CACHE/gotools/src/$name-$version"
  rm -rf "$mod"; mkdir -p "$mod" "$out"
  local gomod
  gomod=$(cd "$mod" && "$GO" mod download -json "$module@$version" | sed -n 's/^[[:space:]]*"GoMod": "\(.*\)",$/\1/p')
  [ -f "$gomod" ] || die "cannot download $module@$version"
  local gover
  gover=$(sed -n 's/^go \([0-9.]*\).*$/\1/p' "$gomod" | head -1)
  {
    echo "module redis-ha.local/build-$name"
    echo "go ${gover:-1.22}"
    echo "require $module $version"
    [ -z "${6:-}" ] && echo "tool $pkg"
    # copy module->module replaces (single-line and block form), skip local paths
    awk '
      /^replace[ \t]*\(/ {blk=1; next}
      blk && /^\)/ {blk=0; next}
      blk {print "replace " $0; next}
      /^replace / {print}
    ' "$gomod" | grep -v '=>[[:space:]]*\.' | grep '=>' || true
  } >"$mod/go.mod"
  if [ -n "${6:-}" ]; then "$6" "$mod" "$module" "$version" || die "generating main for $name failed"; fi
  (cd "$mod" && "$GO" mod tidy) >>"$LOG_DIR/build-$name.log" 2>&1 || { tail -20 "$LOG_DIR/build-$name.log" >&2; die "go mod tidy for $name failed"; }
  (cd "$mod" && CGO_ENABLED=0 "$GO" build -trimpath -ldflags "-s -w ${5:-}" -o "$out/$name" "$pkg") >>"$LOG_DIR/build-$name.log" 2>&1 \
    || { tail -20 "$LOG_DIR/build-$name.log" >&2; die "go build of $name failed"; }
  stage_end "go_$name"
}

# CoreDNS with only the plugins a cluster uses: the full plugin set (cloud DNS providers,
# tracing, dnstap, etcd, ...) doubles the build time. Blank-imports every plugin listed in
# the module's own core/plugin/zplugin.go except the heavy, unused ones.
COREDNS_SKIP="azure clouddns route53 etcd trace dnstap geoip grpc sign tsig"
coredns_main() {
  local mod=$1 module=$2 version=$3 dir
  dir=$(cd "$mod" && "$GO" mod download -json "$module@$version" | sed -n 's/^[[:space:]]*"Dir": "\(.*\)",$/\1/p')
  [ -f "$dir/core/plugin/zplugin.go" ] || return 1
  {
    echo "package main"
    echo "import ("
    grep -E '^[[:space:]]*_ "' "$dir/core/plugin/zplugin.go" | while read -r _ imp; do
      local base=${imp%\"}; base=${base##*/}
      case " $COREDNS_SKIP " in *" $base "*) continue ;; esac
      echo "	_ $imp"
    done
    echo '	"github.com/coredns/coredns/coremain"'
    echo ")"
    echo "func main() { coremain.Run() }"
  } >"$mod/main.go"
}

build_pause() {
  local out="$CACHE/gotools/pause-$K8S_VERSION"
  if [ -x "$out/pause" ]; then log "pause cached"; return 0; fi
  local kdir
  kdir=$(cd /tmp && "$GO" mod download -json "k8s.io/kubernetes@$K8S_VERSION" | sed -n 's/^[[:space:]]*"Dir": "\(.*\)",$/\1/p')
  command -v gcc >/dev/null 2>&1 || apt_install gcc libc6-dev
  mkdir -p "$out"
  # the version string is only printed by `pause -v`
  gcc -Os -static -Wall -DVERSION=v3.10.1-redis-ha -o "$out/pause" "$kdir/build/pause/linux/pause.c" \
    || die "compiling pause.c failed"
  strip "$out/pause" || true
}

want=${*:-"etcd coredns kube-router local-path-provisioner crictl pause"}
for t in $want; do
  case $t in
    etcd) go_build etcd go.etcd.io/etcd/server/v3 "$ETCD_VERSION" go.etcd.io/etcd/server/v3 ;;
    coredns) go_build coredns github.com/coredns/coredns "$COREDNS_VERSION" . "" coredns_main ;;
    kube-router) go_build kube-router github.com/cloudnativelabs/kube-router/v2 "$KUBE_ROUTER_VERSION" \
      github.com/cloudnativelabs/kube-router/v2/cmd/kube-router \
      "-X github.com/cloudnativelabs/kube-router/v2/pkg/version.Version=$KUBE_ROUTER_VERSION" ;;
    local-path-provisioner) go_build local-path-provisioner github.com/rancher/local-path-provisioner "$LPP_VERSION" \
      github.com/rancher/local-path-provisioner ;;
    crictl) go_build crictl sigs.k8s.io/cri-tools "$CRICTL_VERSION" sigs.k8s.io/cri-tools/cmd/crictl ;;
    pause) build_pause ;;
    *) die "unknown tool $t" ;;
  esac
done
