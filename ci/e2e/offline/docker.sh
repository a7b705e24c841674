#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Make sure a Docker engine is running.
#  - if `docker info` already works: nothing to do (any engine, any machine)
#  - else install Debian's docker.io when dockerd is missing, and start dockerd in the
#    background (log: $CACHE/logs/dockerd.log, pid: $CACHE/dockerd.pid)
#  - when this machine's capability bounding set lacks capabilities (here
#    CAP_SYS_RESOURCE), privileged containers fail with "unable to apply caps:
#    operation not permitted": dockerd then gets a default runtime that wraps runc
#    and drops those capabilities from the OCI spec (see runc-wrapper.sh).
# Exits non-zero with the reason when Docker cannot be brought up.
# `docker.sh stop` stops the dockerd started here (pid file), nothing else.
set -euo pipefail
. "$(dirname "$0")/../lib.sh"
hold_lock docker

if [ "${1:-}" = stop ]; then
  # stop the dockerd this script started (pid file), nothing else
  if [ -f "$CACHE/dockerd.pid" ] && kill -0 "$(cat "$CACHE/dockerd.pid")" 2>/dev/null; then
    pid=$(cat "$CACHE/dockerd.pid"); log "stopping dockerd (pid $pid)"; kill "$pid"
    for _ in $(seq 1 30); do kill -0 "$pid" 2>/dev/null || break; sleep 1; done
  fi
  rm -f "$CACHE/dockerd.pid"; exit 0
fi

if docker info >/dev/null 2>&1; then
  log "docker is running"
  exit 0
fi

stage_start docker
need_root "starting dockerd"
command -v dockerd >/dev/null 2>&1 || apt_install docker.io
command -v dockerd >/dev/null 2>&1 || die "dockerd not found after installing docker.io"
command -v docker >/dev/null 2>&1 || apt_install docker.io
command -v jq >/dev/null 2>&1 || apt_install jq
# kind and docker need these on the host
command -v iptables >/dev/null 2>&1 || apt_install iptables

# ---- capabilities missing from the bounding set ----------------------------------
CAP_NAMES=(CAP_CHOWN CAP_DAC_OVERRIDE CAP_DAC_READ_SEARCH CAP_FOWNER CAP_FSETID CAP_KILL
  CAP_SETGID CAP_SETUID CAP_SETPCAP CAP_LINUX_IMMUTABLE CAP_NET_BIND_SERVICE CAP_NET_BROADCAST
  CAP_NET_ADMIN CAP_NET_RAW CAP_IPC_LOCK CAP_IPC_OWNER CAP_SYS_MODULE CAP_SYS_RAWIO CAP_SYS_CHROOT
  CAP_SYS_PTRACE CAP_SYS_PACCT CAP_SYS_ADMIN CAP_SYS_BOOT CAP_SYS_NICE CAP_SYS_RESOURCE
  CAP_SYS_TIME CAP_SYS_TTY_CONFIG CAP_MKNOD CAP_LEASE CAP_AUDIT_WRITE CAP_AUDIT_CONTROL
  CAP_SETFCAP CAP_MAC_OVERRIDE CAP_MAC_ADMIN CAP_SYSLOG CAP_WAKE_ALARM CAP_BLOCK_SUSPEND
  CAP_AUDIT_READ CAP_PERFMON CAP_BPF CAP_CHECKPOINT_RESTORE)
bnd=$(awk '/^CapBnd:/ {print $2}' /proc/self/status)
last=$(cat /proc/sys/kernel/cap_last_cap 2>/dev/null || echo 40)
[ "$last" -gt 40 ] && last=40
missing_caps=""
for ((i = 0; i <= last; i++)); do
  if (( (16#$bnd >> i & 1) == 0 )); then missing_caps="$missing_caps ${CAP_NAMES[$i]}"; fi
done
missing_caps=${missing_caps# }

args=(--host=unix:///var/run/docker.sock)
if [ -n "$missing_caps" ]; then
  real_runc=$(command -v runc || true)
  [ -n "$real_runc" ] || die "runc not found (docker.io should bring it)"
  wrapper="$CACHE/bin/runc-dropcaps"
  sed -e "s#@REAL_RUNC@#$real_runc#" -e "s#@DROP_CAPS@#$missing_caps#" -e "s#@JQ@#$(command -v jq)#" \
    "$OFFLINE_DIR/runc-wrapper.sh" >"$wrapper.tmp"
  chmod 0755 "$wrapper.tmp"; mv -f "$wrapper.tmp" "$wrapper"
  log "capability bounding set lacks: $missing_caps -> dockerd default runtime = $wrapper"
  args+=(--add-runtime "runc-dropcaps=$wrapper" --default-runtime runc-dropcaps)
else
  log "capability bounding set is complete: using plain runc"
fi

# a stale pid file / socket from an earlier run on this machine
if [ -f "$CACHE/dockerd.pid" ] && kill -0 "$(cat "$CACHE/dockerd.pid")" 2>/dev/null; then
  log "dockerd (pid $(cat "$CACHE/dockerd.pid")) is starting already; waiting"
else
  if pgrep -x dockerd >/dev/null 2>&1; then
    die "a dockerd not started by this script is running but 'docker info' fails: $(docker info 2>&1 | tail -1)"
  fi
  rm -f /var/run/docker.pid /var/run/docker.sock
  log "starting dockerd ${args[*]} (log $LOG_DIR/dockerd.log)"
  # setsid: keep dockerd alive after this script (and its session) ends. It must not inherit
  # descriptors above stderr: the callers' lock files (cluster-up.sh holds one) would stay locked
  # for as long as dockerd runs, and the next cluster-up.sh would wait for them forever.
  # shellcheck disable=SC2016 # expanded by the inner bash
  setsid nohup bash -c 'for fd in /proc/$$/fd/*; do fd=${fd##*/}; [ "$fd" -le 2 ] || eval "exec $fd>&-"; done; exec dockerd "$@"' \
    dockerd "${args[@]}" >>"$LOG_DIR/dockerd.log" 2>&1 </dev/null &
  echo $! >"$CACHE/dockerd.pid"
fi

for _ in $(seq 1 60); do
  if docker info >/dev/null 2>&1; then
    log "docker is up: $(docker version --format 'server {{.Server.Version}}' 2>/dev/null)"
    stage_end docker
    exit 0
  fi
  if ! kill -0 "$(cat "$CACHE/dockerd.pid")" 2>/dev/null; then
    tail -20 "$LOG_DIR/dockerd.log" >&2
    die "dockerd exited during start-up (see $LOG_DIR/dockerd.log)"
  fi
  sleep 1
done
tail -20 "$LOG_DIR/dockerd.log" >&2
die "dockerd did not answer 'docker info' within 60s (see $LOG_DIR/dockerd.log)"
