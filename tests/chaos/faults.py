# SPDX-License-Identifier: Apache-2.0
"""Fault injection on a kind cluster. Process-level faults run from the kind node (`docker exec
<node> ...`): the container's main process is found with crictl and signalled from the node's
PID namespace, where PID 1 of a container is an ordinary process (a container cannot SIGKILL its
own PID 1). Node faults stop and start the kind worker container. A partition is a deny-all
NetworkPolicy on the pod plus a conntrack flush, so established connections are cut too
(kube-router accepts ESTABLISHED traffic before it looks at policies)."""
from __future__ import annotations

import json
import os
import subprocess
import threading

from kubernetes import client
from kubernetes.client.rest import ApiException

from tests.e2e.kube import Release, wait_for

DOCKER = os.environ.get("DOCKER", "docker")


def docker(*args: str, timeout: float = 120, check: bool = True) -> str:
    proc = subprocess.run([DOCKER, *args], capture_output=True, text=True, timeout=timeout, check=False)
    if check and proc.returncode != 0:
        raise AssertionError(f"docker {' '.join(args)} failed ({proc.returncode}): {proc.stderr.strip()}")
    return proc.stdout


def kubectl(*args: str, timeout: float = 600) -> str:
    proc = subprocess.run(["kubectl", *args], capture_output=True, text=True, timeout=timeout, check=False)
    assert proc.returncode == 0, f"kubectl {' '.join(args)}: {proc.stderr}"
    return proc.stdout


def pod(rel: Release, name: str) -> client.V1Pod:
    return rel.core.read_namespaced_pod(name, rel.namespace)


def node_of(rel: Release, pod_name: str) -> str:
    """The kind node (= its Docker container's name) a pod runs on."""
    return pod(rel, pod_name).spec.node_name


def container_pid(rel: Release, pod_name: str, container: str) -> tuple[str, int]:
    """(node, host PID of the container's main process), read with crictl on the node."""
    p = pod(rel, pod_name)
    status = next(s for s in p.status.container_statuses if s.name == container)
    assert status.container_id, f"{pod_name}/{container} has no container id yet"
    cid = status.container_id.split("://", 1)[1]
    info = json.loads(docker("exec", p.spec.node_name, "crictl", "inspect", cid))
    return p.spec.node_name, int(info["info"]["pid"])


def signal(rel: Release, pod_name: str, container: str, sig: str) -> tuple[str, int]:
    node, pid = container_pid(rel, pod_name, container)
    docker("exec", node, "kill", f"-{sig}", str(pid))
    return node, pid


def restart_counts(rel: Release) -> dict[str, tuple[str, int]]:
    """pod/container -> (pod uid, restartCount) for every pod of the release."""
    out = {}
    for p in rel.pods() + ([] if rel.is_colocated else rel.sentinel_pods()):
        for s in p.status.container_statuses or []:
            out[f"{p.metadata.name}/{s.name}"] = (p.metadata.uid, s.restart_count)
    return out


def worker_nodes(rel: Release) -> list[str]:
    return [n.metadata.name for n in rel.core.list_node().items
            if "node-role.kubernetes.io/control-plane" not in (n.metadata.labels or {})]


def node_ready(rel: Release, node: str) -> bool:
    n = rel.core.read_node(node)
    return any(c.type == "Ready" and c.status == "True" for c in n.status.conditions or [])


def node_addresses(node: str) -> dict[str, tuple[str, str]]:
    """network -> (IPv4, IPv6) of a kind node container."""
    nets = json.loads(docker("inspect", node, "--format", "{{json .NetworkSettings.Networks}}"))
    return {name: (n.get("IPAddress") or "", n.get("GlobalIPv6Address") or "") for name, n in nets.items()}


_addresses: dict[str, dict] = {}


def stop_node(node: str) -> None:
    """`docker stop` the kind node with no grace (CHAOS_NODE_STOP_GRACE, default 0): its
    processes die with it, as on power loss. Its addresses are kept for start_node."""
    _addresses[node] = node_addresses(node)
    docker("stop", "--time", os.environ.get("CHAOS_NODE_STOP_GRACE", "0"), node, timeout=180)


def start_node(rel: Release, node: str, timeout: float = 600) -> None:
    """`docker start` the node; should Docker hand it another address (the kubelet and the CNI
    were set up with the old one), it is stopped, reconnected with its old addresses and started
    again. Then waits for the node to be Ready."""
    docker("start", node, timeout=180)
    before = _addresses.get(node)
    if before and node_addresses(node) != before:
        docker("stop", "--time", "0", node, timeout=180)
        for net, (ip4, ip6) in before.items():
            docker("network", "disconnect", "--force", net, node, check=False)
            docker("network", "connect", *(["--ip", ip4] if ip4 else []), *(["--ip6", ip6] if ip6 else []), net, node)
        docker("start", node, timeout=180)
        assert node_addresses(node) == before, f"node {node} came back with {node_addresses(node)}, not {before}"
    wait_for(f"node {node} Ready again", lambda: node_ready(rel, node), timeout, 3)


