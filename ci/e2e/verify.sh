#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Smoke-check the e2e cluster: 4 Ready nodes, CoreDNS (service name + headless pod FQDN),
# a local-path PVC binds, the redis-ha-test images run (redis as uid 999 on the PVC, the
# exporter scrapes it, valkey starts), hairpin (a pod reaches itself through its own Service
# ClusterIP), and NetworkPolicy is enforced (default-deny blocks, an allow rule for a labelled
# client lets it through).
# Usage: ci/e2e/verify.sh      (uses $KIND_CLUSTER; talks to the API via the control-plane node)
set -euo pipefail
. "$(dirname "$0")/lib.sh"
# shellcheck disable=SC1091
. "$E2E_DIR/images.env"
NS=${VERIFY_NS:-e2e-smoke}

cp_node() { docker ps --filter "label=io.x-k8s.kind.cluster=$KIND_CLUSTER" --filter "label=io.x-k8s.kind.role=control-plane" --format '{{.Names}}' | head -1; }
CP=$(cp_node); [ -n "$CP" ] || die "no control-plane node for cluster $KIND_CLUSTER"
kctl() { docker exec -i "$CP" kubectl --kubeconfig=/etc/kubernetes/admin.conf "$@"; }
fail() { kctl -n "$NS" get pods,pvc,svc,netpol -o wide >&2 || true; kctl -n "$NS" get events --sort-by=.lastTimestamp >&2 || true; die "$*"; }

stage_start verify
n=$(kctl get nodes --no-headers | awk '$2 == "Ready"' | wc -l)
[ "$n" -eq 4 ] || fail "expected 4 Ready nodes, got $n: $(kctl get nodes)"
log "4 nodes Ready"

kctl delete ns "$NS" --ignore-not-found --wait=true >/dev/null
kctl create ns "$NS" >/dev/null
kctl -n "$NS" apply -f - >/dev/null <<EOF
apiVersion: v1
kind: Service
metadata: {name: smoke-hl}
spec:
  clusterIP: None
  publishNotReadyAddresses: true
  selector: {app: smoke-redis}
  ports: [{name: redis, port: 6379}]
---
apiVersion: v1
kind: Service
metadata: {name: smoke-self}
spec:
  selector: {app: smoke-redis}
  ports: [{name: redis, port: 6379}]
---
apiVersion: v1
kind: PersistentVolumeClaim
metadata: {name: data}
spec:
  accessModes: [ReadWriteOnce]
  resources: {requests: {storage: 100Mi}}
