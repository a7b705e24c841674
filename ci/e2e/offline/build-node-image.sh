#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Produce a kind node image for $K8S_VERSION and print its reference on stdout.
#
# 1. $NODE_IMAGE set            -> use it as is.
# 2. upstream kindest/node:$K8S_VERSION can be pulled (short timeout) -> use it
#    (kind's own kindnet CNI then provides NetworkPolicy).
# 3. otherwise build it here, offline:
#    - base: debootstrapped Debian trixie rootfs (systemd, containerd, runc, CNI plugins,
#      iptables, ipset from Debian) + kind's images/base/files from the kind module;
#    - Kubernetes binaries from build-k8s.sh; add-ons from build-gotools.sh;
#    - every image kubeadm/kind need, imported into the node's containerd under the exact
#      names they look for: kube-apiserver, kube-controller-manager, kube-scheduler,
#      kube-proxy, etcd, coredns, pause (from `kubeadm config images list`), kind's
#      local-path-provisioner + helper, and kube-router (the default CNI here: routes pod
#      traffic and enforces NetworkPolicy with iptables + ipset).
#    This mirrors `kind build node-image` (which would try to pull kindnetd and the
#    storage images): sleep container from the base image, binaries to /usr/bin,
#    /kind/version, /kind/manifests/default-{cni,storage}.yaml, `ctr images import`, commit.
set -euo pipefail
. "$(dirname "$0")/../lib.sh"
hold_lock node-image
. "$OFFLINE_DIR/rootfs.sh"

UPSTREAM_NODE_IMAGE=${UPSTREAM_NODE_IMAGE:-kindest/node:$K8S_VERSION}
PULL_TIMEOUT=${PULL_TIMEOUT:-20}

# --upstream-only: print the upstream image if it is present or pullable, else nothing
UPSTREAM_ONLY=0; [ "${1:-}" = --upstream-only ] && { UPSTREAM_ONLY=1; shift; }

if [ -n "${NODE_IMAGE:-}" ]; then echo "$NODE_IMAGE"; exit 0; fi

docker info >/dev/null 2>&1 || die "docker is not running (run ci/e2e/offline/docker.sh)"

if [ "${E2E_OFFLINE_NODE:-auto}" != "always" ]; then
  if docker image inspect "$UPSTREAM_NODE_IMAGE" >/dev/null 2>&1; then
    echo "$UPSTREAM_NODE_IMAGE"; exit 0
  fi
  log "trying docker pull $UPSTREAM_NODE_IMAGE (timeout ${PULL_TIMEOUT}s)"
  if timeout "$PULL_TIMEOUT" docker pull "$UPSTREAM_NODE_IMAGE" >>"$LOG_DIR/pull.log" 2>&1; then
    echo "$UPSTREAM_NODE_IMAGE"; exit 0
  fi
  log "pull failed: $(tail -1 "$LOG_DIR/pull.log") -> the node image is built offline"
fi
[ "$UPSTREAM_ONLY" = 1 ] && exit 0

KIND_SRC=$(cd /tmp && "$GO" mod download -json "sigs.k8s.io/kind@$KIND_VERSION" | sed -n 's/^[[:space:]]*"Dir": "\(.*\)",$/\1/p')
[ -d "$KIND_SRC/images/base/files" ] || die "kind module source for $KIND_VERSION not found"
export KIND_SRC

KDIR=$(cd /tmp && "$GO" mod download -json "k8s.io/kubernetes@$K8S_VERSION" | sed -n 's/^[[:space:]]*"Dir": "\(.*\)",$/\1/p')
PAUSE_VERSION=$(sed -n 's/^[[:space:]]*PauseVersion = "\(.*\)"$/\1/p' "$KDIR/cmd/kubeadm/app/constants/constants.go")
[ -n "$PAUSE_VERSION" ] || die "cannot read kubeadm's PauseVersion"
PAUSE_IMAGE="registry.k8s.io/pause:$PAUSE_VERSION"
GT="$CACHE/gotools"
ETCD_VERSION=${ETCD_VERSION:-v3.6.5}
CRICTL_VERSION=${CRICTL_VERSION:-v1.34.0}
"$OFFLINE_DIR/build-gotools.sh" crictl

