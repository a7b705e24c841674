#!/bin/sh
# SPDX-License-Identifier: Apache-2.0
# preStop hook of the sentinel container. Both containers stop together; a Sentinel that
# vanished in the middle of its own pod's handover could cost the failover its quorum, so it
# stays while the local Redis is master until the redis hook reports it finished.
# Extra environment: PRESTOP_TIMEOUT.
# shellcheck source=lib.sh
. "${SCRIPTS_DIR:-/scripts}/lib.sh"

: "${REPLICAS:=1}"
: "${PRESTOP_TIMEOUT:=30}"

main() {
  load_auth
  [ "$REPLICAS" -gt 1 ] || exit 0
  _n=0
  while [ "$_n" -lt $((PRESTOP_TIMEOUT * 2)) ]; do
    [ ! -e "$RUN_DIR/handover.done" ] || exit 0
    [ "$(role "$LOCAL_HOST" "$REDIS_PORT")" = master ] || exit 0
    sleep 0.5
    _n=$((_n + 1))
  done
  log "the local Redis is still master after ${PRESTOP_TIMEOUT}s; stopping anyway"
}

main "$@"