---
apiVersion: v1
kind: Pod
metadata: {name: redis-0, labels: {app: smoke-redis}}
spec:
  hostname: redis-0
  subdomain: smoke-hl
  securityContext: {runAsUser: 999, runAsGroup: 999, fsGroup: 999, runAsNonRoot: true}
  containers:
    - name: redis
      image: $REDIS_IMAGE
      imagePullPolicy: Never
      command: [redis-server, --port, "6379", --protected-mode, "no", --dir, /data, --appendonly, "yes"]
      volumeMounts: [{name: data, mountPath: /data}]
      readinessProbe: {exec: {command: [redis-cli, ping]}, periodSeconds: 2}
    - name: metrics
      image: $EXPORTER_IMAGE
      imagePullPolicy: Never
      args: [--redis.addr=redis://localhost:6379]
  volumes: [{name: data, persistentVolumeClaim: {claimName: data}}]
---
apiVersion: v1
kind: Pod
metadata: {name: valkey, labels: {app: smoke-valkey}}
spec:
  securityContext: {runAsUser: 999, runAsGroup: 999, runAsNonRoot: true}
  containers:
    - name: valkey
      image: $VALKEY_IMAGE
      imagePullPolicy: Never
      command: [redis-server, --port, "6380", --protected-mode, "no"]
      readinessProbe: {exec: {command: [redis-cli, -p, "6380", ping]}, periodSeconds: 2}
---
apiVersion: v1
kind: Pod
metadata: {name: client-allowed, labels: {app: smoke-client, access: allowed}}
spec:
  containers: [{name: c, image: $CLIENT_IMAGE, imagePullPolicy: Never, command: [sleep, infinity]}]
  terminationGracePeriodSeconds: 1
---
apiVersion: v1
kind: Pod
metadata: {name: client-other, labels: {app: smoke-client}}
spec:
  containers: [{name: c, image: $CLIENT_IMAGE, imagePullPolicy: Never, command: [sleep, infinity]}]
  terminationGracePeriodSeconds: 1
EOF
kctl -n "$NS" wait --for=condition=Ready pod --all --timeout=180s >/dev/null || fail "smoke pods not Ready"
[ "$(kctl -n "$NS" get pvc data -o jsonpath='{.status.phase}')" = Bound ] || fail "PVC not Bound"
log "PVC bound via $(kctl -n "$NS" get pvc data -o jsonpath='{.spec.storageClassName}'); pods Ready"

ex() { kctl -n "$NS" exec "$@"; }
# DNS: a service name and a headless pod FQDN
ex client-allowed -- python3 -c "import socket; print(socket.gethostbyname('kubernetes.default.svc.cluster.local'))" >/dev/null \
  || fail "client cannot resolve kubernetes.default.svc.cluster.local"
FQDN="redis-0.smoke-hl.$NS.svc.cluster.local"
ex client-allowed -- python3 -c "import socket; print(socket.gethostbyname('$FQDN'))" >/dev/null \
  || fail "client cannot resolve $FQDN"
log "DNS ok: kubernetes.default.svc.cluster.local and $FQDN"

# images run: redis (uid 999, writes to the PVC), redis-py client, exporter, valkey
[ "$(ex redis-0 -c redis -- id -u)" = 999 ] || fail "redis does not run as uid 999"
ex client-allowed -- python3 -c "
import redis
r = redis.Redis(host='$FQDN', port=6379, socket_timeout=5)
r.set('smoke', 'ok'); assert r.get('smoke') == b'ok'
print(r.info('server')['redis_version'])" >/dev/null || fail "redis-py SET/GET failed"
ex redis-0 -c redis -- sh -c 'ls /data/appendonlydir >/dev/null' || fail "redis did not write its AOF to the PVC"
POD_IP=$(kctl -n "$NS" get pod redis-0 -o jsonpath='{.status.podIP}')
ex client-allowed -- python3 -c "
import urllib.request
m = urllib.request.urlopen('http://$POD_IP:9121/metrics', timeout=5).read().decode()
assert 'redis_up 1' in m, 'redis_up 1 missing'" || fail "exporter does not report redis_up 1"
ex client-allowed -- redis-cli -h "$(kctl -n "$NS" get pod valkey -o jsonpath='{.status.podIP}')" -p 6380 info server \
  | grep -q '^valkey_version:' || fail "valkey not answering"
log "images run: redis $(ex redis-0 -c redis -- redis-server --version | awk '{print $3}'), exporter redis_up 1, valkey, redis-py"

# hairpin: redis-0 through the ClusterIP of a Service whose only endpoint is redis-0 itself
# (charts that announce a per-pod Service IP, e.g. DandyDeveloper/redis-ha, need it; the bridge
# CNI's hairpinMode in ci/e2e/offline/kube-router.yaml)
SELF_IP=$(kctl -n "$NS" get svc smoke-self -o jsonpath='{.spec.clusterIP}')
ok=0
for _ in $(seq 1 10); do
  [ "$(ex redis-0 -c redis -- timeout 5 redis-cli -h "$SELF_IP" -p 6379 ping 2>/dev/null | tr -d '\r')" = PONG ] && { ok=1; break; }
  sleep 1
done
[ $ok = 1 ] || fail "hairpin: redis-0 cannot reach itself through Service smoke-self ($SELF_IP:6379); \
bridge ports need hairpin_mode=1 (hairpinMode in ci/e2e/offline/kube-router.yaml; a cluster made before it: run ci/e2e/cluster-up.sh)"
log "hairpin ok: redis-0 PONG through its own Service ClusterIP $SELF_IP"

# NetworkPolicy: default deny ingress + allow only access=allowed to redis:6379
try_ping() { ex "$1" -- timeout 5 redis-cli -h "$FQDN" -p 6379 ping 2>/dev/null | tr -d '\r'; }
[ "$(try_ping client-other)" = PONG ] || fail "before policies client-other cannot reach redis"
kctl -n "$NS" apply -f - >/dev/null <<EOF
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: default-deny}
spec: {podSelector: {}, policyTypes: [Ingress]}
---
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: allow-client}
spec:
  podSelector: {matchLabels: {app: smoke-redis}}
  policyTypes: [Ingress]
  ingress:
    - from: [{podSelector: {matchLabels: {access: allowed}}}]
      ports: [{port: 6379, protocol: TCP}]
EOF
ok=0
for _ in $(seq 1 30); do
  if [ "$(try_ping client-other)" != PONG ] && [ "$(try_ping client-allowed)" = PONG ]; then ok=1; break; fi
  sleep 2
done
[ $ok = 1 ] || fail "NetworkPolicy not enforced (client-other still reaches redis or client-allowed is blocked)"
log "NetworkPolicy enforced: labelled client PONG, unlabelled client blocked ($(ex client-other -- timeout 5 redis-cli -h "$FQDN" -p 6379 ping 2>&1 | head -1 | tr -d "\r"))"
kctl -n "$NS" delete netpol --all >/dev/null
ok=0
for _ in $(seq 1 30); do [ "$(try_ping client-other)" = PONG ] && { ok=1; break; }; sleep 2; done
[ $ok = 1 ] || fail "deleting the policies did not restore access"
log "policies removed: access restored"

[ "${VERIFY_KEEP:-0}" = 1 ] || kctl delete ns "$NS" --wait=false >/dev/null
stage_end verify
log "verify: all checks passed"
