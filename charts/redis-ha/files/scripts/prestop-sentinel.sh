#!/bin/sh
# SPDX-License-Identifier: Apache-2.0
# preStop hook of the sentinel container. Beside Redis (sentinel.colocated) both containers stop
# together; a Sentinel that vanished in the middle of its own pod's handover could cost the
# failover its quorum, so it stays while the local Redis is master until the redis hook reports
# it finished. In a Sentinel pod of its own it stays while a failover it sees is in progress.
# Extra environment: PRESTOP_TIMEOUT.
# shellcheck source=lib.sh
. "${SCRIPTS_DIR:-/scripts}/lib.sh"

: "${REPLICAS:=1}"
: "${PRESTOP_TIMEOUT:=30}"

# failover_in_progress: true while the local Sentinel reports a failover of MASTER_SET.
failover_in_progress() {
  cli_raw "$LOCAL_HOST" "$SENTINEL_PORT" SENTINEL MASTER "$MASTER_SET" | grep -q 'failover_in_progress'
}

main() {
  load_auth
  [ "$REPLICAS" -gt 1 ] || exit 0
  _n=0
  if ! colocated; then
    while [ "$_n" -lt $((PRESTOP_TIMEOUT * 2)) ] && failover_in_progress; do
      sleep 0.5
      _n=$((_n + 1))
    done
    exit 0
  fi
  while [ "$_n" -lt $((PRESTOP_TIMEOUT * 2)) ]; do
    [ ! -e "$RUN_DIR/handover.done" ] || exit 0
    [ "$(role "$LOCAL_HOST" "$REDIS_PORT")" = master ] || exit 0
    sleep 0.5
    _n=$((_n + 1))
  done
  log "the local Redis is still master after ${PRESTOP_TIMEOUT}s; stopping anyway"
}

main "$@"
