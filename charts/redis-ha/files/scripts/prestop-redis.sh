#!/bin/sh
# SPDX-License-Identifier: Apache-2.0
# preStop hook of the redis container: a master hands its role over before it stops.
# SENTINEL FAILOVER alone loses acknowledged writes (the old master accepts them until it is
# demoted), so writes are paused first (CLIENT PAUSE ... WRITE), the replicas are let catch up,
# Sentinel fails over, and the hook waits until this node really is no longer master.
# https://redis.io/docs/latest/commands/client-pause/
# Extra environment: PRESTOP_TIMEOUT (seconds, below terminationGracePeriodSeconds), STEER_TIMEOUT
# (seconds to wait for the Sentinels to read steered replica priorities).
# Always leaves RUN_DIR/handover.done behind, which the sentinel container's hook waits for.
# shellcheck source=lib.sh
. "${SCRIPTS_DIR:-/scripts}/lib.sh"

: "${REPLICAS:=1}"
: "${PRESTOP_TIMEOUT:=30}"
: "${STEER_TIMEOUT:=12}"

# shellcheck disable=SC2317 # called by the EXIT trap
finish() {
  unsteer
  # The last data record, taken with writes paused or handed over: the next full restart's
  # election sees exactly what this node held (docs/operations.md, "Full restarts").
  record_state
  touch "$RUN_DIR/handover.done" 2>/dev/null
}

# replicas_caught_up: true when at least one replica is online and every online replica, asked
# directly (the offsets the master lists are up to a second old), has processed the master's
# whole replication stream. Sets CAUGHT_UP to the number of replicas that have.
replicas_caught_up() {
  _info=$(cli_raw "$LOCAL_HOST" "$REDIS_PORT" INFO replication | tr -d '\r')
  _offset=$(printf '%s\n' "$_info" | sed -n 's/^master_repl_offset://p')
  CAUGHT_UP=0
  _behind=0
  for _replica in $(printf '%s\n' "$_info" | sed -n 's/^slave[0-9]*:ip=\([^,]*\),port=\([0-9]*\),state=online.*/\1:\2/p'); do
    _theirs=$(info_field "${_replica%:*}" "${_replica##*:}" replication master_repl_offset)
    if [ -n "$_theirs" ] && [ "$_theirs" -ge "$_offset" ]; then
      CAUGHT_UP=$((CAUGHT_UP + 1))
    else
      _behind=1
    fi
  done
  [ "$CAUGHT_UP" -gt 0 ] && [ "$_behind" -eq 0 ]
}

# caught_up HOST OFFSET: true when the replica at HOST has processed the stream up to OFFSET.
caught_up() {
  _theirs=$(info_field "$1" "$REDIS_PORT" replication master_repl_offset)
  [ -n "$_theirs" ] && [ "$_theirs" -ge "$2" ]
}

# replicas_in FIRST LAST: prints the host of each ordinal from FIRST to LAST whose Redis is a
# replica now.
replicas_in() {
  _o=$1
  while [ "$_o" -le "$2" ]; do
    _host=$(node_host "$_o")
    [ "$(role "$_host" "$REDIS_PORT")" = slave ] && printf '%s\n' "$_host"
    _o=$((_o + 1))
  done
  return 0
}

# sentinels_see PRIORITY COUNT: true when every Sentinel that answers lists at least COUNT
# replicas of MASTER_SET with replica-priority PRIORITY ("promotable": any but 0). Sentinel reads a
# replica's priority from the INFO it sends it every 10 seconds, and elects from what it read last.
sentinels_see() {
  for _h in $SENTINEL_LIST; do
    _out=$(cli_raw "$_h" "$SENTINEL_PORT" SENTINEL REPLICAS "$MASTER_SET") || continue
    _prios=$(printf '%s\n' "$_out" | tr -d '\r' | sed -n '/^slave-priority$/{n;p;}')
    if [ "$1" = promotable ]; then
      _seen=$(printf '%s\n' "$_prios" | grep -cvx '0\|')
    else
      _seen=$(printf '%s\n' "$_prios" | grep -cxF "$1")
    fi
    [ "$_seen" -ge "$2" ] || return 1
  done
  return 0
}

# await_sentinels PRIORITY COUNT: waits up to STEER_TIMEOUT seconds for sentinels_see PRIORITY
# COUNT; warns and returns 1 when they don't.
await_sentinels() {
  _until=$(($(date +%s) + STEER_TIMEOUT))
  until sentinels_see "$1" "$2"; do
    if [ "$(date +%s)" -ge "$_until" ]; then
      log "WARNING: not every Sentinel read the replica priorities (want $2 at $1) within ${STEER_TIMEOUT}s"
      return 1
    fi
    sleep 0.5
  done
}

# replica_priority HOST: the replica-priority the Redis at HOST is configured with now.
replica_priority() {
  cli_raw "$1" "$REDIS_PORT" CONFIG GET replica-priority | tr -d '\r' | sed -n 2p
}

