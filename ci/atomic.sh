# shellcheck shell=bash
# SPDX-License-Identifier: Apache-2.0
# Locks and atomic installs for the tool cache, sourced by ci/bootstrap.sh, ci/build-tools.sh and
# ci/e2e/lib.sh, so two runs that start at once (`tox -e unit` and ci/e2e/up.sh) neither build
# the same thing twice nor see each other's half-built results:
#   with_lock CACHE NAME CMD...   runs CMD (a command or function) holding CACHE/locks/NAME.lock;
#                                 CMD checks again whether its result exists once it has the lock
#   atomic_tmpdir DEST            prints a new folder beside DEST, unique to this process
#   atomic_publish TMP DEST       renames TMP to DEST (an existing DEST is swapped out, then removed)
#   atomic_install SRC DEST       copies the file SRC to DEST (mode 0755) through a rename
#   atomic_symlink TARGET LINK    points LINK at TARGET through a rename
# Temporary folders this process leaves behind (a failed build) are removed when it exits.

ATOMIC_REGISTRY=$(mktemp "${TMPDIR:-/tmp}/redis-ha-atomic.XXXXXX")
_atomic_cleanup() {
  local path
  while IFS= read -r path; do
    [ -z "$path" ] || rm -rf -- "$path"
  done <"$ATOMIC_REGISTRY"
  rm -f -- "$ATOMIC_REGISTRY"
}
trap _atomic_cleanup EXIT

with_lock() {
  local cache=$1 name=$2
  shift 2
  mkdir -p "$cache/locks"
  if ! command -v flock >/dev/null 2>&1; then
    # macOS has no flock(1) unless installed (`brew install flock`); the renames below still
    # keep every result whole, a concurrent run may only build the same thing twice.
    "$@"
    return
  fi
  (
    exec 9>"$cache/locks/$name.lock"
    flock 9
    "$@"
  )
}

atomic_tmpdir() {
  local dest=$1 tmp
  mkdir -p "$(dirname "$dest")"
  tmp=$(mktemp -d "$(dirname "$dest")/.$(basename "$dest").tmp.XXXXXX")
  chmod 0755 "$tmp"
  printf '%s\n' "$tmp" >>"$ATOMIC_REGISTRY"
  printf '%s\n' "$tmp"
}

atomic_publish() {
  local tmp=$1 dest=$2 old=""
  if [ -e "$dest" ] || [ -L "$dest" ]; then
    old=$(atomic_tmpdir "$dest")
    rmdir "$old"
    mv -- "$dest" "$old"
  fi
  mv -- "$tmp" "$dest"
  [ -z "$old" ] || rm -rf -- "$old"
}

atomic_install() {
  local src=$1 dest=$2 tmp
  tmp=$(atomic_tmpdir "$dest")
  cp -- "$src" "$tmp/file"
  chmod 0755 "$tmp/file"
  # rename(2) of a file over a file: a running copy of the old binary keeps its inode.
  mv -f -- "$tmp/file" "$dest"
  rmdir "$tmp"
}

atomic_symlink() {
  local target=$1 link=$2 tmp
  [ "$(readlink "$link" 2>/dev/null)" != "$target" ] || return 0
  tmp=$(atomic_tmpdir "$link")
  ln -s -- "$target" "$tmp/link"
  # LINK names a file (never a folder), so mv replaces it rather than moving into it.
  mv -f -- "$tmp/link" "$link"
  rmdir "$tmp"
}
