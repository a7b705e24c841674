#!/bin/sh
# SPDX-License-Identifier: Apache-2.0
# Entry point of the redis container. Decides from evidence whether this pod starts as master
# or as a replica, renders redis.conf into RUN_DIR (never onto the data volume) and execs
# redis-server. Rules (DESIGN.md 1, 2, 3, 5):
#   - follow a master only when a peer Sentinel names it and that host answers ROLE master;
#   - an answer naming this pod is rejected: it restarted, so wait for Sentinel to fail over;
#   - start as master only when no peer exists at all (their names do not resolve): ordinal 0,
#     or a pod that holds data; unreachable peers mean retry, then exit non-zero.
# Extra environment: BOOT_ATTEMPTS, BOOT_INTERVAL, BIND_ADDRESS.
# shellcheck source=lib.sh
. "${SCRIPTS_DIR:-/scripts}/lib.sh"

: "${REPLICAS:=1}"
: "${BOOT_ATTEMPTS:=30}"
: "${BOOT_INTERVAL:=2}"
: "${BIND_ADDRESS:=* -::*}"

# find_master: sets MASTER to a verified master host or to "self"; returns 1 to retry.
# Sets NAMED_ME when a peer Sentinel still names this pod as master.
find_master() {
  MASTER=""
  NAMED_ME=0
  _peers=0
  _absent=0
  _redis_masters=""
  for _host in $(peer_hosts); do
    _peers=$((_peers + 1))
    _named=$(sentinel_master "$_host")
    case $? in
      0)
        if [ "$_named" = "$ME" ]; then
          NAMED_ME=$((NAMED_ME + 1))
          log "sentinel on $_host names this pod as master; it restarted, so waiting for a failover"
        elif [ "$(role "$_named" "$REDIS_PORT")" = master ]; then
          MASTER=$_named
          log "sentinel on $_host names $MASTER and it answers ROLE master"
          return 0
        else
          log "sentinel on $_host names $_named, which does not answer ROLE master; not trusted"
        fi
        ;;
      2)
        _absent=$((_absent + 1))
        log "peer $_host does not exist"
        ;;
      *)
        if [ "$(role "$_host" "$REDIS_PORT")" = master ]; then
          _redis_masters="$_redis_masters $_host"
        fi
        log "sentinel on $_host gave no answer"
        ;;
    esac
  done
  # shellcheck disable=SC2086 # split the list of hosts
  set -- $_redis_masters
  if [ "$#" -eq 1 ] && [ "$NAMED_ME" -eq 0 ]; then
    MASTER=$1
    log "no sentinel answered, but peer $MASTER alone answers ROLE master"
    return 0
  fi
  if [ "$#" -gt 1 ]; then
    log "several peers answer ROLE master ($*); waiting for Sentinel to settle it"
    return 1
  fi
  if [ "$_absent" -eq "$_peers" ]; then
    if [ "$POD_ORDINAL" -eq 0 ] || has_data; then
      log "no peer exists; starting as master (ordinal $POD_ORDINAL$(has_data && echo ', with data'))"
      MASTER=self
      return 0
    fi
    log "no peer exists and this pod has no data; waiting for ordinal 0 to start first"
  fi
  return 1
}

# prepare_restore: a dump placed at DATA_DIR/restore.rdb replaces the dataset at this start.
# Redis loads the AOF, not dump.rdb, when appendonly is on, so the AOF is moved aside and
# this start runs with appendonly off; AOF is switched back on once the dump is loaded.
prepare_restore() {
  RESTORING=0
  [ -f "$DATA_DIR/restore.rdb" ] || return 0
  log "restore.rdb found: restoring the dataset from it"
  rm -rf "$DATA_DIR/appendonlydir.before-restore"
  [ ! -d "$DATA_DIR/appendonlydir" ] || mv "$DATA_DIR/appendonlydir" "$DATA_DIR/appendonlydir.before-restore"
  mv "$DATA_DIR/restore.rdb" "$DATA_DIR/dump.rdb"
  RESTORING=1
}

# enable_aof_after_restore: waits for the dump to load, then rebuilds the AOF from memory.
enable_aof_after_restore() {
  _n=0
  while [ "$_n" -lt 600 ]; do
    if [ "$(cli_raw "$LOCAL_HOST" "$REDIS_PORT" PING)" = PONG ] &&
      [ "$(info_field "$LOCAL_HOST" "$REDIS_PORT" persistence loading)" = 0 ]; then
      cli "$LOCAL_HOST" "$REDIS_PORT" CONFIG SET appendonly yes >/dev/null && log "restore loaded; AOF rebuilt from it"
      return 0
    fi
    sleep 1
    _n=$((_n + 1))
  done
  log "restore: Redis did not finish loading; AOF left off"
}

write_config() {
  _conf=$RUN_DIR/redis.conf
  umask 077
  {
    cat "$CONFIG_DIR/redis.conf"
    echo "dir $DATA_DIR"
    port_config "$REDIS_PORT" "$PLAIN_REDIS_PORT"
    echo "bind $BIND_ADDRESS"
    # Identity is the pod's DNS name, never its IP, which changes on every restart.
    echo "replica-announce-ip $ME"
    echo "replica-announce-port $REDIS_PORT"
    auth_config redis
    login_config replication masteruser masterauth
    if [ "$MASTER" != self ]; then
      echo "replicaof $MASTER $REDIS_PORT"
    fi
    if [ "$RESTORING" -eq 1 ]; then
      echo "appendonly no"
    fi
  } >"$_conf.tmp"
  mv "$_conf.tmp" "$_conf"
}

main() {
  load_auth
  ME=$(my_host)
  mkdir -p "$RUN_DIR"
  rm -f "$RUN_DIR/handover.done"
  prepare_restore
  if [ "$REPLICAS" -le 1 ]; then
    MASTER=self
  else
    _attempt=1
    until find_master; do
      [ "$_attempt" -lt "$BOOT_ATTEMPTS" ] || break
      _wait=$((BOOT_INTERVAL * (_attempt < 4 ? _attempt : 4)))
      log "no trustworthy master yet (attempt $_attempt/$BOOT_ATTEMPTS); retrying in ${_wait}s"
      sleep "$_wait"
      _attempt=$((_attempt + 1))
    done
    if [ -z "$MASTER" ]; then
      if [ "$NAMED_ME" -gt 0 ] && has_data; then
        # Sentinel kept naming this pod and never failed over (no eligible replica):
        # the data here is the newest the set has, so serve it rather than stay down.
        log "sentinels still name this pod after $BOOT_ATTEMPTS attempts and it holds data; resuming as master"
        MASTER=self
      else
        die "no trustworthy master after $BOOT_ATTEMPTS attempts; exiting so Kubernetes retries (never self-electing)"
      fi
    fi
  fi
  if [ "$RESTORING" -eq 1 ] && [ "$MASTER" != self ]; then
    log "WARNING: restoring on a replica; the full sync from $MASTER will replace the restored data"
  fi
  write_config
  save_probe_login redis
  log "starting redis-server as $([ "$MASTER" = self ] && echo master || echo "replica of $MASTER")"
  if [ "$RESTORING" -eq 1 ] && grep -q '^appendonly yes' "$CONFIG_DIR/redis.conf"; then
    enable_aof_after_restore &
  fi
  exec redis-server "$RUN_DIR/redis.conf"
}

main "$@"
