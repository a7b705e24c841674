# shellcheck shell=sh
# SPDX-License-Identifier: Apache-2.0
# Functions shared by the redis-ha scripts. POSIX sh; needs only redis-cli besides the shell,
# so the same scripts serve Redis and Valkey images.
#
# Environment (set by the StatefulSet; tests set the same names):
#   REPLICAS            pods in the set
#   NODE_HOST_TEMPLATE  printf pattern of a pod's host name with %s for the ordinal,
#                       e.g. redis-ha-%s.redis-ha-headless.ns.svc.cluster.local
#   POD_ORDINAL         this pod's ordinal; defaults to the suffix of $HOSTNAME
#   REDIS_PORT SENTINEL_PORT MASTER_SET QUORUM
#   PASSWORD_FILE       mounted Secret file with the password; empty when auth is off
#   CONFIG_DIR RUN_DIR DATA_DIR
#   CLI_TIMEOUT         seconds before a redis-cli call to a peer is abandoned
#   LOCAL_HOST          address of this pod's own Redis and Sentinel (loopback in a pod)

: "${REDIS_PORT:=6379}"
: "${SENTINEL_PORT:=26379}"
: "${MASTER_SET:=mymaster}"
: "${CONFIG_DIR:=/config}"
: "${RUN_DIR:=/run/redis}"
: "${DATA_DIR:=/data}"
: "${CLI_TIMEOUT:=3}"
: "${LOCAL_HOST:=127.0.0.1}"
: "${PASSWORD_FILE:=}"
# Kubernetes sets HOSTNAME to the pod name, <statefulset>-<ordinal>.
# shellcheck disable=SC3028
: "${POD_ORDINAL:=${HOSTNAME##*-}}"

log() {
  printf '%s %s: %s\n' "$(date -u '+%Y-%m-%dT%H:%M:%SZ')" "${0##*/}" "$*" >&2
}

die() {
  log "FATAL: $*"
  exit 1
}

# node_host ORDINAL: the stable host name other nodes and Sentinels know this ordinal by.
node_host() {
  # shellcheck disable=SC2059 # the pattern is the point
  printf "$NODE_HOST_TEMPLATE" "$1"
}

# peer_hosts: the host names of every other ordinal, one per line.
peer_hosts() {
  _p=0
  while [ "$_p" -lt "$REPLICAS" ]; do
    [ "$_p" -eq "$POD_ORDINAL" ] || printf '%s\n' "$(node_host "$_p")"
    _p=$((_p + 1))
  done
}

my_host() {
  node_host "$POD_ORDINAL"
}

# load_auth: exports REDISCLI_AUTH from the Secret file so no password reaches argv.
load_auth() {
  if [ -n "$PASSWORD_FILE" ]; then
    [ -r "$PASSWORD_FILE" ] || die "password file $PASSWORD_FILE is not readable"
    REDISCLI_AUTH=$(cat "$PASSWORD_FILE")
    export REDISCLI_AUTH
  fi
}

# conf_quote VALUE: VALUE as a double-quoted redis.conf/sentinel.conf argument.
conf_quote() {
  printf '"%s"' "$(printf '%s' "$1" | sed 's/[\\"]/\\&/g')"
}

# with_timeout SECONDS CMD...: runs CMD, killing it after SECONDS (POSIX sh has no timeout(1)).
with_timeout() {
  _secs=$1
  shift
  "$@" &
  _pid=$!
  # The watchdog reaps its own sleep when stopped: an orphan would be re-parented to PID 1,
  # which in the container is redis-server, and it logs "detected child with unmatched pid".
  (
    trap 'kill "$_sleep" 2>/dev/null; wait "$_sleep"; exit 0' TERM
    sleep "$_secs" &
    _sleep=$!
    wait "$_sleep" && kill "$_pid"
  ) >/dev/null 2>&1 &
  _watch=$!
  wait "$_pid"
  _rc=$?
  kill "$_watch" >/dev/null 2>&1
  wait "$_watch"
  return "$_rc"
}

# cli HOST PORT ARGS...: one redis-cli call with a deadline; prints the raw reply and errors.
cli() {
  _host=$1
  _port=$2
  shift 2
  with_timeout "$CLI_TIMEOUT" redis-cli --no-raw -h "$_host" -p "$_port" "$@" 2>&1
}

# cli_raw HOST PORT ARGS...: like cli but replies in raw form (one element per line).
cli_raw() {
  _host=$1
  _port=$2
  shift 2
  with_timeout "$CLI_TIMEOUT" redis-cli --raw -h "$_host" -p "$_port" "$@" 2>&1
}

# role HOST PORT: prints master, slave, sentinel or nothing when the node does not answer.
role() {
  _out=$(cli_raw "$1" "$2" ROLE) || return 1
  case $(printf '%s\n' "$_out" | head -n 1) in
    master | slave | sentinel) printf '%s\n' "$_out" | head -n 1 ;;
    *) return 1 ;;
  esac
}

# info_field HOST PORT SECTION FIELD: prints one field of INFO.
info_field() {
  cli_raw "$1" "$2" INFO "$3" | tr -d '\r' | sed -n "s/^$4://p"
}

# is_absent OUTPUT: true when redis-cli's error says the host name does not exist (NXDOMAIN).
# A headless Service only publishes pods that exist, so this is evidence that the pod is gone,
# unlike a timeout or a refused connection, which only say "not now".
is_absent() {
  case $1 in
    *"Name or service not known"* | *"Name does not resolve"* | *"nodename nor servname"* | *"No address associated"*) return 0 ;;
    *) return 1 ;;
  esac
}

# sentinel_master HOST: prints the master host the Sentinel at HOST reports for MASTER_SET.
# Returns 2 when HOST does not exist, 1 when it gives no usable answer.
sentinel_master() {
  _out=$(cli_raw "$1" "$SENTINEL_PORT" SENTINEL GET-MASTER-ADDR-BY-NAME "$MASTER_SET")
  _rc=$?
  if is_absent "$_out"; then
    return 2
  fi
  [ "$_rc" -eq 0 ] || return 1
  _master=$(printf '%s\n' "$_out" | head -n 1)
  case $_master in
    "" | *" "* | ERR* | NOAUTH* | WRONGPASS*) return 1 ;;
  esac
  printf '%s\n' "$_master"
}

# has_data: true when DATA_DIR holds an RDB or AOF from an earlier run.
has_data() {
  [ -s "$DATA_DIR/dump.rdb" ] || [ -d "$DATA_DIR/appendonlydir" ] || [ -s "$DATA_DIR/appendonly.aof" ]
}
