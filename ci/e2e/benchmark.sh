#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# What HA costs a client (docs/performance.md, "What HA costs a client"): redis-benchmark SET/GET
# throughput and p50/p99 latency on the kind cluster of the e2e tier, against
#   bare     one redis-server pod, no replicas, no Sentinel, AOF everysec (the chart's default)
#   plain    the chart's master (3 Redis pods, 3 Sentinels, exporters; AOF everysec)
#   tls      the chart with tls.enabled (TLS only, a CA and certificate made here with openssl)
#   always   the chart with redis.config.appendfsync=always
# plus a sequential redis-py loop from the same client pod (one connection): SET alone, then
# SET followed by `WAIT 1 1000` for every write (redis-benchmark cannot wait per write), on bare
# (SET only) and plain. Each setup gets a namespace of its own, installed with the e2e values
# (ci/e2e/values-e2e.yaml: the test images, nothing pulled), measured, then deleted before the
# next starts, so only one setup runs at a time.
#   KUBECONFIG       default ~/.cache/redis-ha/kubeconfig-redis-ha-e2e (ci/e2e/cluster-up.sh)
#   BENCH_PREFIX     namespace prefix (default redis-ha-bench)
#   BENCH_REQUESTS   redis-benchmark -n (default 100000)   BENCH_CLIENTS  -c (default 50)
#   BENCH_SIZE       -d, value bytes (default 64)          BENCH_LOOP     redis-py loop ops (default 3000)
#   BENCH_SETUPS     which setups, in order (default "bare plain tls always")
# Output: markdown rows on stdout, raw redis-benchmark CSV and loop output in build/benchmark/.
set -euo pipefail
cd "$(dirname "$0")/../.."
CACHE=${REDIS_HA_CACHE:-$HOME/.cache/redis-ha}
PATH="$CACHE/bin:$PATH"
export KUBECONFIG=${KUBECONFIG:-$CACHE/kubeconfig-redis-ha-e2e}
PREFIX=${BENCH_PREFIX:-redis-ha-bench}
REQUESTS=${BENCH_REQUESTS:-100000}
CLIENTS=${BENCH_CLIENTS:-50}
SIZE=${BENCH_SIZE:-64}
LOOP=${BENCH_LOOP:-3000}
SETUPS=${BENCH_SETUPS:-bare plain tls always}
# shellcheck source=ci/e2e/images.env
. ci/e2e/images.env
OUT=build/benchmark/$(date -u +%Y%m%dT%H%M%SZ)
mkdir -p "$OUT"
RELEASE=redis-ha   # the full name is then redis-ha too

log() { printf 'benchmark: %s\n' "$*" >&2; }

# The client pod: redis-benchmark (redis-tools) and python3-redis; the password and, with TLS,
# the CA come from the release's Secrets.
client_pod() {
  local ns=$1 secret=$2 tls=$3
  {
    cat <<YAML
apiVersion: v1
kind: Pod
metadata:
  name: bench
  namespace: $ns
  labels: {redis-client: "true"}
spec:
  restartPolicy: Never
  terminationGracePeriodSeconds: 1
  containers:
    - name: bench
      image: $CLIENT_IMAGE
      imagePullPolicy: Never
      command: [sleep, "3600"]
YAML
    if [ -n "$secret" ]; then
      cat <<YAML
      env:
        - name: REDIS_PASSWORD
          valueFrom: {secretKeyRef: {name: $secret, key: password}}
YAML
    fi
    if [ -n "$tls" ]; then
      cat <<YAML
      volumeMounts: [{name: tls, mountPath: /tls, readOnly: true}]
  volumes: [{name: tls, secret: {secretName: $tls}}]
YAML
    fi
  } | kubectl apply -f - >/dev/null
  kubectl -n "$ns" wait --for=condition=Ready pod/bench --timeout=120s >/dev/null
}

# A CA and one certificate for every name in the release (pods of both StatefulSets through the
# headless Service, the client Service), as a Secret with tls.crt, tls.key and ca.crt.
tls_secret() {
  local ns=$1 dir
  dir=$(mktemp -d)
  openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 1 \
    -subj "/CN=redis-ha benchmark CA" -addext basicConstraints=critical,CA:TRUE \
    -addext keyUsage=critical,keyCertSign,cRLSign -keyout "$dir/ca.key" -out "$dir/ca.crt" 2>/dev/null
  openssl req -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -subj /CN=redis-ha \
    -keyout "$dir/tls.key" -out "$dir/tls.csr" 2>/dev/null
  printf 'subjectAltName=%s\nextendedKeyUsage=serverAuth,clientAuth\n' \
    "DNS:*.$RELEASE-headless.$ns.svc.cluster.local,DNS:$RELEASE,DNS:$RELEASE.$ns,DNS:$RELEASE.$ns.svc,DNS:$RELEASE.$ns.svc.cluster.local" \
    >"$dir/ext.cnf"
  openssl x509 -req -in "$dir/tls.csr" -CA "$dir/ca.crt" -CAkey "$dir/ca.key" -CAcreateserial -days 1 \
    -extfile "$dir/ext.cnf" -out "$dir/tls.crt" 2>/dev/null
  kubectl -n "$ns" create secret generic redis-tls --from-file="$dir/tls.crt" --from-file="$dir/tls.key" \
    --from-file="$dir/ca.crt" >/dev/null
  rm -rf "$dir"
}

