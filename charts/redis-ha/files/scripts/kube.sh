# shellcheck shell=sh
# SPDX-License-Identifier: Apache-2.0
# Sourced by role-label.sh and rollout.sh: Kubernetes API calls with sh and curl, and the ordered
# rollout of the Redis pods (docs/design.md, "Failovers per rollout"): with `rollout.ordered` the
# StatefulSet's update strategy is OnDelete and the chart deletes its outdated pods itself, one at
# a time, replicas first, the master last, so a rollout fails over once, onto a replaced pod.
# The API answers compact JSON (it pretty-prints for a client that calls itself curl, so curl
# names itself redis-ha here); the few fields read are found with sed and grep (the images have no
# JSON tool).
# Environment: POD_NAMESPACE ROLE_LABEL STATEFULSET (the Redis StatefulSet's name); TOKEN_DIR;
# ROLLOUT_NO_MASTER.

: "${TOKEN_DIR:=/var/run/secrets/kubernetes.io/serviceaccount}"

# api_base: the API server's URL from the variables the kubelet sets in every container.
api_base() {
  _host=${KUBERNETES_SERVICE_HOST:?KUBERNETES_SERVICE_HOST is not set}
  case $_host in *:*) _host="[$_host]" ;; esac
  echo "https://$_host:${KUBERNETES_SERVICE_PORT:-443}"
}

# kube_api METHOD PATH [MERGE_PATCH]: one request to the API server at $API. Sets KUBE_STATUS (the
# HTTP status, or curl's error) and KUBE_BODY. The token goes to curl on stdin, never in argv.
kube_api() {
  set -- "$1" "$2" "${3:-}"
  if [ -n "$3" ]; then
    set -- "$1" "$2" --header 'Content-Type: application/merge-patch+json' --data "$3"
  else
    set -- "$1" "$2"
  fi
  _method=$1 _path=$2
  shift 2
  _out=$(printf 'header = "Authorization: Bearer %s"\n' "$(cat "$TOKEN_DIR/token")" |
    curl --config - --silent --show-error --max-time 5 --cacert "$TOKEN_DIR/ca.crt" \
      --user-agent redis-ha --request "$_method" "$@" --write-out '\n%{http_code}' "$API$_path" 2>&1)
  KUBE_STATUS=$(printf '%s\n' "$_out" | sed -n '$p')
  KUBE_BODY=$(printf '%s\n' "$_out" | sed '$d')
  case $KUBE_STATUS in
    '' | *[!0-9]*) KUBE_STATUS="error: $KUBE_BODY" ;;
  esac
}

# json_string KEY: the value of the string field KEY in KUBE_BODY (the last one when repeated).
json_string() {
  printf '%s\n' "$KUBE_BODY" | sed -n 's|.*"'"$1"'":"\([^"]*\)".*|\1|p'
}

# json_number KEY: the value of the number field KEY in KUBE_BODY.
json_number() {
  printf '%s\n' "$KUBE_BODY" | sed -n 's|.*"'"$1"'":\([0-9][0-9]*\).*|\1|p'
}

# statefulset: reads the Redis StatefulSet; sets UPDATE_REVISION and SIZE (spec.replicas), both
# empty when the read failed or the controller has not yet observed the latest spec (its
# updateRevision would still be the old one), and ON_DELETE (true when its update strategy is
# OnDelete: with RollingUpdate the controller replaces the pods and nothing here may).
statefulset() {
  UPDATE_REVISION="" SIZE="" ON_DELETE=false
  kube_api GET "/apis/apps/v1/namespaces/$POD_NAMESPACE/statefulsets/$STATEFULSET"
  if [ "$KUBE_STATUS" != 200 ]; then
    ROLLOUT_WHY="reading statefulset $STATEFULSET failed: $KUBE_STATUS"
    return 1
  fi
  if [ "$(json_number generation)" != "$(json_number observedGeneration)" ]; then
    ROLLOUT_WHY="the StatefulSet controller has not observed the latest spec yet"
    return 1
  fi
  if printf '%s\n' "$KUBE_BODY" | grep -q '"updateStrategy":{"type":"OnDelete"'; then ON_DELETE=true; fi
  UPDATE_REVISION=$(json_string updateRevision)
  SIZE=$(printf '%s\n' "$KUBE_BODY" | sed -n 's|.*"spec":{"replicas":\([0-9][0-9]*\).*|\1|p')
  [ -n "$UPDATE_REVISION" ] && [ -n "$SIZE" ] && return 0
  ROLLOUT_WHY="statefulset $STATEFULSET has no updateRevision or replicas yet"
  return 1
}

# redis_ready: true when the pod in KUBE_BODY has its redis container Ready (the pod's own Ready
# condition also waits for the exporter, whose state must not drive the rollout). Reads the
# containerStatuses entry of "redis" up to its restartCount, which follows its ready field.
redis_ready() {
  printf '%s\n' "$KUBE_BODY" | sed -n 's/.*{"name":"redis","state":\(.*\)$/\1/p' |
    sed 's/"restartCount".*//' | grep -q '"ready":true'
}

