#!/bin/sh
# SPDX-License-Identifier: Apache-2.0
# Entry point of the sentinel container. Renders sentinel.conf into RUN_DIR at every start
# (Sentinel rewrites its file, and an old file would carry stale addresses), with a stable
# myid per ordinal and host names announced, then execs redis-sentinel. The master it
# monitors is the one a peer Sentinel names and that answers ROLE master, else the master of
# the local Redis, whose start script already decided from evidence.
# Extra environment: QUORUM, SENTINEL_ID_PREFIX (32 hex digits), BOOT_ATTEMPTS, BOOT_INTERVAL.
# shellcheck source=lib.sh
. "${SCRIPTS_DIR:-/scripts}/lib.sh"

: "${REPLICAS:=3}"
: "${QUORUM:=$((REPLICAS / 2 + 1))}"
: "${BOOT_ATTEMPTS:=30}"
: "${BOOT_INTERVAL:=2}"
: "${BIND_ADDRESS:=* -::*}"
: "${SENTINEL_ID_PREFIX:=00000000000000000000000000000000}"

# current_master: prints the master this Sentinel should monitor, or nothing yet.
current_master() {
  for _host in $(peer_hosts); do
    _named=$(sentinel_master "$_host") &&
      [ "$(role "$_named" "$REDIS_PORT")" = master ] && {
      printf '%s\n' "$_named"
      return 0
    }
  done
  case $(role "$LOCAL_HOST" "$REDIS_PORT") in
    master) printf '%s\n' "$ME" ;;
    slave) info_field "$LOCAL_HOST" "$REDIS_PORT" replication master_host ;;
  esac
}

main() {
  load_auth
  ME=$(my_host)
  _attempt=1
  MASTER=$(current_master)
  while [ -z "$MASTER" ]; do
    [ "$_attempt" -lt "$BOOT_ATTEMPTS" ] || die "no master known after $BOOT_ATTEMPTS attempts"
    log "waiting for the local Redis to start (attempt $_attempt/$BOOT_ATTEMPTS)"
    sleep "$BOOT_INTERVAL"
    _attempt=$((_attempt + 1))
    MASTER=$(current_master)
  done
  mkdir -p "$RUN_DIR"
  _conf=$RUN_DIR/sentinel.conf
  umask 077
  {
    port_config "$SENTINEL_PORT" "$PLAIN_SENTINEL_PORT"
    echo "bind $BIND_ADDRESS"
    echo "dir $RUN_DIR"
    printf 'sentinel myid %s%08x\n' "$SENTINEL_ID_PREFIX" "$POD_ORDINAL"
    # Both must come before the monitor line, or Sentinel rejects a host name there.
    echo "sentinel resolve-hostnames yes"
    echo "sentinel announce-hostnames yes"
    echo "sentinel announce-ip $ME"
    echo "sentinel announce-port $SENTINEL_PORT"
    auth_config sentinel
    login_config sentinelPeer "sentinel sentinel-user" "sentinel sentinel-pass"
    echo "sentinel monitor $MASTER_SET $MASTER $REDIS_PORT $QUORUM"
    login_config sentinel "sentinel auth-user $MASTER_SET" "sentinel auth-pass $MASTER_SET"
    cat "$CONFIG_DIR/sentinel.conf"
  } >"$_conf.tmp"
  mv "$_conf.tmp" "$_conf"
  save_probe_login sentinel
  log "starting redis-sentinel monitoring $MASTER"
  exec redis-sentinel "$_conf"
}

main "$@"
