#!/bin/sh
# SPDX-License-Identifier: Apache-2.0
# Entry point of the redis container. Decides from evidence whether this pod starts as master
# or as a replica, renders redis.conf into RUN_DIR (never onto the data volume) and execs
# redis-server. The rules (docs/design.md, "HA rules"):
#   - follow a master only when a Sentinel names it and that host answers ROLE master, or when
#     no Sentinel names a live master and exactly one peer answers ROLE master;
#   - never follow a master that is behind this pod's data (it holds no keys while this pod
#     holds some, or it shares this pod's replication history at a lower offset);
#   - when nothing is master and every pod is starting (a full restart, a new set), the pods
#     elect by data: each shows its record on the boot port, and the one with the most recent
#     data leads (ties to the lowest ordinal); an empty pod leads only when every pod is empty;
#   - unreachable peers, or peers running as replicas without a master, mean wait: never
#     "nobody answered, so I am master". The wait has no limit: the boot port answers the
#     probes meanwhile, so Kubernetes does not restart a pod that waits for its peers.
#   - a replica is not promotable (replica-priority 0) until its first sync from the master it
#     started with has loaded: Sentinel must never promote a pod that still holds other data
#     (a pending failover across a full restart, a master killed during a fresh replica's sync);
#   - while migration.enabled, the set follows an external master (migration.source): no
#     election, and the source is never compared with this pod's data as a peer would be; a pod
#     follows a peer only when exactly one peer is master (the cutover happened and the setting
#     has not reached this pod yet).
# Override for a pod that is gone for good (docs/operations.md, "Full restarts"):
#   kubectl exec <pod> -c redis -- touch /run/redis/boot.force-master
# Extra environment: BOOT_INTERVAL, BIND_ADDRESS, BOOT_WINDOW, ROLE_GRACE, ROLE_HOLD, STATE_EVERY,
# STATE_FAST_EVERY.
# shellcheck source=lib.sh
. "${SCRIPTS_DIR:-/scripts}/lib.sh"

: "${BOOT_INTERVAL:=2}"
: "${BIND_ADDRESS:=* -::*}"
# Records taken within this many seconds of the newest one count as equally recent; the
# replication offset decides between them (records are taken once a second per pod).
: "${BOOT_WINDOW:=5}"
# Seconds a new master carries the master label before a replica has acknowledged it.
: "${ROLE_GRACE:=10}"
# Seconds a master goes without the master label after its server stalled (see state_loop).
: "${ROLE_HOLD:=3}"
# Seconds between the state loop's INFO calls, and while this pod is a replica that lost its
# master (a promotion may come any moment, and its label should follow at once).
: "${STATE_EVERY:=1}"
: "${STATE_FAST_EVERY:=0.2}"
FORCE_FILE=$RUN_DIR/boot.force-master
PENDING_FILE=$RUN_DIR/priority.pending
BEACON_KEY=redis-ha:record

# start_beacon: serves this pod's data record on BOOT_PORT with a throw-away redis-server
# (no data, no persistence, the pod's TLS and passwords), so peers can compare data before
# anyone starts as master. Sentinels and clients never look at this port.
start_beacon() {
  mkdir -p "$RUN_DIR/boot"
  {
    port_config "$BOOT_PORT" ""
    echo "bind $BIND_ADDRESS"
    echo "dir $RUN_DIR/boot"
    echo 'save ""'
    echo "appendonly no"
    sed -n '/^tls-/p' "$CONFIG_DIR/redis.conf"
    auth_config redis
  } >"$RUN_DIR/boot.conf"
  redis-server "$RUN_DIR/boot.conf" >"$RUN_DIR/boot.log" 2>&1 &
  BEACON_PID=$!
  _n=0
  until [ "$(cli_raw "$LOCAL_HOST" "$BOOT_PORT" SET "$BEACON_KEY" "$RECORD")" = OK ]; do
    _n=$((_n + 1))
    if [ "$_n" -ge 50 ] || ! kill -0 "$BEACON_PID" 2>/dev/null; then
      log "WARNING: the boot beacon on port $BOOT_PORT did not start: $(cat "$RUN_DIR/boot.log")"
      return 0
    fi
    sleep 0.1
  done
}

