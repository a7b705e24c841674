#!/bin/sh
# SPDX-License-Identifier: Apache-2.0
# `helm test`: asks Sentinel for the master, writes a key there, waits until every replica
# has it (WAIT), and reads it back from every pod. With one pod it writes and reads that pod.
# shellcheck source=lib.sh
. "${SCRIPTS_DIR:-/scripts}/lib.sh"

: "${REPLICAS:=1}"

load_auth
# A NetworkPolicy engine may admit a new pod's address a few seconds after it starts: retry.
attempt=1
while :; do
  if [ "$REPLICAS" -gt 1 ]; then
    MASTER=$(sentinel_master "$SENTINEL_SERVICE") || MASTER=""
  else
    MASTER=$(node_host 0)
  fi
  [ -n "$MASTER" ] && [ "$(role "$MASTER" "$REDIS_PORT")" = master ] && break
  [ "$attempt" -lt 15 ] || die "no master found through $SENTINEL_SERVICE after $attempt attempts"
  attempt=$((attempt + 1))
  sleep 2
done
# expect WANT HOST ARGS...: the reply of ARGS on HOST is WANT, tried a few times for the same reason.
expect() {
  _want=$1
  _host=$2
  shift 2
  _n=1
  until _got=$(cli_raw "$_host" "$REDIS_PORT" "$@") && [ "$_got" = "$_want" ]; do
    [ "$_n" -lt 5 ] || die "$_host answered '$_got' to $1, expected '$_want'"
    _n=$((_n + 1))
    sleep 1
  done
}

key="helm-test:$(date +%s)"
expect OK "$MASTER" SET "$key" ok EX 300
expect $((REPLICAS - 1)) "$MASTER" WAIT $((REPLICAS - 1)) 5000
i=0
while [ "$i" -lt "$REPLICAS" ]; do
  expect ok "$(node_host "$i")" GET "$key"
  i=$((i + 1))
done
echo "master $MASTER took the write and all $REPLICAS pod(s) return it"
