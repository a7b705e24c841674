# shellcheck shell=sh
# SPDX-License-Identifier: Apache-2.0
# Functions shared by the redis-ha scripts. POSIX sh; needs only redis-cli besides the shell,
# so the same scripts serve Redis and Valkey images.
#
# Environment (set by the StatefulSet; tests set the same names):
#   REPLICAS            Redis pods in the set
#   NODE_HOST_TEMPLATE  printf pattern of a Redis pod's host name with %s for the ordinal,
#                       e.g. redis-ha-%s.redis-ha-headless.ns.svc.cluster.local
#   SENTINELS           Sentinels in the set (defaults to REPLICAS)
#   SENTINEL_HOST_TEMPLATE  the same pattern for the Sentinels: equal to NODE_HOST_TEMPLATE when
#                       each Redis pod runs its own Sentinel (sentinel.colocated), else the
#                       Sentinel pods' names, e.g. redis-ha-sentinel-%s.redis-ha-headless...
#   POD_ORDINAL         this pod's ordinal; defaults to the suffix of $HOSTNAME
#   BOOT_PORT           port of the boot beacon, where a starting pod shows its data record
#   STATE_FILE          this pod's data record on the data volume (docs/operations.md, "Full restarts")
#   REDIS_PORT SENTINEL_PORT MASTER_SET QUORUM
#   PASSWORD_FILE       mounted Secret file with the password; empty when auth is off
#   ACCEPTED_PASSWORDS_FILE  passwords also accepted for the default user, one per line (may be absent)
#   ACL_DIR             directory of ACL user passwords, one file per role; empty without ACL users
#   CONFIG_DIR RUN_DIR DATA_DIR
#   CLI_TIMEOUT         seconds before a redis-cli call to a peer is abandoned
#   LOCAL_HOST          address of this pod's own Redis and Sentinel (loopback in a pod)
#   TLS_ENABLED         true: REDIS_PORT and SENTINEL_PORT speak TLS, and so does every redis-cli call
#   TLS_CERT_FILE TLS_KEY_FILE TLS_CA_FILE  the pod's certificate, its key, the CA (PEM)
#   PLAIN_REDIS_PORT PLAIN_SENTINEL_PORT    plain-text ports kept beside TLS; empty for TLS only
#   ROLE_FILE           where the redis container tells the role-label container its role label;
#                       empty without role Services (docs/design.md, "Role Services")
#   MIGRATION_DIR       the migration settings (migration.*), one file per setting: enabled, host,
#                       port, username, tls; empty when no source is configured. Mounted from a
#                       ConfigMap that is not part of the pods' checksum: the cutover rolls no pod.
#   MIGRATION_PASSWORD_FILE  mounted Secret file with the source's password
#   MIGRATION_CA_FILE   CA that signed the source's certificate (TLS to the source)

: "${REDIS_PORT:=6379}"
: "${SENTINEL_PORT:=26379}"
: "${MASTER_SET:=mymaster}"
: "${CONFIG_DIR:=/config}"
: "${RUN_DIR:=/run/redis}"
: "${DATA_DIR:=/data}"
: "${CLI_TIMEOUT:=3}"
: "${LOCAL_HOST:=127.0.0.1}"
: "${TLS_ENABLED:=false}"
: "${TLS_CERT_FILE:=/tls/tls.crt}"
: "${TLS_KEY_FILE:=/tls/tls.key}"
: "${TLS_CA_FILE:=/tls/ca.crt}"
: "${PLAIN_REDIS_PORT:=}"
: "${PLAIN_SENTINEL_PORT:=}"
: "${MIGRATION_DIR:=}"
: "${MIGRATION_PASSWORD_FILE:=}"
: "${MIGRATION_CA_FILE:=$TLS_CA_FILE}"
: "${PASSWORD_FILE:=}"
: "${ACCEPTED_PASSWORDS_FILE:=}"
: "${ACL_DIR:=}"
: "${CLI_USER:=}"
: "${REPLICAS:=1}"
: "${SENTINELS:=$REPLICAS}"
: "${NODE_HOST_TEMPLATE:=}"
: "${SENTINEL_HOST_TEMPLATE:=$NODE_HOST_TEMPLATE}"
: "${BOOT_PORT:=16379}"
: "${STATE_FILE:=$DATA_DIR/redis-ha.state}"
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

