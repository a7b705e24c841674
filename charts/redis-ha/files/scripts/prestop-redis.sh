#!/bin/sh
# SPDX-License-Identifier: Apache-2.0
# preStop hook of the redis container: a master hands its role over before it stops.
# SENTINEL FAILOVER alone loses acknowledged writes (the old master accepts them until it is
# demoted), so writes are paused first (CLIENT PAUSE ... WRITE), the replicas are let catch up,
# Sentinel fails over, and the hook waits until this node really is no longer master.
# https://redis.io/docs/latest/commands/client-pause/
# Extra environment: PRESTOP_TIMEOUT (seconds, below terminationGracePeriodSeconds).
# Always leaves RUN_DIR/handover.done behind, which the sentinel container's hook waits for.
# shellcheck source=lib.sh
. "${SCRIPTS_DIR:-/scripts}/lib.sh"

: "${REPLICAS:=1}"
: "${PRESTOP_TIMEOUT:=30}"

# shellcheck disable=SC2317 # called by the EXIT trap
finish() {
  touch "$RUN_DIR/handover.done" 2>/dev/null
}

# replicas_caught_up: true when a connected replica has every byte of the master's stream.
replicas_caught_up() {
  _info=$(cli_raw "$LOCAL_HOST" "$REDIS_PORT" INFO replication | tr -d '\r')
  _offset=$(printf '%s\n' "$_info" | sed -n 's/^master_repl_offset://p')
  for _o in $(printf '%s\n' "$_info" | sed -n 's/^slave[0-9]*:.*state=online,offset=\([0-9]*\).*/\1/p'); do
    [ "$_o" -lt "$_offset" ] || return 0
  done
  return 1
}

# request_failover: asks the local Sentinel, then the peers', to fail over MASTER_SET.
request_failover() {
  _hosts="$LOCAL_HOST"
  _i=0
  while [ "$_i" -lt "$REPLICAS" ]; do
    [ "$_i" -eq "$POD_ORDINAL" ] || _hosts="$_hosts $(node_host "$_i")"
    _i=$((_i + 1))
  done
  for _h in $_hosts; do
    _out=$(cli_raw "$_h" "$SENTINEL_PORT" SENTINEL FAILOVER "$MASTER_SET")
    case $_out in
      OK | INPROG*)
        log "sentinel on $_h accepted the failover ($_out)"
        return 0
        ;;
    esac
    log "sentinel on $_h refused the failover: $_out"
  done
  return 1
}

main() {
  trap finish EXIT
  load_auth
  [ "$REPLICAS" -gt 1 ] || exit 0
  [ "$(role "$LOCAL_HOST" "$REDIS_PORT")" = master ] || exit 0
  _replicas=$(info_field "$LOCAL_HOST" "$REDIS_PORT" replication connected_slaves)
  if [ "${_replicas:-0}" -eq 0 ]; then
    log "master without connected replicas: nothing to hand over to"
    exit 0
  fi
  log "master with $_replicas replica(s): pausing writes and handing over"
  cli "$LOCAL_HOST" "$REDIS_PORT" CLIENT PAUSE $((PRESTOP_TIMEOUT * 1000)) WRITE >/dev/null
  _n=0
  until replicas_caught_up || [ "$_n" -ge 20 ]; do
    sleep 0.1
    _n=$((_n + 1))
  done
  _start=$(date +%s)
  if request_failover; then
    while [ $(($(date +%s) - _start)) -lt "$PRESTOP_TIMEOUT" ]; do
      if [ "$(role "$LOCAL_HOST" "$REDIS_PORT")" != master ]; then
        cli "$LOCAL_HOST" "$REDIS_PORT" CLIENT UNPAUSE >/dev/null
        log "handover done: this node is a replica now ($(($(date +%s) - _start))s)"
        exit 0
      fi
      sleep 0.2
    done
  fi
  cli "$LOCAL_HOST" "$REDIS_PORT" CLIENT UNPAUSE >/dev/null
  die "handover did not complete within ${PRESTOP_TIMEOUT}s; stopping as master"
}

main "$@"