in_client() { local ns=$1; shift; kubectl -n "$ns" exec -i bench -- "$@"; }

# redis-benchmark SET and GET; prints "name,test,rps,p50,p99" lines. The password goes in with
# -a inside the throw-away client pod (redis-benchmark reads no password file).
run_benchmark() {
  local ns=$1 name=$2 host=$3 tlsflags=$4
  # shellcheck disable=SC2016 # expanded in the client pod
  in_client "$ns" sh -c 'exec redis-benchmark -h "$1" -p 6379 ${REDIS_PASSWORD:+-a "$REDIS_PASSWORD"} $2 \
      -t set,get -n "$3" -c "$4" -d "$5" -r 100000 --csv 2>/dev/null' sh "$host" "$tlsflags" "$REQUESTS" "$CLIENTS" "$SIZE" \
    | tee "$OUT/$name.csv" \
    | awk -F, -v name="$name" 'NR > 1 { gsub(/"/, ""); print name "," $1 "," $2 "," $5 "," $7 }'
}

# One connection, sequential: SET alone, then SET + WAIT 1 1000 per write when replicas exist.
run_loop() {
  local ns=$1 name=$2 host=$3 waits=$4
  in_client "$ns" python3 - "$host" "$LOOP" "$SIZE" "$waits" "$name" <<'PY' | tee "$OUT/$name-loop.txt"
import os, sys, time
import redis
host, n, size, waits, name = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4] == "yes", sys.argv[5]
r = redis.Redis(host=host, port=6379, password=os.environ.get("REDIS_PASSWORD") or None)
value = b"x" * size

def measure(label, op):
    lat = []
    start = time.perf_counter()
    for i in range(n):
        t = time.perf_counter()
        op(i)
        lat.append((time.perf_counter() - t) * 1000)
    total = time.perf_counter() - start
    lat.sort()
    print(f"{name},{label},{n / total:.0f},{lat[len(lat) // 2]:.3f},{lat[int(len(lat) * 0.99)]:.3f}")

short = []
def set_wait(i):
    r.set(f"loop:{i}", value)
    if r.execute_command("WAIT", 1, 1000) < 1:
        short.append(i)

measure("loop SET", lambda i: r.set(f"loop:{i}", value))
if waits:
    measure("loop SET + WAIT 1", set_wait)
    print(f"# WAIT 1 timed out (1000 ms) on {len(short)} of {n} writes")
PY
}

master_of() {
  local ns=$1 tlsflags=$2
  # shellcheck disable=SC2016 # expanded in the client pod
  in_client "$ns" sh -c 'REDISCLI_AUTH="$REDIS_PASSWORD" exec redis-cli -h "$1" -p 26379 $2 --raw \
    SENTINEL GET-MASTER-ADDR-BY-NAME mymaster' sh "$RELEASE" "$tlsflags" | head -n 1
}

setup() {
  local name=$1 ns=$PREFIX-$1 tlsflags="" tls="" args=()
  log "$name: namespace $ns"
  kubectl create namespace "$ns" >/dev/null
  case $name in
    bare)
      kubectl -n "$ns" run redis --image="$REDIS_IMAGE" --image-pull-policy=Never --restart=Never --port=6379 \
        --command -- redis-server --appendonly yes --appendfsync everysec --protected-mode no --dir /tmp >/dev/null
      kubectl -n "$ns" wait --for=condition=Ready pod/redis --timeout=120s >/dev/null
      client_pod "$ns" "" ""
      host=$(kubectl -n "$ns" get pod redis -o jsonpath='{.status.podIP}')
      run_benchmark "$ns" "$name" "$host" ""
      run_loop "$ns" "$name" "$host" no
      ;;
    plain | tls | always)
      args=(--values ci/e2e/values-e2e.yaml)
      case $name in
        tls)
          tls_secret "$ns"
          args+=(--set tls.enabled=true --set tls.existingSecret=redis-tls)
          tls=redis-tls
          tlsflags="--tls --cacert /tls/ca.crt"
          ;;
        always) args+=(--set redis.config.appendfsync=always) ;;
      esac
      helm install "$RELEASE" charts/redis-ha -n "$ns" "${args[@]}" --wait --timeout 10m >/dev/null
      client_pod "$ns" "$RELEASE" "$tls"
      host=$(master_of "$ns" "$tlsflags")
      log "$name: master $host"
      run_benchmark "$ns" "$name" "$host" "$tlsflags"
      [ "$name" != plain ] || run_loop "$ns" "$name" "$host" yes
      helm uninstall "$RELEASE" -n "$ns" --wait >/dev/null
      ;;
    *) log "unknown setup $name"; exit 2 ;;
  esac
  kubectl delete namespace "$ns" --wait=true >/dev/null
}

cleanup() {
  for name in $SETUPS; do
    kubectl delete namespace "$PREFIX-$name" --ignore-not-found --wait=false >/dev/null 2>&1 || true
  done
}
trap cleanup EXIT

log "$(date -u '+%Y-%m-%d %H:%M UTC'), load average: $(cut -d' ' -f1-3 /proc/loadavg), -n $REQUESTS -c $CLIENTS -d $SIZE, loop $LOOP"
echo "setup,test,rps,p50_ms,p99_ms"
for name in $SETUPS; do
  setup "$name"
  log "load average after $name: $(cut -d' ' -f1-3 /proc/loadavg)"
done