my_host() {
  node_host "$POD_ORDINAL"
}

# hosts_of TEMPLATE COUNT: the host names of ordinals 0 to COUNT-1 after the printf TEMPLATE,
# one per line.
hosts_of() {
  _h=0
  while [ "$_h" -lt "$2" ]; do
    # shellcheck disable=SC2059 # the pattern is the point
    printf "$1\n" "$_h"
    _h=$((_h + 1))
  done
}

# node_hosts: the host names of every Redis pod, one per line.
node_hosts() {
  hosts_of "$NODE_HOST_TEMPLATE" "$REPLICAS"
}

# sentinel_host ORDINAL: the host name of a Sentinel.
sentinel_host() {
  # shellcheck disable=SC2059 # the pattern is the point
  printf "$SENTINEL_HOST_TEMPLATE" "$1"
}

# sentinel_hosts: the host names of every Sentinel, one per line.
sentinel_hosts() {
  hosts_of "$SENTINEL_HOST_TEMPLATE" "$SENTINELS"
}

# colocated: true when every Redis pod runs its own Sentinel (sentinel.colocated).
colocated() {
  [ "$SENTINEL_HOST_TEMPLATE" = "$NODE_HOST_TEMPLATE" ]
}

# load_auth: exports REDISCLI_AUTH from the Secret file so no password reaches argv.
load_auth() {
  if [ -n "$PASSWORD_FILE" ]; then
    [ -r "$PASSWORD_FILE" ] || die "password file $PASSWORD_FILE is not readable"
    REDISCLI_AUTH=$(cat "$PASSWORD_FILE")
    export REDISCLI_AUTH
  fi
}

# login_as ROLE: with ACL users, later cli calls log in as ROLE's user (e.g. probe); without,
# as the default user (load_auth).
login_as() {
  if [ -z "$ACL_DIR" ]; then
    load_auth
    return
  fi
  acl_login "$1"
  CLI_USER=$ACL_USER
  REDISCLI_AUTH=$ACL_PASSWORD
  export REDISCLI_AUTH
}

# save_probe_login NAME: stores the login the probes use (the probe user's with ACL users, else
# the default user's) in RUN_DIR/NAME.login as it is when the server starts. The kubelet updates
# mounted Secret files in running pods; probes that switched to a password the server never
# loaded would fail on every pod at once and restart them all together.
save_probe_login() {
  (
    login_as probe
    umask 077
    { printf '%s\n' "$CLI_USER"; printf '%s' "${REDISCLI_AUTH:-}"; } >"$RUN_DIR/$1.login.tmp"
    mv "$RUN_DIR/$1.login.tmp" "$RUN_DIR/$1.login"
  )
}

# load_probe_login NAME: logs in as save_probe_login stored it; before that, as login_as probe.
load_probe_login() {
  if [ ! -r "$RUN_DIR/$1.login" ]; then
    login_as probe
    return
  fi
  CLI_USER=$(head -n 1 "$RUN_DIR/$1.login")
  _pw=$(sed '1d' "$RUN_DIR/$1.login")
  if [ -n "$_pw" ]; then
    REDISCLI_AUTH=$_pw
    export REDISCLI_AUTH
  fi
}

# acl_password ROLE: prints the password an ACL role logs in with: the first line of its Secret
# file. Further lines are passwords the user also accepts, for rotations.
acl_password() {
  require_acl_file "$1"
  head -n 1 "$ACL_DIR/$1"
}

# require_acl_file ROLE: exits unless the Secret file of ROLE's passwords is readable.
require_acl_file() {
  [ -r "$ACL_DIR/$1" ] || die "ACL password file $ACL_DIR/$1 is not readable"
}

