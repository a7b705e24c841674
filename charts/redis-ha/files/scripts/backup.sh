#!/bin/sh
# SPDX-License-Identifier: Apache-2.0
# The backup Job (backup.enabled): streams an RDB snapshot from a replica over the network
# (`redis-cli --rdb`, the replication protocol: no exec rights, no Kubernetes API), checks it
# with redis-check-rdb, stores it as BACKUP_DIR/<UTC time>.rdb and keeps the newest BACKUP_KEEP
# verified files. Any failure exits non-zero, so the Job fails and the alert on failed backups
# fires (docs/operations.md, "Backups").
#   - source: the first Redis pod that is a replica in step with its master (link up, not
#     loading); the master only when no replica is, e.g. with replicas: 1;
#   - with ACL users it logs in as the backup user, allowed ROLE, SYNC, REPLCONF and PING only;
#   - a file that fails the check is deleted and the older backups stay untouched.
# Extra environment: BACKUP_DIR, BACKUP_KEEP, BACKUP_TIMEOUT (seconds the transfer may take),
# BACKUP_SOURCE (a host to back up from instead of choosing one), BACKUP_LATEST (file that
# receives the new backup's path, for an upload step).
# shellcheck source=lib.sh
. "${SCRIPTS_DIR:-/scripts}/lib.sh"

: "${BACKUP_DIR:=/backups}"
: "${BACKUP_KEEP:=7}"
: "${BACKUP_TIMEOUT:=3600}"
: "${BACKUP_SOURCE:=}"
: "${BACKUP_LATEST:=}"

# choose_source: prints the host to back up from and why. ROLE tells a replica's link state
# (connected once its sync with the master is done).
choose_source() {
  _master=""
  for _host in $(node_hosts); do
    _role=$(cli_raw "$_host" "$REDIS_PORT" ROLE) || continue
    case $(printf '%s\n' "$_role" | head -n 1) in
      slave)
        if [ "$(printf '%s\n' "$_role" | sed -n 4p)" = connected ]; then
          echo "$_host replica in step with its master"
          return 0
        fi
        ;;
      master) [ -n "$_master" ] || _master=$_host ;;
    esac
  done
  if [ -n "$_master" ]; then
    echo "$_master master (no replica in step with it)"
    return 0
  fi
  return 1
}

# rotate: deletes all but the newest BACKUP_KEEP backups (names sort by time).
rotate() {
  _total=0
  for _f in "$BACKUP_DIR"/*.rdb; do
    [ -f "$_f" ] && _total=$((_total + 1))
  done
  _drop=$((_total - BACKUP_KEEP))
  for _f in "$BACKUP_DIR"/*.rdb; do
    [ "$_drop" -gt 0 ] || break
    [ -f "$_f" ] || continue
    rm -f "$_f" && log "deleted $_f (keeping the newest $BACKUP_KEEP)"
    _drop=$((_drop - 1))
  done
}

main() {
  case $BACKUP_KEEP in
    '' | *[!0-9]* | 0) die "BACKUP_KEEP must be a whole number of at least 1, got '$BACKUP_KEEP'" ;;
  esac
  if [ ! -d "$BACKUP_DIR" ] || [ ! -w "$BACKUP_DIR" ]; then
    die "backup directory $BACKUP_DIR is missing or not writable"
  fi
  login_as backup
  if [ -n "$BACKUP_SOURCE" ]; then
    _source="$BACKUP_SOURCE given"
  else
    _n=1
    until _source=$(choose_source); do
      [ "$_n" -lt 10 ] || die "no Redis pod answered as a replica in step or as master (asked $(node_hosts | tr '\n' ' '))"
      _n=$((_n + 1))
      sleep 3
    done
  fi
  _host=${_source%% *}
  log "backing up from $_host: ${_source#* }"
  # Leftovers of a Job killed mid-transfer.
  rm -f "$BACKUP_DIR"/.partial-*
  _name=$(date -u +%Y%m%dT%H%M%SZ).rdb
  while [ -e "$BACKUP_DIR/$_name" ]; do
    sleep 1
    _name=$(date -u +%Y%m%dT%H%M%SZ).rdb
  done
  _part=$BACKUP_DIR/.partial-$_name
  _start=$(date +%s)
  # shellcheck disable=SC2086 # TLS_ARGS is a list of options
  if ! _out=$(with_timeout "$BACKUP_TIMEOUT" redis-cli $TLS_ARGS ${CLI_USER:+--user "$CLI_USER"} -h "$_host" -p "$REDIS_PORT" --rdb "$_part" 2>&1); then
    rm -f "$_part"
    die "redis-cli --rdb from $_host failed: $(printf '%s' "$_out" | tr '\n' ' ')"
  fi
  _secs=$(($(date +%s) - _start))
  if ! _report=$(check_rdb "$_part"); then
    rm -f "$_part"
    die "the backup from $_host failed redis-check-rdb and was deleted: $(printf '%s' "$_report" | grep -v '^\[offset [0-9]*\] AUX' | tr '\n' ' ')"
  fi
  mv "$_part" "$BACKUP_DIR/$_name" || die "could not move the backup to $BACKUP_DIR/$_name"
  _bytes=$(wc -c <"$BACKUP_DIR/$_name" | tr -d ' ')
  _keys=$(printf '%s\n' "$_report" | sed -n 's/^\[info\] \([0-9]*\) keys read.*/\1/p')
  log "backup $BACKUP_DIR/$_name: $_bytes bytes, ${_keys:-?} keys, from $_host in ${_secs}s; redis-check-rdb OK"
  rotate
  if [ -n "$BACKUP_LATEST" ]; then
    printf '%s\n' "$BACKUP_DIR/$_name" >"$BACKUP_LATEST"
  fi
}

main "$@"
