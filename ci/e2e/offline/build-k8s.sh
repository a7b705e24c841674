#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Build the Kubernetes binaries kind's node image needs from the Go module proxy.
#
# k8s.io/kubernetes replaces its ~30 staging modules (k8s.io/api, ...) with
# ./staging/... paths, which `go install pkg@version` refuses. So we build from a
# small module of our own that requires k8s.io/kubernetes and replaces each staging
# module with its matching v0.<minor>.<patch> release; the replace list is generated
# from the downloaded module's own go.mod.
#
# Output: $CACHE/k8s/$K8S_VERSION/bin/{kubeadm,kubelet,kubectl,kube-apiserver,
#         kube-controller-manager,kube-scheduler,kube-proxy}
set -euo pipefail
. "$(dirname "$0")/../lib.sh"

OUT="$CACHE/k8s/$K8S_VERSION/bin"
BINS="kubeadm kubelet kubectl kube-apiserver kube-controller-manager kube-scheduler kube-proxy"

have_all() {
  local b
  for b in $BINS; do [ -x "$OUT/$b" ] || return 1; done
  "$OUT/kubeadm" version -o short 2>/dev/null | grep -qx "$K8S_VERSION"
}
if have_all; then
  log "kubernetes $K8S_VERSION binaries cached in $OUT"
  exit 0
fi
[ "${1:-}" = --check ] && exit 1
# one build at a time (a concurrent caller waits, then finds the cache filled)
mkdir -p "$CACHE/k8s"
exec 9>"$CACHE/k8s/.lock-$K8S_VERSION"; flock 9
if have_all; then log "kubernetes $K8S_VERSION binaries cached in $OUT"; exit 0; fi

[ -n "$GO" ] || die "go not found (need Go >= 1.24; set GO=/path/to/go)"
stage_start build_k8s

MOD="$CACHE/k8s/$K8S_VERSION/mod"
mkdir -p "$MOD" "$OUT"
cd "$MOD"

log "downloading k8s.io/kubernetes@$K8S_VERSION from the module proxy"
KDIR=$("$GO" mod download -json "k8s.io/kubernetes@$K8S_VERSION" | sed -n 's/^[[:space:]]*"Dir": "\(.*\)",$/\1/p')
[ -f "$KDIR/go.mod" ] || die "could not download k8s.io/kubernetes@$K8S_VERSION"
GOVER=$(sed -n 's/^go \([0-9.]*\)$/\1/p' "$KDIR/go.mod")

{
  echo "module redis-ha.local/k8sbuild"
  echo
  echo "go ${GOVER}"
  echo
  grep '^godebug' "$KDIR/go.mod" || true
  echo
  echo "require k8s.io/kubernetes $K8S_VERSION"
  echo
  echo "replace ("
  # every `k8s.io/X => ./staging/src/k8s.io/X` becomes `k8s.io/X => k8s.io/X v0.N.P`
  sed -n 's#^[[:space:]]*\(k8s.io/[A-Za-z0-9._-]*\) => \./staging/src/.*$#\t\1 => \1 '"$K8S_STAGING_VERSION"'#p' "$KDIR/go.mod"
  echo ")"
} >go.mod
log "generated $(grep -c '=> k8s.io' go.mod) staging replaces -> $K8S_STAGING_VERSION"

# main packages are tracked with go.mod `tool` lines (Go >= 1.24) so `go mod tidy` resolves them
for b in $BINS; do echo "tool k8s.io/kubernetes/cmd/$b" >>go.mod; done
# all of kubernetes' own requirements, at the versions it pins
"$GO" mod tidy >>"$LOG_DIR/build-k8s.log" 2>&1 || { tail -30 "$LOG_DIR/build-k8s.log" >&2; die "go mod tidy failed"; }

BUILD_DATE=$(date -u +%Y-%m-%dT%H:%M:%SZ)
MINOR=${K8S_VERSION#v1.}; MINOR=${MINOR%%.*}
LD="-s -w"
for pkg in k8s.io/component-base/version k8s.io/client-go/pkg/version; do
  LD="$LD -X $pkg.gitVersion=$K8S_VERSION -X $pkg.gitMajor=1 -X $pkg.gitMinor=$MINOR"
  LD="$LD -X $pkg.gitTreeState=clean -X $pkg.gitCommit=0000000000000000000000000000000000000000 -X $pkg.buildDate=$BUILD_DATE"
done

pkgs=""
for b in $BINS; do pkgs="$pkgs k8s.io/kubernetes/cmd/$b"; done
log "go build $BINS (2 cores: ~20-30 min cold; log $LOG_DIR/build-k8s.log)"
# shellcheck disable=SC2086
CGO_ENABLED=0 "$GO" build -trimpath -ldflags "$LD" -o "$OUT/" $pkgs >>"$LOG_DIR/build-k8s.log" 2>&1 \
  || { tail -30 "$LOG_DIR/build-k8s.log" >&2; die "go build of kubernetes failed"; }
have_all || die "built binaries do not report $K8S_VERSION"
stage_end build_k8s