# conf_passwords: for each non-empty line of stdin, prints ` ">line"` (quoted for a config file).
conf_passwords() {
  while IFS= read -r _pw || [ -n "$_pw" ]; do
    [ -z "$_pw" ] || printf ' %s' "$(conf_quote ">$_pw")"
  done
}

# acl_user_name ROLE: prints the user name of an ACL role (CONFIG_DIR/redis-users.acl and
# sentinel-users.acl list "<role> <name> <rules>").
acl_user_name() {
  _name=$(cat "$CONFIG_DIR/redis-users.acl" "$CONFIG_DIR/sentinel-users.acl" | sed -n "s/^$1 \([^ ]*\) .*/\1/p" | head -n 1)
  [ -n "$_name" ] || die "no ACL user for role $1 in $CONFIG_DIR"
  printf '%s\n' "$_name"
}

# acl_login ROLE: sets ACL_USER and ACL_PASSWORD to ROLE's name and password; exits when missing.
acl_login() {
  ACL_USER=$(acl_user_name "$1") || exit 1
  ACL_PASSWORD=$(acl_password "$1") || exit 1
}

# conf_quote VALUE: VALUE as a double-quoted redis.conf/sentinel.conf argument.
conf_quote() {
  printf '"%s"' "$(printf '%s' "$1" | sed 's/[\\"]/\\&/g')"
}

# auth_config redis|sentinel: the config lines that protect a Redis or Sentinel: the default
# user with the password and the passwords accepted during a rotation, then the ACL users of
# CONFIG_DIR/<redis|sentinel>-users.acl, each accepting every line of its Secret file.
# Prints nothing without auth.
auth_config() {
  [ -n "$PASSWORD_FILE" ] || return 0
  printf 'user default reset on %s' "$(conf_quote ">$(cat "$PASSWORD_FILE")")"
  if [ -n "$ACCEPTED_PASSWORDS_FILE" ] && [ -r "$ACCEPTED_PASSWORDS_FILE" ]; then
    conf_passwords <"$ACCEPTED_PASSWORDS_FILE"
  fi
  printf ' ~* &* +@all\n'
  [ -n "$ACL_DIR" ] || return 0
  while read -r _role _name _rules; do
    [ -n "$_role" ] || continue
    require_acl_file "$_role"
    printf 'user %s reset on' "$_name"
    conf_passwords <"$ACL_DIR/$_role"
    printf ' %s\n' "$_rules"
  done <"$CONFIG_DIR/$1-users.acl"
}

# login_config ROLE USER_DIRECTIVE PASS_DIRECTIVE: the config lines a process logs in to its
# peers with: ROLE's ACL user and password, or without ACL users the default user's password.
login_config() {
  if [ -n "$ACL_DIR" ]; then
    acl_login "$1"
    printf '%s %s\n' "$2" "$ACL_USER"
    printf '%s %s\n' "$3" "$(conf_quote "$ACL_PASSWORD")"
  elif [ -n "${REDISCLI_AUTH:-}" ]; then
    printf '%s %s\n' "$3" "$(conf_quote "$REDISCLI_AUTH")"
  fi
}

# with_timeout SECONDS CMD...: runs CMD, killing it after SECONDS (POSIX sh has no timeout(1)).
with_timeout() {
  _secs=$1
  shift
  "$@" &
  _pid=$!
  # The watchdog reaps its own sleep when stopped: an orphan would be re-parented to PID 1,
  # which in the container is redis-server, and it logs "detected child with unmatched pid".
  # SIGKILL, because a TERM that reaches the sleep before it has exec'd is lost, and the watchdog
  # (and so the caller) would wait out the whole deadline. Stopped before it knows the sleep's
  # pid, it leaves the sleep be: a plain "wait" would hold the caller just as long.
  (
    _sleep=""
    trap '[ -z "$_sleep" ] || { kill -KILL "$_sleep" 2>/dev/null; wait "$_sleep"; }; exit 0' TERM
    sleep "$_secs" &
    _sleep=$!
    wait "$_sleep" && kill "$_pid"
  ) >/dev/null 2>&1 &
  _watch=$!
  wait "$_pid"
  _rc=$?
  kill "$_watch" >/dev/null 2>&1
  # A watchdog killed before it set its trap makes the shell report "Terminated" here, which
  # would end up in the caller's captured reply.
  wait "$_watch" 2>/dev/null
  return "$_rc"
}

