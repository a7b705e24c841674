#!/bin/sh
# SPDX-License-Identifier: Apache-2.0
# Entry point of the sentinel container, in a Sentinel pod of its own or beside Redis
# (sentinel.colocated). Renders sentinel.conf into RUN_DIR at every start (Sentinel rewrites its
# file, and an old file would carry stale addresses), with a stable myid per ordinal and host
# names announced, then execs redis-sentinel. The master it monitors is the one a peer Sentinel
# names and that answers ROLE master; else, beside Redis, the master of the local Redis; else
# the one Redis pod that answers ROLE master. The Redis start scripts decide who is master
# without any Sentinel, so a Sentinel only waits for them, never the other way round.
# In the background it forgets peers that are down and not part of the release (Sentinel never
# forgets a peer by itself, and a dead Sentinel still counts as a voter): after a scale-down or a
# move between layouts every Sentinel again knows exactly the release's Sentinels and replicas.
# While migration.enabled the set follows an external master that Sentinel must never monitor or
# promote: until one Redis pod of the set is master (the cutover), Sentinel runs with no master
# to monitor, then restarts monitoring that pod (docs/design.md, "Migration").
# Extra environment: QUORUM, SENTINEL_ID_PREFIX (32 hex digits), BOOT_INTERVAL,
# HOUSEKEEPING_INTERVAL (seconds between two looks for such peers).
# shellcheck source=lib.sh
. "${SCRIPTS_DIR:-/scripts}/lib.sh"

: "${QUORUM:=$((SENTINELS / 2 + 1))}"
: "${BOOT_INTERVAL:=2}"
: "${BIND_ADDRESS:=* -::*}"
: "${SENTINEL_ID_PREFIX:=00000000000000000000000000000000}"
: "${HOUSEKEEPING_INTERVAL:=30}"

# current_master: prints the master this Sentinel should monitor, or nothing yet.
current_master() {
  for _host in $(sentinel_hosts); do
    [ "$_host" != "$ME" ] || continue
    _named=$(sentinel_master "$_host") &&
      [ "$(role "$_named" "$REDIS_PORT")" = master ] && {
      printf '%s\n' "$_named"
      return 0
    }
  done
  if colocated; then
    case $(role "$LOCAL_HOST" "$REDIS_PORT") in
      master) printf '%s\n' "$ME" ;;
      slave)
        # Never the external master a migrating set follows: only a pod of this set.
        _master=$(info_field "$LOCAL_HOST" "$REDIS_PORT" replication master_host)
        ! is_node_host "$_master" || printf '%s\n' "$_master"
        ;;
    esac
    return 0
  fi
  _found=""
  for _host in $(node_hosts); do
    if [ "$(role "$_host" "$REDIS_PORT")" = master ]; then
      # Two masters (a split that Sentinel used to resolve): wait for the Redis pods to settle.
      [ -z "$_found" ] || return 0
      _found=$_host
    fi
  done
  [ -z "$_found" ] || printf '%s\n' "$_found"
}

# ghosts SENTINELS|REPLICAS EXPECTED: prints the address of each peer of that kind the local
# Sentinel knows, flags down, and that is not one of EXPECTED (host names, one per line).
ghosts() {
  _key=""
  _ip=""
  cli_raw "$LOCAL_HOST" "$SENTINEL_PORT" SENTINEL "$1" "$MASTER_SET" | tr -d '\r' | while IFS= read -r _line; do
    if [ -z "$_key" ]; then
      _key=$_line
      continue
    fi
    case $_key in
      ip) _ip=$_line ;;
      flags)
        case ",$_line," in
          *,s_down,* | *,o_down,* | *,disconnected,*)
            printf '%s\n' "$2" | grep -qxF "$_ip" || printf '%s\n' "$_ip"
            ;;
        esac
        ;;
    esac
    _key=""
  done
}