# pod_states: one line per Redis pod, "ORDINAL STATE REVISION ROLE", STATE being ready or unready
# (its redis container), terminating or missing; REVISION and ROLE are "-" when unknown, ROLE is "?" for a pod without a
# role-label container (of a chart version before the ordered rollout, or roleServices off). When a read fails, the last line
# says why and it returns 1.
pod_states() {
  _i=0
  while [ "$_i" -lt "$SIZE" ]; do
    kube_api GET "/api/v1/namespaces/$POD_NAMESPACE/pods/$STATEFULSET-$_i"
    case $KUBE_STATUS in
      404) echo "$_i missing - -" ;;
      200)
        if printf '%s\n' "$KUBE_BODY" | grep -q '"deletionTimestamp":'; then
          _state=terminating
        elif redis_ready; then
          _state=ready
        else
          _state=unready
        fi
        _role=$(json_string "$ROLE_LABEL" | grep . || echo -)
        printf '%s\n' "$KUBE_BODY" | grep -q '"name":"role-label"' || _role="?"
        echo "$_i $_state $(json_string controller-revision-hash | grep . || echo -) $_role"
        ;;
      *)
        echo "reading pod $STATEFULSET-$_i failed: $KUBE_STATUS"
        return 1
        ;;
    esac
    _i=$((_i + 1))
  done
}

# rollout_next REVISION: the next step of the rollout to REVISION, from the pod_states lines on
# stdin (ascending ordinals). Prints one line:
#   done                  every pod runs REVISION and its Redis is Ready
#   wait REASON           nothing may be deleted now
#   delete ORDINAL REASON delete this pod now
# The rules (docs/design.md, "Failovers per rollout"), one pod at a time: nothing while a pod is
# missing or terminating; an outdated pod whose Redis is not Ready and that is not the master goes
# first (it serves nothing, and may be what a broken revision needs replaced); nothing while a
# replaced pod is not Ready (a revision that does not come up stops the rollout); then the
# replicas from the highest ordinal; the master last, once every other pod is replaced and Ready,
# so its preStop hands over to a replaced pod. Pods without a role label of their own (ROLE "?")
# cannot say whether they are the master: they go like replicas, highest ordinal first (an
# upgrade from a chart version before this one may fail over twice). With ROLLOUT_NO_MASTER=true
# (a migration: every pod follows the external master) no pod is master and all go as replicas.
rollout_next() {
  _rev=$1 _gone="" _new_unready="" _old_unready="" _old_unready_master="" _old_replica=""
  _old_master="" _masters=0 _legacy=""
  while read -r _o _state _r _role; do
    case $_state in
      missing | terminating)
        _gone=${_gone:-"pod $_o is $_state"}
        continue
        ;;
    esac
    [ "$_role" != master ] || _masters=$((_masters + 1))
    [ "$_role" != "?" ] || _legacy=$_o
    if [ "$_r" = "$_rev" ]; then
      [ "$_state" = ready ] || _new_unready=${_new_unready:-$_o}
    elif [ "$_state" != ready ]; then
      if [ "$_role" = master ]; then _old_unready_master=$_o; else _old_unready=$_o; fi
    elif [ "$_role" = master ]; then
      _old_master=$_o
    else
      _old_replica=$_o
    fi
  done
  if [ -n "$_gone" ]; then
    echo "wait $_gone"
  elif [ -n "$_old_unready" ]; then
    echo "delete $_old_unready pod $_old_unready is outdated and its Redis not Ready: it goes first"
  elif [ -n "$_new_unready" ]; then
    echo "wait pod $_new_unready runs the new revision and its Redis is not Ready yet"
  elif [ -n "$_old_unready_master" ]; then
    echo "wait pod $_old_unready_master is the master and its Redis is not Ready"
  elif [ -n "$_old_replica$_old_master" ] && [ "$_masters" -ne 1 ] && [ -z "$_legacy" ] && [ "${ROLLOUT_NO_MASTER:-false}" != true ]; then
    echo "wait $_masters pods are labelled $ROLE_LABEL=master; waiting for exactly one"
  elif [ -n "$_old_replica" ]; then
    echo "delete $_old_replica replica $_old_replica, the highest outdated one"
  elif [ -n "$_old_master" ]; then
    echo "delete $_old_master the master, last: every replica runs the new revision"
  else
    echo "done"
  fi
}

# step_reason STEP: the reason of a rollout_next line, without its verb and ordinals.
step_reason() {
  _why=${1#* }
  while :; do
    case ${_why%% *} in '' | *[!0-9]*) break ;; esac
    _why=${_why#* }
  done
  printf '%s\n' "$_why"
}

# rollout_step: reads the StatefulSet and its pods and prints rollout_next's line ("wait REASON"
# when a read failed).
rollout_step() {
  if ! statefulset; then
    echo "wait $ROLLOUT_WHY"
  elif [ "$ON_DELETE" != true ]; then
    echo "wait statefulset $STATEFULSET uses RollingUpdate: its controller replaces the pods"
  elif _states=$(pod_states); then
    printf '%s\n' "$_states" | rollout_next "$UPDATE_REVISION"
  else
    echo "wait $(printf '%s\n' "$_states" | sed -n '$p')"
  fi
}

# delete_pod ORDINAL: deletes that Redis pod (its preStop hook runs as for any deletion).
delete_pod() {
  kube_api DELETE "/api/v1/namespaces/$POD_NAMESPACE/pods/$STATEFULSET-$1"
  case $KUBE_STATUS in
    200 | 202 | 404) return 0 ;;
  esac
  echo "deleting pod $STATEFULSET-$1 failed: $KUBE_STATUS" >&2
  return 1
}