# TLS_ARGS: the redis-cli options of every cli call, empty without TLS. With TLS, redis-cli
# always presents the pod's certificate (servers may require one: tls-auth-clients) and verifies
# the server's against the CA; it matches no host name, so 127.0.0.1 reaches the local node.
# Used unquoted (redis-cli must stay the process with_timeout kills): the paths hold no spaces.
TLS_ARGS=""
if [ "$TLS_ENABLED" = true ]; then
  TLS_ARGS="--tls --cacert $TLS_CA_FILE --cert $TLS_CERT_FILE --key $TLS_KEY_FILE"
fi

# port_config PORT PLAIN_PORT: the listener lines of redis.conf or sentinel.conf. With TLS, PORT
# speaks TLS and the plain-text port is PLAIN_PORT, or 0 (none) when it is empty.
port_config() {
  if [ "$TLS_ENABLED" = true ]; then
    echo "tls-port $1"
    echo "port ${2:-0}"
  else
    echo "port $1"
  fi
}

# cli HOST PORT ARGS...: one redis-cli call with a deadline; prints the raw reply and errors.
cli() {
  _host=$1
  _port=$2
  shift 2
  # shellcheck disable=SC2086 # TLS_ARGS is a list of options
  with_timeout "$CLI_TIMEOUT" redis-cli $TLS_ARGS ${CLI_USER:+--user "$CLI_USER"} --no-raw -h "$_host" -p "$_port" "$@" 2>&1
}

# cli_raw HOST PORT ARGS...: like cli but replies in raw form (one element per line).
cli_raw() {
  _host=$1
  _port=$2
  shift 2
  # shellcheck disable=SC2086 # TLS_ARGS is a list of options
  with_timeout "$CLI_TIMEOUT" redis-cli $TLS_ARGS ${CLI_USER:+--user "$CLI_USER"} --raw -h "$_host" -p "$_port" "$@" 2>&1
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

# info_fields INFO: the fields of an INFO reply the data record needs, as "name value" lines:
# role, loading, master_link_status, master_replid, master_repl_offset, and one "keys N" per db.
info_fields() {
  printf '%s\n' "$1" | tr -d '\r' | sed -n \
    -e 's/^\(role\):\(.*\)/\1 \2/p' -e 's/^\(loading\):\(.*\)/\1 \2/p' \
    -e 's/^\(master_link_status\):\(.*\)/\1 \2/p' -e 's/^\(master_replid\):\(.*\)/\1 \2/p' \
    -e 's/^\(master_repl_offset\):\(.*\)/\1 \2/p' -e 's/^db[0-9]*:keys=\([0-9]*\),.*/keys \1/p'
}

# data_record INFO: prints "<time> <replid> <offset> <keys>" for a node in step with its set (a
# master, or a replica whose link is up), not loading; returns 1 otherwise. A replica whose link
# went down keeps its last record, so <time> says until when the node had the set's data.
data_record() {
  _role="" _loading=1 _link="" _id="" _off=0 _keys=0
  while read -r _name _value; do
    case $_name in
      role) _role=$_value ;;
      loading) _loading=$_value ;;
      master_link_status) _link=$_value ;;
      master_replid) _id=$_value ;;
      master_repl_offset) _off=$_value ;;
      keys) _keys=$((_keys + _value)) ;;
    esac
  done <<EOF
$(info_fields "$1")
EOF
  [ "$_loading" = 0 ] && [ -n "$_id" ] || return 1
  case $_role in
    master) ;;
    slave) [ "$_link" = up ] || return 1 ;;
    *) return 1 ;;
  esac
  printf '%s %s %s %s\n' "$(date +%s)" "$_id" "$_off" "$_keys"
}

