#!/bin/sh
# SPDX-License-Identifier: Apache-2.0
# The migration cutover (docs/operations.md, "Migrating from another chart"), run by the
# pre-upgrade hook Job when an upgrade sets migration.enabled to false. Nothing on the old side is
# paused or changed. Steps:
#   1. every Redis pod must be in sync with the source: a replica of it, link up, no sync in
#      progress, in the source's replication history and at most CUTOVER_MAX_LAG bytes behind
#      the source's offset. Checked again every second for CUTOVER_WAIT seconds; then the
#      upgrade is refused, naming each pod and its lag (CUTOVER_FORCE=true skips the check);
#   2. the most up-to-date pod is elected with the boot election's rule (the highest offset of
#      the same replication history, ties to the lowest ordinal);
#   3. every other pod is pointed at it while it still follows the source (chained, so they
#      continue from its stream without a full sync), with this set's own credentials;
#   4. the elected pod stops following the source (REPLICAOF NO ONE): the set is independent and
#      the Sentinels, which monitor nothing while migrating, start monitoring it.
# A set that already has a master of its own (the hook ran before) is left as it is.
# Extra environment: CUTOVER_MAX_LAG (bytes), CUTOVER_WAIT (seconds), CUTOVER_FORCE.
# shellcheck source=lib.sh
. "${SCRIPTS_DIR:-/scripts}/lib.sh"

: "${CUTOVER_MAX_LAG:=0}"
: "${CUTOVER_WAIT:=30}"
: "${CUTOVER_FORCE:=false}"

# field NAME: one field of the INFO held in _info.
field() {
  printf '%s\n' "$_info" | sed -n "s/^$1://p"
}

# cut_over_already: true (and says so) when a pod of the set answers ROLE master: the cutover
# happened (a later upgrade runs the hook again) and Sentinel looks after the set from here; pods
# that are down or restarting meanwhile do not make the upgrade fail.
cut_over_already() {
  _o=0
  while [ "$_o" -lt "$REPLICAS" ]; do
    if [ "$(role "$(node_host "$_o")" "$REDIS_PORT")" = master ]; then
      log "the set is already independent of the source: $(node_host "$_o") is master; nothing to do"
      return 0
    fi
    _o=$((_o + 1))
  done
  return 1
}

# check_sync: sets RECORDS ("<ordinal> <time> <replid> <offset> <keys>" per pod) and PROBLEMS
# (one line per pod that is not in sync); returns 1 when there are problems.
check_sync() {
  RECORDS="" PROBLEMS=""
  _src=$(source_cli INFO replication | tr -d '\r')
  _src_id=$(printf '%s\n' "$_src" | sed -n 's/^master_replid://p')
  _src_off=$(printf '%s\n' "$_src" | sed -n 's/^master_repl_offset://p')
  if [ -z "$_src_off" ]; then
    PROBLEMS="the source $SOURCE does not answer INFO: $(printf '%s\n' "$_src" | head -n 1)"
  fi
  _o=0
  while [ "$_o" -lt "$REPLICAS" ]; do
    _host=$(node_host "$_o")
    _info=$(cli_raw "$_host" "$REDIS_PORT" INFO | tr -d '\r')
    _off=$(field master_repl_offset)
    _keys=0
    for _k in $(printf '%s\n' "$_info" | sed -n 's/^db[0-9]*:keys=\([0-9]*\),.*/\1/p'); do
      _keys=$((_keys + _k))
    done
    _why=""
    if [ -z "$_off" ]; then
      _why="does not answer INFO: $(printf '%s\n' "$_info" | head -n 1)"
    elif [ "$(field role)" != slave ]; then
      _why="is $(field role), not a replica of the source"
    elif [ "$(field master_host):$(field master_port)" != "$SOURCE" ]; then
      _why="follows $(field master_host):$(field master_port), not the source"
    elif [ "$(field master_link_status)" != up ]; then
      _why="has its link to the source down"
    elif [ "$(field master_sync_in_progress)" != 0 ]; then
      _why="is still in its initial sync"
    elif [ -n "$_src_off" ] && [ "$(field master_replid)" != "$_src_id" ]; then
      _why="is in replication history $(field master_replid), the source in $_src_id"
    elif [ -n "$_src_off" ] && [ $((_src_off - _off)) -gt "$CUTOVER_MAX_LAG" ]; then
      _why="lags $((_src_off - _off)) bytes behind the source (offset $_off, source $_src_off; migration.cutover.maxLagBytes is $CUTOVER_MAX_LAG)"
    fi
    [ -z "$_why" ] || PROBLEMS="$PROBLEMS${PROBLEMS:+
}$_host $_why"
    [ -z "$_off" ] || RECORDS="$RECORDS${RECORDS:+
}$_o $(date +%s) $(field master_replid) $_off $_keys"
    _o=$((_o + 1))
  done
  [ -z "$PROBLEMS" ]
}

