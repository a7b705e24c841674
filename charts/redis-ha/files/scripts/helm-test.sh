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
key="helm-test:$(date +%s)"
[ "$(cli_raw "$MASTER" "$REDIS_PORT" SET "$key" ok EX 300)" = OK ] || die "SET on $MASTER failed"
acked=$(cli_raw "$MASTER" "$REDIS_PORT" WAIT $((REPLICAS - 1)) 5000)
[ "$acked" -ge $((REPLICAS - 1)) ] || die "only $acked of $((REPLICAS - 1)) replicas acknowledged the write"
i=0
while [ "$i" -lt "$REPLICAS" ]; do
  got=$(cli_raw "$(node_host "$i")" "$REDIS_PORT" GET "$key")
  [ "$got" = ok ] || die "$(node_host "$i") returned '$got' for $key"
  i=$((i + 1))
done
echo "master $MASTER took the write and all $REPLICAS pod(s) return it"
