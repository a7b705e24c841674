#!/bin/sh
# SPDX-License-Identifier: Apache-2.0
# The restore Job (backup.restore.file, run once before a release's pods are created): checks
# the chosen backup with redis-check-rdb and puts it at DATA_DIR/restore.rdb on pod 0's claim.
# redis-start.sh then loads it at that pod's first start (with AOF on too) and the pod wins the
# boot election, so the other pods sync from the restored data (docs/operations.md, "Backups").
# Environment: BACKUP_DIR (the backup volume), RESTORE_FILE (a file name in it, or "latest"
# for the newest backup), DATA_DIR (pod 0's data volume).
# shellcheck source=lib.sh
. "${SCRIPTS_DIR:-/scripts}/lib.sh"

: "${BACKUP_DIR:=/backups}"
: "${RESTORE_FILE:=}"

# newest: prints the newest backup in BACKUP_DIR (names sort by time), or fails.
newest() {
  _last=""
  for _f in "$BACKUP_DIR"/*.rdb; do
    [ -f "$_f" ] && _last=$_f
  done
  [ -n "$_last" ] && printf '%s\n' "$_last"
}

main() {
  case $RESTORE_FILE in
    "") die "RESTORE_FILE is empty: name a backup file in $BACKUP_DIR (backup.restore.file)" ;;
    */*) die "backup.restore.file must be a file name in the backup volume, without a path: '$RESTORE_FILE'" ;;
    latest) _src=$(newest) || die "backup.restore.file is latest but $BACKUP_DIR holds no backup (*.rdb)" ;;
    *) _src=$BACKUP_DIR/$RESTORE_FILE ;;
  esac
  if [ ! -f "$_src" ]; then
    die "backup.restore.file: $_src does not exist; the backups in $BACKUP_DIR are: $(for _f in "$BACKUP_DIR"/*.rdb; do [ -f "$_f" ] && printf '%s ' "${_f##*/}"; done)"
  fi
  _tmp=$DATA_DIR/.restore.rdb.tmp
  cp "$_src" "$_tmp" || die "could not copy $_src to $DATA_DIR"
  if ! _report=$(check_rdb "$_tmp"); then
    rm -f "$_tmp"
    die "$_src failed redis-check-rdb; nothing restored: $(printf '%s' "$_report" | grep -v '^\[offset [0-9]*\] AUX' | tr '\n' ' ')"
  fi
  mv "$_tmp" "$DATA_DIR/restore.rdb" || die "could not place $DATA_DIR/restore.rdb"
  log "$_src checked and placed at $DATA_DIR/restore.rdb; pod 0 loads it at its first start"
}

main "$@"