# steer_to_rolled: a rollout replaces the pods from the highest ordinal down, so while this pod
# is being replaced the pods above it already run the new revision and the pods below it are
# still to be replaced. When replicas exist on both sides, the replicas below are made less
# preferred (replica-priority one above the configured one) and the hook waits until every
# Sentinel has read that, so the handover lands on a pod above and the rollout fails over once
# (docs/design.md, "Failovers per rollout"). Writes keep flowing meanwhile. Sets STEERED (the
# replicas changed) and ABOVE (the replicas above, one of which must then hold every write).
# Not with the ordered rollout (ROLLOUT_ORDERED=true): it replaces the master last, when every
# replica already runs the new revision.
steer_to_rolled() {
  STEERED=""
  [ "${ROLLOUT_ORDERED:-false}" != true ] || return 0
  _steered=0
  _above=$(replicas_in $((POD_ORDINAL + 1)) $((REPLICAS - 1)))
  _below=$(replicas_in 0 $((POD_ORDINAL - 1)))
  [ -n "$_above" ] && [ -n "$_below" ] || return 0
  PRIORITY=$(replica_priority "$LOCAL_HOST")
  case $PRIORITY in '' | 0 | *[!0-9]*) return 0 ;; esac
  for _host in $_below; do
    # A replica still in its first sync is not promotable at all (priority 0): leave it so.
    [ "$(replica_priority "$_host")" != 0 ] || continue
    if [ "$(cli_raw "$_host" "$REDIS_PORT" CONFIG SET replica-priority $((PRIORITY + 1)) | tr -d '\r')" = OK ]; then
      STEERED="$STEERED $_host"
      _steered=$((_steered + 1))
    fi
  done
  [ -n "$STEERED" ] || return 0
  ABOVE=$_above
  log "handing over to a pod above ordinal $POD_ORDINAL (replica-priority $((PRIORITY + 1)) on$STEERED); waiting for the Sentinels to read it"
  await_sentinels $((PRIORITY + 1)) "$_steered" || log "Sentinel may pick any replica"
}

# shellcheck disable=SC2317 # called by the EXIT trap
# unsteer: gives the replicas steer_to_rolled changed their configured priority back.
unsteer() {
  for _host in ${STEERED:-}; do
    cli "$_host" "$REDIS_PORT" CONFIG SET replica-priority "$PRIORITY" >/dev/null 2>&1
  done
  STEERED=""
}

# new_master: prints the new master once every Sentinel that answers names it and it answers
# ROLE master. The Sentinel that runs the failover names the promoted replica as soon as it sees
# the promotion and tells the others right away (a hello message); this node must not stop before
# they know: were it to stop with that Sentinel (co-located) while the others still name it, they
# would fail over again, to any replica, and the writes the new master took meanwhile could be lost.
new_master() {
  _agreed=""
  for _h in $SENTINEL_LIST; do
    _named=$(sentinel_master "$_h") || continue
    [ "$_named" != "$ME" ] || return 1
    [ -z "$_agreed" ] || [ "$_agreed" = "$_named" ] || return 1
    _agreed=$_named
  done
  [ -n "$_agreed" ] && [ "$(role "$_agreed" "$REDIS_PORT")" = master ] || return 1
  printf '%s\n' "$_agreed"
}

# promoted_among HOSTS: prints the first of HOSTS (this master's replicas) that answers ROLE master:
# the replica Sentinel has just promoted (nothing else promotes a replica while this node is
# master with writes paused).
promoted_among() {
  for _h in $1; do
    if [ "$(role "$_h" "$REDIS_PORT")" = master ]; then
      printf '%s\n' "$_h"
      return 0
    fi
  done
  return 1
}

# follow_promoted NEW OTHERS: the promoted replica NEW holds every write (writes were paused and the
# replicas caught up), so this node and its other replicas OTHERS follow it at once, before
# Sentinel announces it. Sentinel ends the failover only when it has read, in an INFO it sends
# each remaining replica once a second, that the replica follows NEW with its link up; a replica
# already following NEW passes at the first such read instead of, often, the second. This node
# then unpauses: the writes held by the pause fail with READONLY and clients move on (the
# -master Service's label already follows NEW) instead of waiting for +switch-master.
# NEW is written as the master's INFO lists it, the name Sentinel uses, so Sentinel's own
# REPLICAOF later names the same master and changes nothing.
follow_promoted() {
  for _h in $2; do
    [ "$_h" != "$1" ] || continue
    cli "$_h" "$REDIS_PORT" REPLICAOF "$1" "$REDIS_PORT" >/dev/null 2>&1 || true
  done
  follow_and_unpause "$1"
  log "$1 was promoted; this node and its other replicas follow it, writes unpaused ($(($(date +%s) - _start))s)"
}