# ---- node base rootfs -------------------------------------------------------------
hook_nodebase() {
  local r=$1 F="$KIND_SRC/images/base/files"
  install -m 0755 "$F"/usr/local/bin/* "$r/usr/local/bin/"
  mkdir -p "$r/kind/bin"
  cp -a "$F/kind/." "$r/kind/"
  chmod -R u+w "$r/kind"
  find "$r/kind" -type f -exec chmod 0644 {} +
  chmod 0755 "$r/kind" "$r/kind/bin" "$r"/kind/bin/*
  mkdir -p "$r/LICENSES" && install -m 0644 "$F"/LICENSES/* "$r/LICENSES/"
  mkdir -p "$r/etc/containerd" "$r/etc/default" "$r/etc/sysctl.d" "$r/etc/systemd/system/kubelet.service.d"
  install -m 0644 "$F"/etc/crictl.yaml "$r/etc/"
  install -m 0644 "$F"/etc/containerd/* "$r/etc/containerd/"
  install -m 0644 "$F"/etc/default/* "$r/etc/default/"
  install -m 0644 "$F"/etc/sysctl.d/* "$r/etc/sysctl.d/"
  find "$F/etc/systemd/system" -maxdepth 1 -type f -exec install -m 0644 {} "$r/etc/systemd/system/" \;
  install -m 0644 "$F"/etc/systemd/system/kubelet.service.d/* "$r/etc/systemd/system/kubelet.service.d/"
  # as kind's base Dockerfile
  find "$r/lib/systemd/system/sysinit.target.wants/" -name "systemd-tmpfiles-setup.service" -delete
  rm -f "$r"/lib/systemd/system/multi-user.target.wants/* "$r"/etc/systemd/system/*.wants/* \
    "$r"/lib/systemd/system/local-fs.target.wants/* "$r"/lib/systemd/system/sockets.target.wants/*udev* \
    "$r"/lib/systemd/system/sockets.target.wants/*initctl* "$r"/lib/systemd/system/basic.target.wants/*
  echo "ReadKMsg=no" >>"$r/etc/systemd/journald.conf"
  ln -sf /usr/lib/systemd/systemd "$r/sbin/init"
  # Debian paths -> the paths kind's units/config use
  ln -sf /usr/bin/containerd "$r/usr/local/bin/containerd"
  mkdir -p "$r/opt/cni/bin"
  for p in host-local loopback ptp portmap bridge; do ln -sf "/usr/lib/cni/$p" "$r/opt/cni/bin/$p"; done
  install -m 0755 "$GT/crictl-$CRICTL_VERSION/crictl" "$r/usr/local/bin/crictl"
  chroot "$r" systemctl enable kubelet.service containerd.service undo-mount-hacks.service
  chroot "$r" systemctl mask systemd-binfmt.service
  mkdir -p "$r/etc/kubernetes/manifests"
  chroot "$r" ctr oci spec \
    | jq '.hooks.createContainer[.hooks.createContainer| length] |= . + {"path": "/kind/bin/mount-product-files.sh"}' \
    | jq 'del(.process.rlimits)' >"$r/etc/containerd/cri-base.json"
  # sandbox image = the pause kubeadm lists; this host lacks CAP_SYS_RESOURCE, so let
  # containerd clamp pods' oom_score_adj instead of failing to lower it
  sed -i -e "s#sandbox_image = .*#sandbox_image = \"$PAUSE_IMAGE\"#" \
    -e 's#restrict_oom_score_adj = false#restrict_oom_score_adj = true#' "$r/etc/containerd/config.toml"
  rm -f "$r/etc/machine-id" && touch "$r/etc/machine-id"
}
NODE_PKGS="systemd conntrack iptables nftables iproute2 ethtool util-linux mount kmod libseccomp2 pigz e2fsprogs bash ca-certificates curl jq procps containerd runc containernetworking-plugins ipset"
BASE_TAR=$(rootfs_tar "node-base-$KIND_VERSION" trixie "$NODE_PKGS" hook_nodebase "pause=$PAUSE_IMAGE crictl=$CRICTL_VERSION")
BASE_IMAGE="redis-ha.local/kind-base:$KIND_VERSION"
import_image "$BASE_IMAGE" "$BASE_TAR" --change "ENV container=docker" \
  --change 'ENTRYPOINT ["/usr/local/bin/entrypoint", "/sbin/init"]'

# ---- rootfs tarballs for component images (debootstrap while the Go builds run) -------
# iptables wrapper for kube-proxy / kube-router: follow the node's backend (legacy or nft),
# the same detection kind's entrypoint uses
hook_netbase() {
  local r=$1
  cat >"$r/usr/sbin/iptables-wrapper" <<'EOS'
#!/bin/sh
# pick the iptables backend the node already uses, then run the real command
num_legacy=$( (iptables-legacy-save || true; ip6tables-legacy-save || true) 2>/dev/null | grep -c '^-' || true)
num_nft=$( (timeout 5 sh -c "iptables-nft-save; ip6tables-nft-save" || true) 2>/dev/null | grep -c '^-' || true)
if [ "${num_legacy:-0}" -ge "${num_nft:-0}" ]; then mode=legacy; else mode=nft; fi
update-alternatives --set iptables "/usr/sbin/iptables-$mode" >/dev/null
update-alternatives --set ip6tables "/usr/sbin/ip6tables-$mode" >/dev/null
exec "$0" "$@"
EOS
  chmod 0755 "$r/usr/sbin/iptables-wrapper"
  for c in iptables iptables-save iptables-restore ip6tables ip6tables-save ip6tables-restore; do
    ln -sf /usr/sbin/iptables-wrapper "$r/etc/alternatives/$c"
  done
}
NET_TAR=$(rootfs_tar netbase trixie "iptables ipset conntrack kmod iproute2 ca-certificates" hook_netbase)

hook_helper() { :; }
HELPER_TAR=$(rootfs_tar local-path-helper trixie "busybox" hook_helper)

[ "${1:-}" = base ] && exit 0

# ---- inputs ---------------------------------------------------------------------
"$OFFLINE_DIR/build-k8s.sh"
"$OFFLINE_DIR/build-gotools.sh"
KBIN="$CACHE/k8s/$K8S_VERSION/bin"

# exact names kubeadm looks for
mapfile -t KUBEADM_IMAGES < <("$KBIN/kubeadm" config images list --kubernetes-version "$K8S_VERSION" 2>/dev/null)
[ ${#KUBEADM_IMAGES[@]} -ge 7 ] || die "kubeadm config images list failed"
img_for() { local i; for i in "${KUBEADM_IMAGES[@]}"; do case $i in */"$1":*) echo "$i"; return 0 ;; esac; done; die "kubeadm lists no $1 image"; }
STORAGE_PROVISIONER_IMAGE=$(sed -n 's/^const storageProvisionerImage = "\(.*\)"$/\1/p' "$KIND_SRC/pkg/build/nodeimage/const_storage.go")
STORAGE_HELPER_IMAGE=$(sed -n 's/^const storageHelperImage = "\(.*\)"$/\1/p' "$KIND_SRC/pkg/build/nodeimage/const_storage.go")
if [ -z "$STORAGE_PROVISIONER_IMAGE" ] || [ -z "$STORAGE_HELPER_IMAGE" ]; then
  die "cannot read kind's storage image names"