stop_beacon() {
  [ -n "${BEACON_PID:-}" ] || return 0
  kill "$BEACON_PID" 2>/dev/null
  wait "$BEACON_PID" 2>/dev/null
  BEACON_PID=""
}

# peer_record HOST: the data record HOST shows on its boot port while it starts.
peer_record() {
  _rec=$(cli_raw "$1" "$BOOT_PORT" GET "$BEACON_KEY") || return 1
  printf '%s\n' "$_rec" | grep -Eqx '[0-9]+ [^ ]+ [0-9]+ [0-9]+' || return 1
  printf '%s\n' "$_rec"
}

# behind HOST: true (and says why) when the master at HOST would wipe newer data of this pod.
behind() {
  # shellcheck disable=SC2086 # the record's four fields
  set -- "$1" $RECORD
  [ "$5" -gt 0 ] || return 1
  _info=$(cli_raw "$1" "$REDIS_PORT" INFO) || return 1
  _mkeys=0 _mid="" _moff=0
  while read -r _name _value; do
    case $_name in
      keys) _mkeys=$((_mkeys + _value)) ;;
      master_replid) _mid=$_value ;;
      master_repl_offset) _moff=$_value ;;
    esac
  done <<EOF
$(info_fields "$_info")
EOF
  if [ "$_mkeys" -eq 0 ]; then
    echo "it holds no keys and this pod holds $5"
    return 0
  fi
  if [ "$_mid" = "$3" ] && [ "$_moff" -lt "$4" ]; then
    echo "it is at offset $_moff of replication history $3, this pod at $4"
    return 0
  fi
  return 1
}

# follow HOST WHY: sets MASTER to HOST unless HOST is behind this pod's data.
follow() {
  if _why=$(behind "$1"); then
    log "not following $1 ($2): $_why; this pod keeps its data and waits (docs/operations.md, \"Full restarts\")"
    return 1
  fi
  MASTER=$1
  log "$2"
}

# find_master: sets MASTER to a verified master host or to "self"; returns 1 to wait and retry.
find_master() {
  MASTER=""
  _named_me=0
  for _s in $(sentinel_hosts); do
    _named=$(sentinel_master "$_s") || continue
    if [ "$_named" = "$ME" ]; then
      _named_me=1
      log "sentinel on $_s names this pod as master; it restarted, so waiting for a failover"
    elif [ "$(role "$_named" "$REDIS_PORT")" = master ]; then
      follow "$_named" "sentinel on $_s names $_named and it answers ROLE master"
      return
    else
      log "sentinel on $_s names $_named, which does not answer ROLE master; not trusted"
    fi
  done
  _masters="" _running="" _missing=""
  _records="$POD_ORDINAL $RECORD"
  _o=0
  while [ "$_o" -lt "$REPLICAS" ]; do
    if [ "$_o" -ne "$POD_ORDINAL" ]; then
      _host=$(node_host "$_o")
      case $(role "$_host" "$REDIS_PORT") in
        master) _masters="$_masters $_host" ;;
        slave) _running="$_running $_o" ;;
        *)
          if _rec=$(peer_record "$_host"); then
            _records="$_records
$_o $_rec"
          else
            _missing="$_missing $_o"
          fi
          ;;
      esac
    fi
    _o=$((_o + 1))
  done
  # shellcheck disable=SC2086 # split the list of hosts
  set -- $_masters
  if [ "$#" -gt 1 ]; then
    log "several peers answer ROLE master ($*); waiting for Sentinel to settle it"
    return 1
  fi
  if [ "$#" -eq 1 ]; then
    if [ "$_named_me" -eq 1 ]; then
      log "peer $1 answers ROLE master but a Sentinel still names this pod; waiting for Sentinel"
      return 1
    fi
    follow "$1" "no sentinel names a live master, but peer $1 alone answers ROLE master"
    return
  fi
  if [ -e "$FORCE_FILE" ]; then
    rm -f "$FORCE_FILE"
    log "no live master anywhere and $FORCE_FILE exists: starting as master by override"
    MASTER=self
    return 0
  fi
  if [ -n "$_running" ]; then
    log "peers$_running run as replicas without a master; waiting for Sentinel to promote one"
    return 1
  fi
  if [ -n "$_missing" ]; then
    log "no master anywhere; waiting for the data records of ordinals$_missing before electing (a pod gone for good: docs/operations.md, \"Full restarts\")"
    return 1
  fi
  _winner=$(printf '%s\n' "$_records" | elect)
  log "no master anywhere; records (ordinal time replid offset keys): $(printf '%s\n' "$_records" | tr '\n' ';') elected ordinal $_winner"
  if [ "$_winner" = "$POD_ORDINAL" ]; then
    MASTER=self
    return 0
  fi
  return 1
}