# follow_and_unpause NEW: this node follows NEW, then lifts the pause, so the writes it held fail
# with READONLY instead of being accepted here and lost.
follow_and_unpause() {
  cli "$LOCAL_HOST" "$REDIS_PORT" REPLICAOF "$1" "$REDIS_PORT" >/dev/null
  cli "$LOCAL_HOST" "$REDIS_PORT" CLIENT UNPAUSE >/dev/null
}

# request_failover: asks the Sentinels, the last one first, to fail over MASTER_SET until one
# accepts. The Sentinel that runs a failover moves its own record of the master (SENTINEL MASTERS,
# which redis-py reads) only when the failover ends, after it has read each replica's INFO again,
# up to a second or two after the promotion; the others move as soon as it tells them of the
# promotion. Clients ask the Sentinels in the order they list them, the first one first, so with
# the last one leading they find the new master at the promotion. A Sentinel in this pod
# (co-located) is asked last of all: it stops with the pod.
request_failover() {
  _order=""
  for _h in $SENTINEL_LIST; do
    [ "$_h" = "$ME" ] || _order="$_h $_order"
  done
  case " $SENTINEL_LIST " in *" $ME "*) _order="$_order $ME" ;; esac
  for _h in $_order; do
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
  ME=$(my_host)
  [ "$REPLICAS" -gt 1 ] || exit 0
  [ "$(role "$LOCAL_HOST" "$REDIS_PORT")" = master ] || exit 0
  _replicas=$(info_field "$LOCAL_HOST" "$REDIS_PORT" replication connected_slaves)
  if [ "${_replicas:-0}" -eq 0 ]; then
    log "master without connected replicas: nothing to hand over to"
    exit 0
  fi
  SENTINEL_LIST=$(sentinel_hosts)
  ABOVE=""
  steer_to_rolled
  # A replica that restarted moments ago became promotable when its first sync loaded; Sentinel
  # learns that within 10 s. Until every Sentinel knows one promotable replica, a failover would
  # abort, so wait for that with writes still flowing.
  await_sentinels promotable 1 || true
  _start=$(date +%s)
  log "master with $_replicas replica(s): pausing writes and handing over"
  cli "$LOCAL_HOST" "$REDIS_PORT" CLIENT PAUSE $((PRESTOP_TIMEOUT * 1000)) WRITE >/dev/null
  _until=$(($(date +%s) + 3))
  until replicas_caught_up; do
    if [ "$(date +%s)" -ge "$_until" ]; then
      if [ "$CAUGHT_UP" -eq 0 ]; then
        # Replicas that are stopping too (every pod deleted, a scale to 0) or lagging: Sentinel
        # could promote one that lacks acknowledged writes. Stop as master with writes still
        # paused; this node's data record then shows it holds the newest data
        # (docs/design.md, "Boot").
        log "no replica has every write after 3s; stopping as master with writes paused, no handover"
        exit 0
      fi
      log "WARNING: only $CAUGHT_UP replica(s) caught up within 3s; Sentinel picks the most advanced"
      break
    fi
    sleep 0.1
  done
  if [ -n "$ABOVE" ]; then
    # Sentinel now prefers the replicas above this ordinal whatever their offset: one of them
    # must hold every write, or the handover could lose acknowledged ones.
    _offset=$(info_field "$LOCAL_HOST" "$REDIS_PORT" replication master_repl_offset)
    _ready=0
    for _host in $ABOVE; do
      if caught_up "$_host" "$_offset"; then _ready=1; fi
    done
    if [ "$_ready" -eq 0 ]; then
      log "no replica above ordinal $POD_ORDINAL has every write; stopping as master with writes paused, no handover"
      exit 0
    fi
  fi
  # This master's replicas, named as its INFO lists them (and Sentinel names them).
  _mine=$(cli_raw "$LOCAL_HOST" "$REDIS_PORT" INFO replication | tr -d '\r' | sed -n 's/^slave[0-9]*:ip=\([^,]*\),.*/\1/p')
  _promoted=""
  if request_failover; then
    while [ $(($(date +%s) - _start)) -lt "$PRESTOP_TIMEOUT" ]; do
      if [ -z "$_promoted" ] && _promoted=$(promoted_among "$_mine"); then
        follow_promoted "$_promoted" "$_mine"
      fi
      if _new=$(new_master); then
        # A master this loop did not see promoted (not one of the replicas listed above).
        [ -n "$_promoted" ] || follow_and_unpause "$_new"
        log "handover done: $_new is master, this node is a replica now ($(($(date +%s) - _start))s)"
        exit 0
      fi
      sleep 0.1
    done
  fi
  if [ -n "$_promoted" ]; then
    die "no Sentinel named $_promoted master within ${PRESTOP_TIMEOUT}s; this node follows it"
  fi
  cli "$LOCAL_HOST" "$REDIS_PORT" CLIENT UNPAUSE >/dev/null
  die "handover did not complete within ${PRESTOP_TIMEOUT}s; stopping as master"
}

main "$@"