fi
KUBE_ROUTER_IMAGE="redis-ha.local/kube-router:$KUBE_ROUTER_VERSION"
[ "$(img_for pause)" = "$PAUSE_IMAGE" ] || die "kubeadm pause image $(img_for pause) != $PAUSE_IMAGE"

# ---- component images ----------------------------------------------------------------
PATHENV=(--change "ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin")
for c in kube-apiserver kube-controller-manager kube-scheduler; do
  t=$(static_tar "$c" "$K8S_VERSION" "$KBIN/$c:usr/local/bin/$c")
  import_image "$(img_for "$c")" "$t" "${PATHENV[@]}"
done
t=$(overlay_tar kube-proxy "$NET_TAR" "$KBIN/kube-proxy:usr/local/bin/kube-proxy")
import_image "$(img_for kube-proxy)" "$t" "${PATHENV[@]}"
t=$(static_tar etcd "$ETCD_VERSION" "$GT/etcd-$ETCD_VERSION/etcd:usr/local/bin/etcd")
import_image "$(img_for etcd)" "$t" "${PATHENV[@]}"
t=$(static_tar coredns "$COREDNS_VERSION" "$GT/coredns-$COREDNS_VERSION/coredns:coredns")
import_image "$(img_for coredns)" "$t" "${PATHENV[@]}" --change 'ENTRYPOINT ["/coredns"]'
t=$(static_tar pause "$K8S_VERSION" "$GT/pause-$K8S_VERSION/pause:pause")
import_image "$PAUSE_IMAGE" "$t" --change 'ENTRYPOINT ["/pause"]'
t=$(static_tar local-path-provisioner "$LPP_VERSION" "$GT/local-path-provisioner-$LPP_VERSION/local-path-provisioner:usr/local/bin/local-path-provisioner")
import_image "$STORAGE_PROVISIONER_IMAGE" "$t" "${PATHENV[@]}"
# helper pod runs `sh /script/setup|teardown` (mkdir, rm): a minbase rootfs has them
t=$HELPER_TAR
import_image "$STORAGE_HELPER_IMAGE" "$t" "${PATHENV[@]}"
t=$(overlay_tar kube-router "$NET_TAR" "$GT/kube-router-$KUBE_ROUTER_VERSION/kube-router:usr/local/bin/kube-router")
import_image "$KUBE_ROUTER_IMAGE" "$t" "${PATHENV[@]}" --change 'ENTRYPOINT ["/usr/local/bin/kube-router"]'