# find_migration_master: while migrating, sets MASTER to the one peer that answers ROLE master
# (the cutover made the set independent) or else to the external source; returns 1 to wait when
# several peers answer master or the one master is behind this pod. The source is followed
# without comparing data: it is the data being migrated, and no election runs.
find_migration_master() {
  MASTER=""
  _masters=""
  _o=0
  while [ "$_o" -lt "$REPLICAS" ]; do
    if [ "$_o" -ne "$POD_ORDINAL" ]; then
      _host=$(node_host "$_o")
      [ "$(role "$_host" "$REDIS_PORT")" != master ] || _masters="$_masters $_host"
    fi
    _o=$((_o + 1))
  done
  # shellcheck disable=SC2086 # split the list of hosts
  set -- $_masters
  if [ "$#" -gt 1 ]; then
    log "several peers answer ROLE master ($*); waiting for Sentinel to settle it"
    return 1
  fi
  if [ "$#" -eq 1 ]; then
    follow "$1" "migration.enabled, but peer $1 answers ROLE master: the set was cut over; following it"
    return
  fi
  MASTER=$(migration_setting host)
  MASTER_PORT=$(migration_setting port)
  FOLLOWING_SOURCE=1
  log "migration: following the external master $MASTER:$MASTER_PORT (migration.enabled); no election, Sentinel promotes nothing"
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
  # The record described the replaced data: the restored dump is of unknown age.
  rm -f "$STATE_FILE"
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

# configured_priority: the replica-priority redis.conf sets last (the chart's or redis.extraConfig's).
configured_priority() {
  _p=$(sed -n 's/^replica-priority[[:space:]][[:space:]]*\([0-9][0-9]*\).*/\1/p' "$CONFIG_DIR/redis.conf" | sed -n '$p')
  echo "${_p:-100}"
}

# promotable_once_synced INFO: once the replica's link is up (its first sync has loaded), gives it
# the configured replica-priority back and removes PENDING_FILE, which keeps the pod unready.
promotable_once_synced() {
  [ -e "$PENDING_FILE" ] || return 0
  printf '%s\n' "$1" | tr -d '\r' | grep -q '^master_link_status:up' || return 0
  _p=$(cat "$PENDING_FILE")
  [ "$(cli_raw "$LOCAL_HOST" "$REDIS_PORT" CONFIG SET replica-priority "$_p" | tr -d '\r')" = OK ] || return 0
  rm -f "$PENDING_FILE"
  log "first sync from the master loaded: replica-priority $_p, Sentinel may promote this pod"
}

# state_loop: once a second (STATE_EVERY), keeps STATE_FILE current for the next full restart's
# election (with Sentinel) and ROLE_FILE current for the role Services, and makes a synced replica
# promotable, from one INFO reply. A master is fresh for ROLE_GRACE seconds after this loop saw it
# turn master (a promotion, or the start as master): it is labelled before its replicas attach. A
# missed reply ends that at once, so a master resumed after a freeze is never fresh. While the
# server is starting, or is a replica whose link to its master is down (the master died or is
# handing over: Sentinel may promote this pod next), it asks every STATE_FAST_EVERY seconds, so
# the -master Service follows a promotion within a fraction of a second.
# A server that stalled (no reply, or a reply that took 2 s or more: frozen, or starved of CPU)
# may have been failed over meanwhile, and right after it resumes its INFO still lists its old
# replicas with a fresh acknowledgement (the ones queued on their sockets during the stall): it
# gets no master label for ROLE_HOLD seconds after a stall, by which time Sentinel has demoted it
# or its replicas' links are gone.
state_loop() {
  _was="" _since=0 _every=$STATE_FAST_EVERY _held=0
  while :; do
    sleep "$_every"
    _asked=$(date +%s)
    _info=$(cli_raw "$LOCAL_HOST" "$REDIS_PORT" INFO) || _info=""
    case $_info in
      '' | *master_link_status:down*) _every=$STATE_FAST_EVERY ;;
      *) _every=$STATE_EVERY ;;
    esac
    _now=$(date +%s)
    # A stall of a server that has answered before (not the first replies of a starting one).
    if [ -n "$_was" ] && { [ -z "$_info" ] || [ $((_now - _asked)) -ge 2 ]; }; then _held=$_now; fi
    [ "$REPLICAS" -le 1 ] || record_state_from "$_info"
    case $_info in
      *role:master*)
        [ "$_was" = master ] || _since=$_now
        _was=master
        ;;
      *role:slave*) _was=slave ;;
      *) _since=0 ;;
    esac
    _fresh=0
    if [ "$_was" = master ] && [ $((_now - _since)) -le "$ROLE_GRACE" ]; then _fresh=1; fi
    _label=$(role_label "$_info" "$_fresh")
    if [ "$_label" = master ] && [ $((_now - _held)) -le "$ROLE_HOLD" ]; then _label=""; fi
    write_role "$_label"
    promotable_once_synced "$_info"
  done
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
    if [ "$FOLLOWING_SOURCE" -eq 1 ]; then
      source_login_config
    else
      login_config replication masteruser masterauth
    fi
    if [ "$MASTER" != self ]; then
      echo "replicaof $MASTER $MASTER_PORT"
      [ ! -e "$PENDING_FILE" ] || echo "replica-priority 0"
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
  rm -f "$RUN_DIR/handover.done" "$PENDING_FILE"
  # A restarted container is no master until its Redis says so (the pod keeps its labels).
  write_role ""
  MASTER_PORT=$REDIS_PORT
  FOLLOWING_SOURCE=0
  RESTORING=0
  if migrating && [ -f "$DATA_DIR/restore.rdb" ]; then
    log "WARNING: restore.rdb ignored while migration.enabled: the sync from the source replaces the data"
  elif ! migrating; then
    prepare_restore
  fi
  RECORD=$(my_record)
  if [ "$RESTORING" -eq 1 ]; then
    # A dump put there to restore is the data the operator wants: it wins the election.
    RECORD="$(date +%s) restore 9223372036854775807 1"
  fi
  if migrating; then
    log "data record (time replid offset keys): $RECORD"
    start_beacon
    until find_migration_master; do
      sleep "$BOOT_INTERVAL"
    done
    stop_beacon
  elif [ "$REPLICAS" -le 1 ]; then
    MASTER=self
  else
    log "data record (time replid offset keys): $RECORD"
    start_beacon
    _round=1
    until find_master; do
      sleep "$BOOT_INTERVAL"
      _round=$((_round + 1))
    done
    stop_beacon
    [ "$_round" -eq 1 ] || log "decided after $_round rounds"
  fi
  if [ "$RESTORING" -eq 1 ] && [ "$MASTER" != self ]; then
    log "WARNING: restoring on a replica; the full sync from $MASTER will replace the restored data"
  fi
  _priority=$(configured_priority)
  if [ "$MASTER" != self ] && [ "$_priority" -ne 0 ]; then
    echo "$_priority" >"$PENDING_FILE"
  fi
  write_config
  save_probe_login redis
  log "starting redis-server as $([ "$MASTER" = self ] && echo master || echo "replica of $MASTER:$MASTER_PORT")"
  if [ "$RESTORING" -eq 1 ] && grep -q '^appendonly yes' "$CONFIG_DIR/redis.conf"; then
    enable_aof_after_restore &
  fi
  if [ "$REPLICAS" -gt 1 ] || [ -n "${ROLE_FILE:-}" ] || [ -e "$PENDING_FILE" ]; then
    state_loop &
  fi
  exec redis-server "$RUN_DIR/redis.conf"
}

main "$@"
