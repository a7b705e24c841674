#!/bin/sh
# SPDX-License-Identifier: Apache-2.0
# Entry point of the rollout Job, a post-install, post-upgrade and post-rollback hook of
# `rollout.ordered`: it replaces the Redis pods that do not run the StatefulSet's update revision
# in the order of docs/design.md ("Failovers per rollout"), replicas first, the master last, and
# exits 0 once every pod runs it and its Redis is Ready, so `helm install` and `helm upgrade`
# return when the pods serve (helm's own --wait does not wait for the pods of an OnDelete
# StatefulSet). It exits 1,
# saying what it waited for, after ROLLOUT_TIMEOUT seconds: the upgrade is then reported failed.
# Each Redis pod's role-label container follows the same rules for its own pod (a `kubectl
# rollout restart`, or an upgrade from a version without this Job), so both may delete a pod; a
# second deletion of a terminating pod changes nothing.
# Environment: POD_NAMESPACE ROLE_LABEL STATEFULSET; ROLLOUT_TIMEOUT (600), ROLLOUT_EVERY (1 s).
set -u

: "${ROLLOUT_TIMEOUT:=600}"
: "${ROLLOUT_EVERY:=1}"

log() {
  printf '%s %s: %s\n' "$(date -u '+%Y-%m-%dT%H:%M:%SZ')" "${0##*/}" "$*" >&2
}

# shellcheck source=kube.sh
. "${0%/*}/kube.sh"

main() {
  API=$(api_base) || exit 1
  _end=$(($(date +%s) + ROLLOUT_TIMEOUT)) _said=""
  while :; do
    _step=$(rollout_step)
    case $_step in
      done)
        log "every pod of statefulset $STATEFULSET runs its update revision and is Ready"
        exit 0
        ;;
      delete\ *)
        for _o in ${_step#delete }; do
          case $_o in *[!0-9]*) break ;; esac
          delete_pod "$_o" && log "deleted pod $STATEFULSET-$_o: $(step_reason "$_step")"
        done
        ;;
      *) [ "$_step" = "$_said" ] || log "waiting: $(step_reason "$_step")" ;;
    esac
    _said=$_step
    if [ "$(date +%s)" -ge "$_end" ]; then
      log "the rollout of statefulset $STATEFULSET did not finish within $ROLLOUT_TIMEOUT s (rollout.timeoutSeconds): $(step_reason "$_step")"
      exit 1
    fi
    sleep "$ROLLOUT_EVERY"
  done
}

main "$@"
