#!/bin/sh
# SPDX-License-Identifier: Apache-2.0
# Entry point of the role-label container: keeps this pod's label ROLE_LABEL equal to the role
# the redis container writes to ROLE_FILE ("<epoch seconds> <master|replica|>", once a second),
# so the <fullname>-master and <fullname>-replicas Services select the right pods
# (docs/design.md, "Role Services"). A file older than ROLE_STALE seconds (the redis container
# is gone or stuck) means no role: the label is removed, never left at master.
# With ROLLOUT_ORDERED=true it also deletes its own pod when the pod runs an outdated revision
# and its turn in the ordered rollout has come (kube.sh; docs/design.md, "Failovers per rollout").
# This container alone holds an API token (a projected one); its Role may only get, patch and
# delete the Redis pods of the release and read their StatefulSet. Needs sh and curl: the Redis
# images have no HTTP client.
# Environment: POD_NAME POD_NAMESPACE ROLE_FILE ROLE_LABEL; ROLE_EVERY (0.2 s between reads of
# ROLE_FILE), ROLE_STALE (5), ROLE_RESYNC (30 s
# between patches of an unchanged label, which heal a label changed by hand), TOKEN_DIR,
# HEARTBEAT (the loop's last round, which `role-label.sh probe` checks for the probes);
# ROLLOUT_ORDERED, STATEFULSET, POD_REVISION (this pod's controller-revision-hash), ROLLOUT_EVERY
# (2 s between checks of the StatefulSet's revision).
set -u

: "${ROLE_STALE:=5}"
: "${ROLE_EVERY:=0.2}"
: "${ROLE_RESYNC:=30}"
: "${HEARTBEAT:=/tmp/heartbeat}"
: "${ROLLOUT_ORDERED:=false}"
: "${ROLLOUT_EVERY:=2}"

log() {
  printf '%s %s: %s\n' "$(date -u '+%Y-%m-%dT%H:%M:%SZ')" "${0##*/}" "$*" >&2
}

# desired NOW: sets _want to the label value ROLE_FILE asks for at epoch second NOW; empty when
# it is missing, stale or unknown. (No command substitution: the loop runs five times a second.)
desired() {
  _want=""
  [ -r "$ROLE_FILE" ] || return 0
  read -r _t _role <"$ROLE_FILE" || return 0
  case $_t in '' | *[!0-9]*) return 0 ;; esac
  [ $(($1 - _t)) -le "$ROLE_STALE" ] || return 0
  case ${_role:-} in master | replica) _want=$_role ;; esac
}

# shellcheck source=kube.sh
. "${0%/*}/kube.sh"

# patch VALUE: sets the label to VALUE, or removes it when VALUE is empty (JSON merge patch).
patch() {
  if [ -n "$1" ]; then _v="\"$1\""; else _v=null; fi
  kube_api PATCH "/api/v1/namespaces/$POD_NAMESPACE/pods/$POD_NAME" "{\"metadata\":{\"labels\":{\"$ROLE_LABEL\":$_v}}}"
  case $KUBE_STATUS in
    200) return 0 ;;
    *) log "patching label $ROLE_LABEL=${1:-<none>} failed: $KUBE_STATUS"; return 1 ;;
  esac
}

# rollout_self: when this pod does not run the StatefulSet's update revision and the ordered
# rollout's next step deletes it (kube.sh rollout_next), deletes it. Reads one object per call
# outside a rollout.
rollout_self() {
  statefulset && [ "$ON_DELETE" = true ] || return 0
  [ "$POD_REVISION" != "$UPDATE_REVISION" ] || return 0
  _states=$(pod_states) || return 0
  _step=$(printf '%s\n' "$_states" | rollout_next "$UPDATE_REVISION")
  case $_step in delete\ *) ;; *) return 0 ;; esac
  for _o in ${_step#delete }; do
    case $_o in *[!0-9]*) return 0 ;; esac
    if [ "$_o" = "${POD_NAME##*-}" ]; then
      log "rollout to revision $UPDATE_REVISION: deleting this pod: $(step_reason "$_step")"
      delete_pod "$_o"
      return 0
    fi
  done
}

# stop: the pod is being deleted: it leaves both Services now (its Redis may be handing the
# master role over meanwhile, behind paused writes) and this container ends, so the pod's
# termination does not wait out the grace period for it.
# shellcheck disable=SC2317 # called by the TERM trap
stop() {
  patch "" && log "pod stopping: label $ROLE_LABEL removed"
  exit 0
}

# probe [SECONDS]: the liveness probe's check: the loop went round within the last SECONDS (10).
# A hung loop could leave a stale label, so the container is restarted; a failing API only logs.
probe() {
  read -r _beat <"$HEARTBEAT" 2>/dev/null || exit 1
  [ $(($(date +%s) - _beat)) -le "${1:-10}" ]
}

main() {
  if [ "${1:-}" = probe ]; then
    probe "${2:-10}"
    exit
  fi
  API=$(api_base) || exit 1
  trap stop TERM INT
  _applied=unset _at=0 _checked=0
  while :; do
    _now=$(date +%s)
    desired "$_now"
    echo "$_now" >"$HEARTBEAT"
    if [ "$_want" != "$_applied" ] || [ $((_now - _at)) -ge "$ROLE_RESYNC" ]; then
      if patch "$_want"; then
        [ "$_want" = "$_applied" ] || log "label $ROLE_LABEL=${_want:-<none>}"
        _applied=$_want _at=$_now
      fi
    fi
    if [ "$ROLLOUT_ORDERED" = true ] && [ $((_now - _checked)) -ge "$ROLLOUT_EVERY" ]; then
      _checked=$_now
      rollout_self
    fi
    # sh runs a trap only between commands: wait, unlike a foreground sleep, is interrupted.
    sleep "$ROLE_EVERY" &
    wait $!
  done
}

main "$@"