NODE_COMPONENT_IMAGES=("${KUBEADM_IMAGES[@]}" "$STORAGE_PROVISIONER_IMAGE" "$STORAGE_HELPER_IMAGE" "$KUBE_ROUTER_IMAGE")
# Pre-seed the test images too (E2E_BAKE_TEST_IMAGES=0 to skip): `kind load docker-image`
# in cluster-up.sh then finds them present (same image ID) and skips the per-node import,
# which is the slowest step of a warm start.
if [ "${E2E_BAKE_TEST_IMAGES:-1}" = 1 ] && [ -f "$E2E_DIR/images.env" ]; then
  # shellcheck disable=SC1091
  TEST_IMAGES=$(. "$E2E_DIR/images.env" && echo "$TEST_IMAGES")
  for i in $TEST_IMAGES; do
    docker image inspect "$i" >/dev/null 2>&1 && NODE_COMPONENT_IMAGES+=("$i")
  done
fi

# ---- assemble the node image -----------------------------------------------------------
ids=""
for i in "$BASE_IMAGE" "${NODE_COMPONENT_IMAGES[@]}"; do ids="$ids $(docker image inspect -f '{{.Id}}' "$i")"; done
for b in kubeadm kubelet kubectl; do ids="$ids $(sha256sum <"$KBIN/$b" | cut -c1-16)"; done
# The manifest without its licence line, so the key (and the image) stays the same when only the
# header changes.
NODE_KEY=$(_key "node-v1 $ids $(sed '/^# SPDX-License-Identifier/d' "$OFFLINE_DIR/kube-router.yaml")")
NODE_IMAGE="redis-ha.local/kind-node:$K8S_VERSION"
if [ "$(docker image inspect -f '{{index .Config.Labels "redis-ha.e2e.key"}}' "$NODE_IMAGE" 2>/dev/null)" = "$NODE_KEY" ]; then
  log "node image $NODE_IMAGE up to date"
  echo "$NODE_IMAGE"; exit 0
fi