# record_state: writes the local node's data record to STATE_FILE when it is in step with its set.
record_state() {
  _info=$(cli_raw "$LOCAL_HOST" "$REDIS_PORT" INFO) || return 0
  record_state_from "$_info"
}

# record_state_from INFO: record_state from the local node's INFO reply the caller has already.
record_state_from() {
  _rec=$(data_record "$1") || return 0
  printf '%s\n' "$_rec" >"$STATE_FILE.tmp" && mv "$STATE_FILE.tmp" "$STATE_FILE"
}

# role_label INFO [FRESH]: the value of this pod's role label from its own INFO reply
# (docs/design.md, "Role Services"): "replica" for a replica; "master" for a master that runs
# alone (REPLICAS 1), that a replica acknowledged within ROLE_MAX_LAG seconds, or that became
# master moments ago (FRESH 1: promoted or started as master, its replicas not attached yet);
# nothing otherwise: no answer, or a master that no replica follows. Sentinel reconfigures the
# replicas away from a master it demotes, so a master cut off from the set, or one frozen past a
# failover, loses its label even though it cannot learn of its demotion; the price is that a
# master whose replicas are all down has no label either (Sentinel-aware clients still reach it).
role_label() {
  _role="" _acked=0
  while IFS=: read -r _name _value; do
    case $_name in
      role) _role=$_value ;;
      slave[0-9]*)
        case ",$_value," in
          *,state=online,*)
            _lag=$(printf '%s\n' "$_value" | sed -n 's/.*,lag=\([0-9]*\).*/\1/p')
            [ -n "$_lag" ] && [ "$_lag" -le "${ROLE_MAX_LAG:-2}" ] && _acked=1
            ;;
        esac
        ;;
    esac
  done <<EOF
$(printf '%s\n' "$1" | tr -d '\r')
EOF
  case $_role in
    slave) echo replica ;;
    master) if [ "$REPLICAS" -le 1 ] || [ "$_acked" -eq 1 ] || [ "${2:-0}" -eq 1 ]; then echo master; fi ;;
  esac
}

# write_role LABEL: hands LABEL ("master", "replica" or empty for none) to the role-label
# container through ROLE_FILE, as "<epoch seconds> <label>"; it treats a stale file as none.
write_role() {
  [ -n "${ROLE_FILE:-}" ] || return 0
  printf '%s %s\n' "$(date +%s)" "$1" >"$ROLE_FILE.tmp" && mv "$ROLE_FILE.tmp" "$ROLE_FILE"
}

# my_record: this pod's data record as the boot election compares it, "<time> <replid> <offset>
# <keys>": "0 - 0 0" without data files (an empty pod), "0 - 0 1" for data of unknown age.
my_record() {
  if ! has_data; then
    echo "0 - 0 0"
  elif [ -s "$STATE_FILE" ] && head -n 1 "$STATE_FILE" | grep -Eq '^[0-9]+ [^ ]+ [0-9]+ [0-9]+$'; then
    head -n 1 "$STATE_FILE"
  else
    echo "0 - 0 1"
  fi
}

# check_rdb FILE: the engine's RDB checker on FILE (Valkey images may only have the valkey-*
# name); prints its report and fails when the file is damaged.
check_rdb() {
  if command -v redis-check-rdb >/dev/null 2>&1; then
    redis-check-rdb "$1" 2>&1
  elif command -v valkey-check-rdb >/dev/null 2>&1; then
    valkey-check-rdb "$1" 2>&1
  else
    echo "neither redis-check-rdb nor valkey-check-rdb is on PATH in this image"
    return 1
  fi
}

# migration_setting NAME: prints one migration setting (MIGRATION_DIR/NAME), nothing when unset.
migration_setting() {
  [ -n "$MIGRATION_DIR" ] && [ -r "$MIGRATION_DIR/$1" ] || return 0
  cat "$MIGRATION_DIR/$1"
}

