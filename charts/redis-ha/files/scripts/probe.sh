#!/bin/sh
# SPDX-License-Identifier: Apache-2.0
# Probes of the redis and sentinel containers: probe.sh redis-startup | redis-liveness |
# redis-readiness | sentinel-liveness | sentinel-readiness. Liveness must never kill a node that
# is recovering, so it accepts LOADING and MASTERDOWN; readiness wants a node that can serve.
# shellcheck source=lib.sh
. "${SCRIPTS_DIR:-/scripts}/lib.sh"

: "${STUCK_AFTER:=15}"

fail() {
  echo "$*"
  exit 1
}

# master_gone HOST: true when HOST no longer exists (its name does not resolve).
master_gone() {
  is_absent "$(cli_raw "$1" "$REDIS_PORT" PING)"
}

redis_liveness() {
  _pong=$(cli_raw "$LOCAL_HOST" "$REDIS_PORT" PING)
  case $_pong in
    PONG | LOADING* | MASTERDOWN* | BUSY*) ;;
    *)
      # While the start script waits for its peers, its boot beacon answers instead: the pod
      # is alive, and restarting it would only hide its data record from the others.
      [ "$(cli_raw "$LOCAL_HOST" "$BOOT_PORT" PING)" != PONG ] || {
        echo "booting: waiting for peers (boot port $BOOT_PORT)"
        return 0
      }
      fail "redis does not answer PING: $_pong"
      ;;
  esac
  # A replica whose master is gone, or has been no master for STUCK_AFTER seconds, with nothing
  # reconfiguring it (no Sentinel left to fail over, or every pod restarted), is stuck; after
  # failureThreshold periods a restart runs the boot decision again, which elects by data when
  # no master exists. A failover fixes the link within seconds, well before.
  _info=$(cli_raw "$LOCAL_HOST" "$REDIS_PORT" INFO replication | tr -d '\r')
  if printf '%s\n' "$_info" | grep -q '^master_link_status:down'; then
    _master=$(printf '%s\n' "$_info" | sed -n 's/^master_host://p')
    # The external master of a migration: no Sentinel reconfigures this replica and a restart
    # would follow the same source again; Redis retries the link on its own.
    if [ "$_master" = "$(migration_setting host)" ] && ! is_node_host "$_master"; then
      return 0
    fi
    ! master_gone "$_master" || fail "master $_master no longer exists"
    _down=$(printf '%s\n' "$_info" | sed -n 's/^master_link_down_since_seconds://p')
    case $_down in '' | -* | *[!0-9]*) _down=0 ;; esac
    [ "$_down" -ge "$STUCK_AFTER" ] || return 0
    _role=$(role "$_master" "$REDIS_PORT")
    [ "$_role" = master ] || fail "master $_master answers ROLE ${_role:-nothing}, not master, for ${_down}s"
  fi
}

# redis_startup: the startup probe, run every second until it passes once; then the kubelet runs
# the readiness probe at once, and after that every readiness period. It passes as liveness does,
# except in the first STUCK_AFTER seconds of a replica that is not in step yet (link to its master
# not up, or not promotable yet): that is a matter of a second or two, and passing only once it is
# over makes a restarted replica Ready as soon as it is, not up to a readiness period later
# (a rollout waits for each pod in turn). Loading, a long sync and waiting for peers pass as
# liveness says, so the startup budget never cuts them short.
redis_startup() {
  _info=$(cli_raw "$LOCAL_HOST" "$REDIS_PORT" INFO | tr -d '\r')
  if printf '%s\n' "$_info" | grep -q '^role:slave'; then
    _up=$(printf '%s\n' "$_info" | sed -n 's/^uptime_in_seconds://p')
    case $_up in '' | *[!0-9]*) _up=0 ;; esac
    if [ "$_up" -lt "$STUCK_AFTER" ]; then
      printf '%s\n' "$_info" | grep -q '^master_link_status:up' || fail "replica not linked to its master yet (up ${_up}s)"
      [ ! -e "$RUN_DIR/priority.pending" ] || fail "replica not promotable yet (up ${_up}s)"
    fi
  fi
  redis_liveness
}

redis_readiness() {
  _pong=$(cli_raw "$LOCAL_HOST" "$REDIS_PORT" PING)
  [ "$_pong" = PONG ] || fail "redis not ready: $_pong"
  _info=$(cli_raw "$LOCAL_HOST" "$REDIS_PORT" INFO | tr -d '\r')
  printf '%s\n' "$_info" | grep -q '^loading:0' || fail "redis is loading its dataset"
  if printf '%s\n' "$_info" | grep -q '^role:slave'; then
    printf '%s\n' "$_info" | grep -q '^master_link_status:up' || fail "replica link to the master is down"
    printf '%s\n' "$_info" | grep -q '^master_sync_in_progress:0' || fail "replica sync in progress"
    # Set by redis-start.sh until the first sync has loaded and the priority is back.
    [ ! -e "$RUN_DIR/priority.pending" ] || fail "replica not promotable yet (replica-priority 0 until its first sync loaded)"
  fi
}

sentinel_liveness() {
  _pong=$(cli_raw "$LOCAL_HOST" "$SENTINEL_PORT" PING)
  [ "$_pong" = PONG ] || fail "sentinel does not answer PING: $_pong"
  _master=$(sentinel_master "$LOCAL_HOST") || return 0
  ! master_gone "$_master" || fail "sentinel monitors $_master, which no longer exists"
}

sentinel_readiness() {
  _pong=$(cli_raw "$LOCAL_HOST" "$SENTINEL_PORT" PING)
  [ "$_pong" = PONG ] || fail "sentinel not ready: $_pong"
  sentinel_master "$LOCAL_HOST" >/dev/null || [ -e "$RUN_DIR/sentinel.migrating" ] ||
    fail "sentinel knows no master for $MASTER_SET"
}

case ${1:-} in
  redis-*) load_probe_login redis ;;
  sentinel-*) load_probe_login sentinel ;;
esac
case ${1:-} in
  redis-startup) redis_startup ;;
  redis-liveness) redis_liveness ;;
  redis-readiness) redis_readiness ;;
  sentinel-liveness) sentinel_liveness ;;
  sentinel-readiness) sentinel_readiness ;;
  *) fail "usage: probe.sh redis-startup|redis-liveness|redis-readiness|sentinel-liveness|sentinel-readiness" ;;
esac
