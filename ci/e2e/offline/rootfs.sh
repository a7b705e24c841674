# shellcheck shell=bash
# SPDX-License-Identifier: Apache-2.0
# Rootfs + image helpers (sourced). Images are `docker import`s of rootfs tarballs:
# no registry, no Dockerfile FROM pulls.
#
#   rootfs_tar NAME SUITE "PKG ..." [HOOK_FN [KEY_EXTRA]]  -> prints $CACHE/rootfs/NAME-KEY.tar
#       debootstrap --variant=minbase of Debian SUITE with PKGs; HOOK_FN ROOTDIR runs
#       before packing. KEY hashes suite, packages and the hook's source.
#   import_image TAG TAR KEY [--change ...]    -> docker import unless TAG already has KEY

DEBOOTSTRAP_CACHE="$CACHE/debs"

_key() { printf '%s' "$*" | sha256sum | cut -c1-12; }

rootfs_tar() {
  local name=$1 suite=$2 pkgs=$3 hook=${4:-} keyextra=${5:-}
  local hooksrc=""
  [ -n "$hook" ] && hooksrc=$(declare -f "$hook")
  local key
  key=$(_key "v3 $suite $DEBIAN_MIRROR $pkgs $hooksrc $keyextra")
  local tar="$CACHE/rootfs/$name-$key.tar"
  if [ -s "$tar" ]; then echo "$tar"; return 0; fi
  need_root "debootstrap"
  command -v debootstrap >/dev/null 2>&1 || apt_install debootstrap
  stage_start "rootfs_$name"
  local dir="$CACHE/rootfs/$name-$key.d"
  rm -rf "$dir"; mkdir -p "$dir" "$DEBOOTSTRAP_CACHE"
  log "debootstrap $suite ($name): $pkgs"
  if ! debootstrap --variant=minbase --cache-dir="$DEBOOTSTRAP_CACHE" \
      --include="$(echo "$pkgs" | tr ' ' ',')" "$suite" "$dir" "$DEBIAN_MIRROR" \
      >"$LOG_DIR/debootstrap-$name.log" 2>&1; then
    tail -20 "$LOG_DIR/debootstrap-$name.log" >&2
    die "debootstrap $suite for $name failed (see $LOG_DIR/debootstrap-$name.log)"
  fi
  if [ -n "$hook" ]; then
    "$hook" "$dir" >>"$LOG_DIR/debootstrap-$name.log" 2>&1 || { tail -20 "$LOG_DIR/debootstrap-$name.log" >&2; die "rootfs hook $hook failed"; }
  fi
  # slim down: apt lists/caches, docs, man pages, logs
  rm -rf "$dir"/var/lib/apt/lists/* "$dir"/var/cache/apt/*.bin "$dir"/var/cache/apt/archives/*.deb \
    "$dir"/usr/share/doc/* "$dir"/usr/share/man/* "$dir"/usr/share/info/* "$dir"/var/log/*.log \
    "$dir"/var/cache/debconf/*-old "$dir"/var/lib/dpkg/*-old
  tar --numeric-owner -C "$dir" -cf "$tar.tmp" . || die "packing $name rootfs failed"
  mv -f "$tar.tmp" "$tar"
  rm -rf "$dir"
  stage_end "rootfs_$name"
  echo "$tar"
}

# _install_specs DIR FILE:DEST[:MODE] ...: copies each FILE to DIR/DEST (mode 0755 by default).
_install_specs() {
  local dir=$1 spec; shift
  for spec in "$@"; do
    local src=${spec%%:*} rest=${spec#*:}
    local dest=${rest%%:*} mode=0755
    [ "$rest" != "$dest" ] && mode=${rest#*:}
    mkdir -p "$dir/$(dirname "$dest")"
    install -m "$mode" "$src" "$dir/$dest"
  done
}

# static_tar NAME KEYSRC FILE:DEST[:MODE] ... -> tiny rootfs (passwd/group/tmp + files), no distro
static_tar() {
  local name=$1 keysrc=$2; shift 2
  local key spec
  key=$(_key "static-v2 $keysrc $* $(for spec in "$@"; do stat -c '%s %Y' "${spec%%:*}"; done)")
  local tar="$CACHE/rootfs/$name-$key.tar"
  if [ -s "$tar" ]; then echo "$tar"; return 0; fi
  local dir="$CACHE/rootfs/$name-$key.d"
  rm -rf "$dir"; mkdir -p "$dir/etc" "$dir/tmp" "$dir/usr/local/bin" "$dir/var/run"
  chmod 1777 "$dir/tmp"
  printf 'root:x:0:0:root:/root:/sbin/nologin\nnobody:x:65534:65534:nobody:/nonexistent:/sbin/nologin\n' >"$dir/etc/passwd"
  printf 'root:x:0:\nnobody:x:65534:\n' >"$dir/etc/group"
  printf 'hosts: files dns\n' >"$dir/etc/nsswitch.conf"
  _install_specs "$dir" "$@"
  tar --numeric-owner -C "$dir" -cf "$tar.tmp" . && mv -f "$tar.tmp" "$tar"
  rm -rf "$dir"
  echo "$tar"
}

# overlay_tar NAME BASE_TAR FILE:DEST[:MODE] ... -> BASE_TAR plus files (tar append)
overlay_tar() {
  local name=$1 base=$2; shift 2
  local key spec
  key=$(_key "overlay-v1 $(basename "$base") $* $(for spec in "$@"; do stat -c '%s %Y' "${spec%%:*}"; done)")
  local tar="$CACHE/rootfs/$name-$key.tar"
  if [ -s "$tar" ]; then echo "$tar"; return 0; fi
  local dir="$CACHE/rootfs/$name-$key.d"
  rm -rf "$dir"; mkdir -p "$dir"
  _install_specs "$dir" "$@"
  cp "$base" "$tar.tmp"
  # only add the files themselves (directories already exist in the base)
  (cd "$dir" && find . -type f -o -type l) | tar --numeric-owner -C "$dir" -rf "$tar.tmp" -T - --no-recursion
  mv -f "$tar.tmp" "$tar"
  rm -rf "$dir"
  echo "$tar"
}

# import_image TAG TAR [--change X]... : docker import when TAG is missing or built from another TAR
import_image() {
  local tag=$1 tar=$2; shift 2
  local key
  key=$(_key "$(basename "$tar") $*")
  if [ "$(docker image inspect -f '{{index .Config.Labels "redis-ha.e2e.key"}}' "$tag" 2>/dev/null)" = "$key" ]; then
    log "image $tag up to date"
    return 0
  fi
  log "docker import $tag"
  docker import --change "LABEL redis-ha.e2e.key=$key" "$@" "$tar" "$tag" >/dev/null \
    || die "docker import $tag failed"
}