stage_start node_image
cid="kind-build-redis-ha-$$"
docker rm -f "$cid" >/dev/null 2>&1 || true
trap 'docker rm -f "$cid" >/dev/null 2>&1 || true' EXIT
docker run -d --name "$cid" --entrypoint=sleep --security-opt seccomp=unconfined "$BASE_IMAGE" infinity >/dev/null \
  || die "cannot start build container from $BASE_IMAGE"
for b in kubeadm kubelet kubectl; do
  docker cp "$KBIN/$b" "$cid:/usr/bin/$b"
  docker exec "$cid" chmod 0755 "/usr/bin/$b"
  docker exec "$cid" chown root:root "/usr/bin/$b"
done
docker exec "$cid" sh -c "mkdir -p /kind/manifests && printf '%s' '$K8S_VERSION' >/kind/version"
sed -e '/^# SPDX-License-Identifier/d' -e "s#image: redis-ha.local/kube-router:.*#image: $KUBE_ROUTER_IMAGE#" "$OFFLINE_DIR/kube-router.yaml" >"$CACHE/default-cni.yaml"
docker cp "$CACHE/default-cni.yaml" "$cid:/kind/manifests/default-cni.yaml"
# kind's own storage manifest (local-path-provisioner), with its image names
# shellcheck disable=SC2016 # the backquotes are Go's, matched literally
sed -n '/^const defaultStorageManifest = `$/,/^`$/p' "$KIND_SRC/pkg/build/nodeimage/const_storage.go" \
  | sed -e '1d' -e '$d' -e "s#\` + storageProvisionerImage + \`#$STORAGE_PROVISIONER_IMAGE#" \
        -e "s#\` + storageHelperImage + \`#$STORAGE_HELPER_IMAGE#" >"$CACHE/default-storage.yaml"
grep -q "$STORAGE_PROVISIONER_IMAGE" "$CACHE/default-storage.yaml" || die "could not extract kind's storage manifest"
docker cp "$CACHE/default-storage.yaml" "$cid:/kind/manifests/default-storage.yaml"

docker exec "$cid" bash -c 'nohup containerd >/tmp/containerd.log 2>&1 &'
for _ in $(seq 1 30); do docker exec "$cid" ctr version >/dev/null 2>&1 && break; sleep 1; done
docker exec "$cid" ctr version >/dev/null 2>&1 || die "containerd did not start in the build container"
for i in "${NODE_COMPONENT_IMAGES[@]}"; do
  log "importing $i into the node image"
  docker save "$i" | docker exec -i "$cid" ctr --namespace=k8s.io images import --all-platforms --no-unpack \
    --digests --snapshotter=overlayfs - >>"$LOG_DIR/node-image.log" 2>&1 || die "ctr import of $i failed"
done
docker exec "$cid" ctr --namespace=k8s.io images ls -q >"$CACHE/node-images.txt"
for i in "${NODE_COMPONENT_IMAGES[@]}"; do
  case $i in */*/*|*.*/*) full=$i ;; *) full=docker.io/$i ;; esac
  grep -qx "$full" "$CACHE/node-images.txt" || die "image $full missing in node containerd after import"
done
docker exec "$cid" pkill containerd || true
sleep 2
docker commit --change 'ENTRYPOINT [ "/usr/local/bin/entrypoint", "/sbin/init" ]' \
  --change 'ENV HTTP_PROXY="" HTTPS_PROXY="" NO_PROXY=""' \
  "$cid" "$NODE_IMAGE-commit" >/dev/null || die "docker commit failed"
# docker import/commit cannot set STOPSIGNAL (systemd stops on SIGRTMIN+3): a FROM-local
# legacy build adds it (no pull, metadata only)
printf 'FROM %s\nSTOPSIGNAL SIGRTMIN+3\nLABEL redis-ha.e2e.key=%s\n' "$NODE_IMAGE-commit" "$NODE_KEY" \
  | DOCKER_BUILDKIT=0 docker build -q -t "$NODE_IMAGE" - >/dev/null || die "docker build (STOPSIGNAL) failed"
docker rmi "$NODE_IMAGE-commit" >/dev/null 2>&1 || true
stage_end node_image
echo "$NODE_IMAGE"
