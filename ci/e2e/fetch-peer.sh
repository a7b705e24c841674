#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Fetch a peer chart for the chaos suite's peer mode AT RUN TIME into the cache and print the
# chart directory (stdout: that path only). The peer chart is never part of this repository.
#
#   CHART=$(ci/e2e/fetch-peer.sh [dandydeveloper])
#     -> $REDIS_HA_CACHE/peers/dandydeveloper-redis-ha-<version>/   (holds Chart.yaml)
#
# Sources, in this order:
#   1. a git mirror of github.com/DandyDeveloper/charts (PEER_MIRROR = its git directory; default
#      /work/.mirror/DandyDeveloper+charts/repo when that exists): `git archive` of the release
#      tag redis-ha-<version>, i.e. the chart exactly as released;
#   2. the chart's Helm repository (PEER_REPO_URL, default https://dandydeveloper.github.io/charts)
#      with `helm pull` (needs internet);
#   otherwise it fails with the reason.
# Env:
#   PEER_VERSION    chart version (default 4.39.0, the version the chart README's scan comparison measured)
#   PEER_MIRROR     git directory of a DandyDeveloper/charts mirror ("" = do not use a mirror)
#   PEER_REPO_URL   Helm repository URL
#   PEER_REFRESH=1  fetch again even when the cache holds that version
#   REDIS_HA_CACHE  cache root (default ~/.cache/redis-ha)
set -euo pipefail
. "$(dirname "$0")/lib.sh"

PEER=${1:-dandydeveloper}
case $PEER in
  dandydeveloper)
    CHART_NAME=redis-ha
    VERSION=${PEER_VERSION:-4.39.0}
    DEFAULT_MIRROR=/work/.mirror/DandyDeveloper+charts/repo
    REPO_URL=${PEER_REPO_URL:-https://dandydeveloper.github.io/charts}
    GIT_TAG="redis-ha-$VERSION"
    GIT_PATH=charts/redis-ha
    ;;
  *) die "unknown peer '$PEER' (known: dandydeveloper)" ;;
esac
if [ -z "${PEER_MIRROR+set}" ] && [ -d "$DEFAULT_MIRROR" ]; then PEER_MIRROR=$DEFAULT_MIRROR; fi
PEER_MIRROR=${PEER_MIRROR:-}

PEERS="$CACHE/peers"
DEST="$PEERS/$PEER-$CHART_NAME-$VERSION"
mkdir -p "$PEERS"

chart_version() { sed -n 's/^version:[[:space:]]*["]*\([^"[:space:]]*\).*/\1/p' "$1/Chart.yaml" 2>/dev/null | head -1; }

if [ "${PEER_REFRESH:-0}" != 1 ] && [ "$(chart_version "$DEST")" = "$VERSION" ]; then
  log "peer chart $PEER $CHART_NAME $VERSION cached: $DEST"
  echo "$DEST"; exit 0
fi

TMP=$(mktemp -d "$PEERS/.fetch-$PEER-XXXXXX")
trap 'rm -rf "$TMP"' EXIT
source_desc=""
why=()

if [ -n "$PEER_MIRROR" ]; then
  if ! git --git-dir="$PEER_MIRROR" rev-parse --git-dir >/dev/null 2>&1; then
    why+=("PEER_MIRROR=$PEER_MIRROR is not a git directory")
  elif ! git --git-dir="$PEER_MIRROR" rev-parse -q --verify "refs/tags/$GIT_TAG^{commit}" >/dev/null; then
    why+=("mirror $PEER_MIRROR has no tag $GIT_TAG (has: $(git --git-dir="$PEER_MIRROR" tag -l "$CHART_NAME-*" --sort=-v:refname | head -5 | paste -sd' ' -))")
  else
    commit=$(git --git-dir="$PEER_MIRROR" rev-parse "refs/tags/$GIT_TAG^{commit}")
    log "peer chart $PEER: $GIT_PATH at tag $GIT_TAG ($commit) from the mirror $PEER_MIRROR"
    mkdir -p "$TMP/x"
    git --git-dir="$PEER_MIRROR" archive "$commit" "$GIT_PATH" | tar -x -C "$TMP/x" \
      || die "git archive $GIT_TAG:$GIT_PATH from $PEER_MIRROR failed"
    mv "$TMP/x/$GIT_PATH" "$TMP/chart"
    source_desc="git mirror $PEER_MIRROR tag $GIT_TAG commit $commit path $GIT_PATH"
  fi
fi

if [ -z "$source_desc" ]; then
  command -v helm >/dev/null 2>&1 || die "cannot fetch $PEER $CHART_NAME $VERSION: ${why[*]:-no mirror}; and helm is not in PATH for the Helm repository"
  log "peer chart $PEER: helm pull $CHART_NAME $VERSION from $REPO_URL"
  if timeout 120 helm pull "$CHART_NAME" --repo "$REPO_URL" --version "$VERSION" --untar --untardir "$TMP/x" \
      >"$TMP/pull.log" 2>&1; then
    mv "$TMP/x/$CHART_NAME" "$TMP/chart"
    source_desc="helm repo $REPO_URL chart $CHART_NAME version $VERSION"
  else
    why+=("helm pull from $REPO_URL failed: $(tail -1 "$TMP/pull.log")")
    die "cannot fetch peer chart $PEER ($CHART_NAME $VERSION): ${why[*]}. On a machine without internet, mirror github.com/DandyDeveloper/charts with git and set PEER_MIRROR to its git directory."
  fi
fi

got=$(chart_version "$TMP/chart")
[ "$got" = "$VERSION" ] || die "fetched chart has version '$got', expected $VERSION ($source_desc)"
printf '%s\nfetched %s\n' "$source_desc" "$(date -u +%Y-%m-%dT%H:%M:%SZ)" >"$DEST.source"
rm -rf "$DEST"
mv -T "$TMP/chart" "$DEST" 2>/dev/null || [ "$(chart_version "$DEST")" = "$VERSION" ] \
  || die "cannot move the chart to $DEST"
log "peer chart $PEER $CHART_NAME $VERSION -> $DEST"
echo "$DEST"