# run_on HOST: sends the redis-cli commands on stdin to HOST (passwords stay out of argv).
run_on() {
  # shellcheck disable=SC2086,SC2031 # TLS_ARGS is a list of options; source_cli's subshell changes nothing here
  redis-cli $TLS_ARGS ${CLI_USER:+--user "$CLI_USER"} -h "$1" -p "$REDIS_PORT"
}

# own_login_commands: CONFIG SET commands that make a pod log in to this set's master with this
# set's credentials instead of the source's, and replicate over the set's own TLS setting.
own_login_commands() {
  echo 'CONFIG SET masteruser ""'
  echo 'CONFIG SET masterauth ""'
  login_config replication "CONFIG SET masteruser" "CONFIG SET masterauth"
  [ "$TLS_ENABLED" != true ] || echo "CONFIG SET tls-replication yes"
  [ "$TLS_ENABLED" != true ] || echo "CONFIG SET tls-ca-cert-file $TLS_CA_FILE"
}

main() {
  load_auth
  SOURCE="$(migration_setting host):$(migration_setting port)"
  if cut_over_already; then
    exit 0
  fi
  [ -n "$(migration_setting host)" ] || die "no migration source is configured (migration.source.host)"
  _until=$(($(date +%s) + CUTOVER_WAIT))
  until check_sync; do
    if [ "$(date +%s)" -ge "$_until" ]; then
      if [ "$CUTOVER_FORCE" = true ]; then
        log "WARNING: migration.cutover.force: cutting over although not every pod is in sync:"
        printf '%s\n' "$PROBLEMS" | sed 's/^/  /' >&2
        break
      fi
      _msg="cutover refused: not every pod is in sync with the source $SOURCE after ${CUTOVER_WAIT}s:
$(printf '%s\n' "$PROBLEMS" | sed 's/^/  /')
The release keeps following the source; nothing was changed. Wait until every pod is in sync and upgrade again, or set migration.cutover.force=true to cut over anyway (writes a pod lacks are lost)."
      printf '%s\n' "$_msg" >&2
      # Shown by kubectl describe on the hook's pod.
      { printf '%s\n' "$_msg" >/dev/termination-log; } 2>/dev/null
      exit 1
    fi
    sleep 1
  done
  [ -n "$RECORDS" ] || die "no pod answers; nothing to cut over to"
  _winner=$(printf '%s\n' "$RECORDS" | elect)
  _master=$(node_host "$_winner")
  log "in sync; records (ordinal time replid offset keys): $(printf '%s\n' "$RECORDS" | tr '\n' ';') elected ordinal $_winner"
  _o=0
  while [ "$_o" -lt "$REPLICAS" ]; do
    _host=$(node_host "$_o")
    if [ "$_o" -ne "$_winner" ]; then
      _out=$({ own_login_commands; echo "REPLICAOF $_master $REDIS_PORT"; } | run_on "$_host" 2>&1)
      log "$_host now follows $_master: $(printf '%s' "$_out" | tr '\n' ' ')"
    fi
    _o=$((_o + 1))
  done
  _out=$({ own_login_commands; echo "REPLICAOF NO ONE"; } | run_on "$_master" 2>&1)
  [ "$(role "$_master" "$REDIS_PORT")" = master ] || die "$_master did not become master: $_out"
  log "cutover done: $_master is master of the set; the source $SOURCE was not touched"
}

main "$@"