# migrating: true while migration.enabled: the set follows the external master and nobody elects.
migrating() {
  [ "$(migration_setting enabled)" = true ] && [ -n "$(migration_setting host)" ]
}

# is_node_host HOST: true when HOST is one of the Redis pods of this set.
is_node_host() {
  node_hosts | grep -qxF "$1"
}

# source_tls_args: the redis-cli TLS options towards the migration source (its CA, the pod's
# certificate), empty when the source speaks plain text.
source_tls_args() {
  [ "$(migration_setting tls)" = true ] || return 0
  printf '%s\n' "--tls --cacert $MIGRATION_CA_FILE --cert $TLS_CERT_FILE --key $TLS_KEY_FILE"
}

# source_cli ARGS...: one raw-reply redis-cli call to the migration source, logged in with the
# source's user and password (from its Secret file, never argv) over the source's TLS setting.
source_cli() {
  _src_auth=""
  [ -z "$MIGRATION_PASSWORD_FILE" ] || _src_auth=$(cat "$MIGRATION_PASSWORD_FILE")
  _src_user=$(migration_setting username)
  _src_tls=$(source_tls_args)
  # The password reaches redis-cli through its environment for this one call only.
  # shellcheck disable=SC2086 # _src_tls is a list of options
  REDISCLI_AUTH=$_src_auth with_timeout "$CLI_TIMEOUT" redis-cli $_src_tls ${_src_user:+--user "$_src_user"} --raw \
    -h "$(migration_setting host)" -p "$(migration_setting port)" "$@" 2>&1
}

# source_login_config: the redis.conf lines a replica of the migration source logs in with: the
# source's user and password, TLS replication as the source speaks it and, when the source has a
# CA of its own, a CA bundle that trusts both the source and this set.
source_login_config() {
  _user=$(migration_setting username)
  [ -z "$_user" ] || printf 'masteruser %s\n' "$_user"
  [ -z "$MIGRATION_PASSWORD_FILE" ] || printf 'masterauth %s\n' "$(conf_quote "$(cat "$MIGRATION_PASSWORD_FILE")")"
  if [ "$(migration_setting tls)" = true ]; then
    echo "tls-replication yes"
    if [ "$MIGRATION_CA_FILE" != "$TLS_CA_FILE" ]; then
      cat "$TLS_CA_FILE" "$MIGRATION_CA_FILE" >"$RUN_DIR/ca-bundle.crt"
      echo "tls-ca-cert-file $RUN_DIR/ca-bundle.crt"
    fi
  elif [ "$TLS_ENABLED" = true ]; then
    echo "tls-replication no"
  fi
}

# elect: reads "<ordinal> <time> <replid> <offset> <keys>" lines, one per pod, and prints the
# ordinal that leads: among pods holding keys, those whose record is within BOOT_WINDOW seconds
# of the newest; of them the highest offset, then the lowest ordinal. When no pod holds keys,
# the lowest ordinal. The boot election and the migration cutover both decide with it.
elect() {
  _records=$(cat)
  _newest=-1
  while read -r _o _t _id _off _k; do
    [ -n "$_o" ] && [ "$_k" -gt 0 ] && [ "$_t" -gt "$_newest" ] && _newest=$_t
  done <<EOF
$_records
EOF
  _best="" _best_off=-1
  while read -r _o _t _id _off _k; do
    [ -n "$_o" ] || continue
    if [ "$_newest" -ge 0 ]; then
      if [ "$_k" -eq 0 ] || [ "$_t" -lt $((_newest - ${BOOT_WINDOW:-5})) ]; then
        continue
      fi
    else
      _off=0
    fi
    if [ "$_off" -gt "$_best_off" ] || { [ "$_off" -eq "$_best_off" ] && [ "$_o" -lt "$_best" ]; }; then
      _best=$_o _best_off=$_off
    fi
  done <<EOF
$_records
EOF
  printf '%s\n' "$_best"
}
