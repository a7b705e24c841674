#!/bin/sh
# SPDX-License-Identifier: Apache-2.0
# runc wrapper for hosts whose capability bounding set lacks a capability
# (here CAP_SYS_RESOURCE). Docker asks for every known capability for
# --privileged containers; runc then fails with
#   "unable to apply caps: operation not permitted".
# We drop the missing capabilities from the OCI spec before runc sees it:
#   create/run: <bundle>/config.json   (.process.capabilities.*)
#   exec:       the --process JSON file (.capabilities.*)
# Installed by ci/e2e/offline/docker.sh only when a capability is missing; the list is
# substituted into DROP_CAPS at install time.
REAL_RUNC=${REAL_RUNC:-@REAL_RUNC@}
DROP_CAPS=${DROP_CAPS:-@DROP_CAPS@}
JQ=${JQ:-@JQ@}

filter_json() { # filter_json FILE PREFIX   (PREFIX: ".process" or "")
  f=$1; p=$2
  [ -f "$f" ] || return 0
  # shellcheck disable=SC2086 # one argument per capability name
  drop=$(printf '"%s",' $DROP_CAPS); drop="[${drop%,}]"
  tmp="$f.capfilter.$$"
  if "$JQ" --argjson drop "$drop" \
      "if ${p}.capabilities then ${p}.capabilities |= with_entries(.value |= (if type == \"array\" then map(select(. as \$c | \$drop | index(\$c) | not)) else . end)) else . end" \
      "$f" >"$tmp" 2>/dev/null; then
    cat "$tmp" >"$f"   # keep inode/permissions
  fi
  rm -f "$tmp"
}

cmd="" bundle="" process="" prev=""
for a in "$@"; do
  case "$prev" in
    --bundle|-b) bundle=$a ;;
    --process|-p) process=$a ;;
  esac
  case "$a" in
    --bundle=*) bundle=${a#--bundle=} ;;
    --process=*) process=${a#--process=} ;;
    create|run|exec) [ -z "$cmd" ] && cmd=$a ;;
  esac
  prev=$a
done

case "$cmd" in
  create|run) filter_json "${bundle:-.}/config.json" ".process" ;;
  exec) [ -n "$process" ] && filter_json "$process" "" ;;
esac
exec "$REAL_RUNC" "$@"