# forget_ghosts: every HOUSEKEEPING_INTERVAL, resets MASTER_SET when ghosts exist and no failover
# is under way; Sentinels take turns by ordinal so a quorum always knows its peers.
forget_ghosts() {
  sleep $((HOUSEKEEPING_INTERVAL + POD_ORDINAL * HOUSEKEEPING_INTERVAL / 3))
  while :; do
    _ghosts=$(ghosts SENTINELS "$(sentinel_hosts)")$(ghosts REPLICAS "$(node_hosts)")
    _flags=$(cli_raw "$LOCAL_HOST" "$SENTINEL_PORT" SENTINEL MASTER "$MASTER_SET" | tr -d '\r' | sed -n '/^flags$/{n;p;}')
    if [ -n "$_ghosts" ] && [ "$_flags" = master ]; then
      log "forgetting peers that are down and not part of the release: $(printf '%s\n' "$_ghosts" | tr '\n' ' ')(SENTINEL RESET)"
      cli "$LOCAL_HOST" "$SENTINEL_PORT" SENTINEL RESET "$MASTER_SET" >/dev/null
    fi
    sleep "$HOUSEKEEPING_INTERVAL"
  done
}

# write_config [MONITOR]: renders sentinel.conf into RUN_DIR; with MONITOR (a master host) the
# master set and its settings, without it none (migration: nothing to monitor yet, and the
# settings of a master set Sentinel does not know would be refused).
write_config() {
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
    if [ -n "${1:-}" ]; then
      echo "sentinel monitor $MASTER_SET $1 $REDIS_PORT $QUORUM"
      login_config sentinel "sentinel auth-user $MASTER_SET" "sentinel auth-pass $MASTER_SET"
      cat "$CONFIG_DIR/sentinel.conf"
    else
      sed "/^sentinel [^ ]* $MASTER_SET /d" "$CONFIG_DIR/sentinel.conf"
    fi
  } >"$_conf.tmp"
  mv "$_conf.tmp" "$_conf"
}

# wait_for_cutover: while the set follows an external master, runs a Sentinel that monitors
# nothing (it answers the probes and clients, and names no master) until one pod of the set is
# master; sets MASTER to it. RUN_DIR/sentinel.migrating tells the readiness probe why no master
# is known.
wait_for_cutover() {
  log "migration: the set follows an external master; monitoring nothing until the cutover makes a pod of the set master"
  write_config
  save_probe_login sentinel
  touch "$RUN_DIR/sentinel.migrating"
  redis-sentinel "$RUN_DIR/sentinel.conf" &
  _pid=$!
  trap 'kill "$_pid" 2>/dev/null; wait "$_pid"; exit 0' TERM INT
  until MASTER=$(current_master) && [ -n "$MASTER" ]; do
    kill -0 "$_pid" 2>/dev/null || die "redis-sentinel exited while waiting for the cutover"
    sleep "$BOOT_INTERVAL"
  done
  kill "$_pid"
  wait "$_pid"
  trap - TERM INT
  rm -f "$RUN_DIR/sentinel.migrating"
  log "the set has a master of its own: $MASTER"
}

main() {
  load_auth
  ME=$(sentinel_host "$POD_ORDINAL")
  mkdir -p "$RUN_DIR"
  rm -f "$RUN_DIR/sentinel.migrating"
  _round=1
  MASTER=$(current_master)
  while [ -z "$MASTER" ]; do
    if migrating; then
      wait_for_cutover
      break
    fi
    # Log the first round and then every 15th, not every two seconds.
    [ $((_round % 15)) -ne 1 ] || log "no master yet: waiting for the Redis pods to decide (round $_round)"
    sleep "$BOOT_INTERVAL"
    _round=$((_round + 1))
    MASTER=$(current_master)
  done
  write_config "$MASTER"
  save_probe_login sentinel
  log "starting redis-sentinel monitoring $MASTER"
  forget_ghosts &
  exec redis-sentinel "$RUN_DIR/sentinel.conf"
}

main "$@"