def conntrack_flush(rel: Release, ip: str) -> None:
    """Forget every tracked connection from or to `ip` on every node, so packets of established
    connections meet the policy chains again (deleting none is fine: exit 1)."""
    for node in [n.metadata.name for n in rel.core.list_node().items]:
        for flag in ("-s", "-d"):
            docker("exec", node, "conntrack", "-D", flag, ip, check=False)


def partition(rel: Release, pod_name: str) -> str:
    """Cuts a pod off from everything: a NetworkPolicy selecting it by its StatefulSet pod-name
    label with Ingress and Egress and no rule (the release must have no other policy allowing
    traffic to that pod: chaos profiles turn the chart's NetworkPolicy off), then a conntrack flush."""
    name = f"chaos-partition-{pod_name}"
    policy = client.V1NetworkPolicy(
        metadata=client.V1ObjectMeta(name=name, labels={"chaos": "partition"}),
        spec=client.V1NetworkPolicySpec(
            pod_selector=client.V1LabelSelector(match_labels={"statefulset.kubernetes.io/pod-name": pod_name}),
            policy_types=["Ingress", "Egress"], ingress=[], egress=[]))
    client.NetworkingV1Api().create_namespaced_network_policy(rel.namespace, policy)
    ip = pod(rel, pod_name).status.pod_ip
    conntrack_flush(rel, ip)
    return name


def heal(rel: Release, name: str) -> None:
    try:
        client.NetworkingV1Api().delete_namespaced_network_policy(name, rel.namespace)
    except ApiException as exc:
        if exc.status != 404:
            raise


# One busy loop per CPU, each ended by `timeout` (bounded even if the harness dies); the marker
# in its command line lets stop_stress find them.
STRESS = 'for _ in $(seq "$(nproc)"); do timeout {seconds} sh -c ": chaos-cpu-stress; while :; do :; done" & done; wait'


def stress_cpus(rel: Release, node: str, seconds: float) -> None:
    """Saturates every CPU of a kind node for `seconds` (the node's CPUs are the host's: kind
    nodes share them, so this starves every pod, the Sentinels' timers included)."""
    docker("exec", "-d", node, "sh", "-c", STRESS.format(seconds=int(seconds)))


def stop_stress(rel: Release) -> None:
    for node in worker_nodes(rel):
        docker("exec", node, "pkill", "-f", "chaos-cpu-stress", check=False)


def heal_all(rel: Release) -> None:
    api = client.NetworkingV1Api()
    for np in api.list_namespaced_network_policy(rel.namespace, label_selector="chaos=partition").items:
        heal(rel, np.metadata.name)
    stop_stress(rel)


# getent ahosts in a loop, each lookup timed with date +%s%N: "<start ns> <end ns> <exit code>".
DNS_LOOP = ('end=$(( $(date +%s) + {seconds} )); while [ "$(date +%s)" -lt "$end" ]; do '
            's=$(date +%s%N); getent ahosts {fqdn} >/dev/null 2>&1; rc=$?; e=$(date +%s%N); '
            'echo "$s $e $rc"; sleep {pause}; done')


class DnsProbe(threading.Thread):
    """Times getaddrinfo (getent ahosts) for one FQDN from inside a Sentinel container, the
    lookups Sentinel makes on its only thread with resolve-hostnames yes."""

    def __init__(self, rel: Release, pod_name: str, fqdn: str, seconds: float = 15, pause: float = 0.1):
        super().__init__(daemon=True)
        self.rel, self.pod_name, self.fqdn, self.seconds, self.pause = rel, pod_name, fqdn, seconds, pause
        self.samples: list[tuple[float, float, int]] = []
        self.error = ""

    def run(self):
        script = DNS_LOOP.format(seconds=int(self.seconds), fqdn=self.fqdn, pause=self.pause)
        rc, out, err = self.rel.exec(self.pod_name, ["sh", "-c", script], container=self.rel.sentinel_container, timeout=self.seconds + 60)
        self.error = err if rc != 0 else ""
        for line in out.splitlines():
            parts = line.split()
            if len(parts) == 3 and all(p.lstrip("-").isdigit() for p in parts):
                self.samples.append((int(parts[0]) / 1e9, (int(parts[1]) - int(parts[0])) / 1e6, int(parts[2])))

    def summary(self, event_at: float) -> dict:
        """Lookup latency (ms) while the name resolved and while it did not (getent exit 2)."""
        def stats(values):
            values = sorted(values)
            if not values:
                return None
            pick = lambda q: values[min(len(values) - 1, int(q * len(values)))]  # noqa: E731
            return {"n": len(values), "p50_ms": round(pick(0.5), 1), "p95_ms": round(pick(0.95), 1), "max_ms": round(values[-1], 1)}
        failed = [s for s in self.samples if s[2] != 0]
        return {
            "from_pod": self.pod_name, "fqdn": self.fqdn, "lookups": len(self.samples),
            "resolved": stats([ms for _, ms, rc in self.samples if rc == 0]),
            "not_found": stats([ms for _, ms, rc in failed]),
            "unresolvable_from_s": round(failed[0][0] - event_at, 3) if failed else None,
            "unresolvable_to_s": round(failed[-1][0] - event_at, 3) if failed else None,
            "error": self.error[-300:],
        }
