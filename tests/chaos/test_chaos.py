# SPDX-License-Identifier: Apache-2.0
"""The chaos scenarios (docs/design.md, "Scenarios"), each repeated, each followed by the
invariants of docs/design.md; figures only, no timing assertions. Hard-kill kinds run CHAOS_REPEAT times (default
10), the others CHAOS_REPEAT_OTHER (default 3), the large dataset CHAOS_REPEAT_LARGE (default 2), the
soak once (CHAOS_SOAK_SECONDS, default 600)."""
from __future__ import annotations

import time

import pytest

from tests.chaos import faults
from tests.chaos.runner import Fault, chaos_run, env_float, env_int, later
from tests.e2e.kube import wait_for

HARD = range(1, env_int("CHAOS_REPEAT", 10) + 1)
OTHER = range(1, env_int("CHAOS_REPEAT_OTHER", 3) + 1)
LARGE = range(1, env_int("CHAOS_REPEAT_LARGE", 2) + 1)


@pytest.fixture
def rel(target, request):
    """The profile's release; a scenario the profile skips is skipped with its reason."""
    scenario = request.node.originalname.removeprefix("test_")
    reason = target.profile.skip.get(scenario)
    if reason:
        pytest.skip(f"profile {target.profile.name}: {reason}")
    faults.heal_all(target)
    return target


def master_pod(rel) -> tuple[str, str]:
    host = rel.master_host()
    return host, rel.pod_of(host)


def rejoined_as_replica(rel, old: str):
    """check(): the old master is a replica of the final master now."""
    def check(entry):
        if not entry["elections"]["switches"]:
            raise AssertionError(f"no failover happened during the fault ({entry['elections']['tilt']} Sentinel TILT entries; "
                                 f"a Sentinel in TILT acts on nothing for 30 s), so the old master never had to rejoin")
        st = rel.state()
        role = st["pods"].get(old, {}).get("role")
        assert role == "slave", f"the old master {old} is {role!r} after the fault, not a replica"
    return check


def fresh_pods_and_a_write(rel, since_delta: float = 0.0):
    """until(): every Redis pod was re-created after the fault, all Ready, and a write was acknowledged since."""
    def make(olds, at):
        state = {"ready_at": None}

        def done(records):
            if state["ready_at"] is None:
                pods = rel.pods()
                fresh = len(pods) == rel.replicas and all(
                    p.metadata.deletion_timestamp is None and p.metadata.creation_timestamp.timestamp() >= at - 1 + since_delta
                    and any(c.type == "Ready" and c.status == "True" for c in p.status.conditions or []) for p in pods)
                if fresh:
                    state["ready_at"] = time.time()
                return False
            return any(r["ok"] and r["t"] >= state["ready_at"] for r in records)
        return done
    return make


def written_for(extra: float):
    """until(): at least `extra` seconds of writes after the fault and a write acknowledged in the last 2 s."""
    def make(olds, at):
        return lambda records: time.time() >= at + extra and any(r["ok"] and r["t"] >= time.time() - 2 for r in records)
    return make


def seed_keys(rel, prefix: str, count: int = 1000) -> int:
    """COUNT small keys through Sentinel, acknowledged by every replica (WAIT replicas-1)."""
    out = rel.agent("bulk", prefix, str(count), "64", timeout=300)
    assert out["written"] == count, out
    assert out["replicas_acked"] == rel.replicas - 1, f"WAIT {rel.replicas - 1}: {out}"
    return count


# ---- 1. hard kills -------------------------------------------------------------------------
@pytest.mark.parametrize("n", HARD)
def test_process_kill(rel, report, n):
    """SIGKILL of the master's redis-server from its node (the pod and its IP stay)."""
    def action():
        old, pod = master_pod(rel)
        at = time.time()
        node, pid = faults.signal(rel, pod, rel.redis_container, "KILL")
        return Fault(old, at, extra={"node": node, "pid": pid})
    entry = chaos_run(rel, report, "process-kill", action)
    assert entry["master_changed"] and entry["elections"]["switches"] >= 1, entry["elections"]


@pytest.mark.parametrize("n", HARD)
def test_pod_kill(rel, report, n):
    """Force-delete of the master pod (grace 0); getaddrinfo of its FQDN timed from a Sentinel."""
    def action():
        old, pod = master_pod(rel)
        probe = None
        if rel.profile.dns_probe:
            probers = [rel.sentinel_pod(i) for i in range(rel.sentinels) if rel.sentinel_pod(i) != pod]
            probe = faults.DnsProbe(rel, probers[0], old, seconds=env_float("CHAOS_DNS_SECONDS", 15))
            probe.start()
            time.sleep(1.5)
        at = time.time()
        rel.core.delete_namespaced_pod(pod, rel.namespace, grace_period_seconds=0)
        return Fault(old, at, dns=probe)
    entry = chaos_run(rel, report, "pod-kill", action)
    assert entry["master_changed"] and entry["elections"]["switches"] >= 1, entry["elections"]
    if rel.profile.dns_probe:
        assert entry["dns"]["lookups"] > 10 and not entry["dns"]["error"], entry["dns"]


@pytest.mark.parametrize("n", HARD)
def test_node_stop(rel, report, n):
    """`docker stop` of the master's kind node, `docker start` after CHAOS_NODE_DOWN_SECONDS."""
    down = env_float("CHAOS_NODE_DOWN_SECONDS", 20)

    def action():
        old, pod = master_pod(rel)
        node = faults.node_of(rel, pod)
        client_node = faults.node_of(rel, rel.client_pod)
        assert node != client_node, f"the client pod shares node {node} with the master"
        on_node = sorted(p.metadata.name for p in rel.core.list_namespaced_pod(rel.namespace).items if p.spec.node_name == node)
        at = time.time()
        faults.stop_node(node)
        return Fault(old, at, background=[later(down, faults.start_node, rel, node)], extra={"node": node, "pods_on_node": on_node})
    entry = chaos_run(rel, report, "node-stop", action, seconds=max(env_float("CHAOS_WRITE_SECONDS", 20), down + 10))
    assert entry["master_changed"], entry["elections"]


@pytest.mark.parametrize("n", HARD)
def test_freeze(rel, report, n):
    """SIGSTOP of the master's redis-server past down-after, then SIGCONT: it comes back as a
    replica and no write WAIT-acknowledged by the new master is lost."""
    hold = env_float("CHAOS_FREEZE_SECONDS", 10)
    holder = {}

    def action():
        old, pod = master_pod(rel)
        holder["old"] = old
        at = time.time()
        faults.signal(rel, pod, rel.redis_container, "STOP")
        return Fault(old, at, background=[later(hold, faults.signal, rel, pod, rel.redis_container, "CONT")], extra={"frozen_s": hold})
    entry = chaos_run(rel, report, "freeze", action, seconds=max(env_float("CHAOS_WRITE_SECONDS", 20), hold + 8),
                      check=lambda e: rejoined_as_replica(rel, holder["old"])(e))
    assert entry["master_changed"]


@pytest.mark.parametrize("n", HARD)
def test_partition(rel, report, n):
    """A deny-all NetworkPolicy on the master pod (and its tracked connections flushed) for
    CHAOS_PARTITION_SECONDS; healed, the old master rejoins as a replica."""
    hold = env_float("CHAOS_PARTITION_SECONDS", 15)
    holder = {}

    def action():
        old, pod = master_pod(rel)
        holder["old"] = old
        at = time.time()
        name = faults.partition(rel, pod)
        return Fault(old, at, background=[later(hold, faults.heal, rel, name)], extra={"partitioned_s": hold, "policy": name})
    entry = chaos_run(rel, report, "partition", action, seconds=max(env_float("CHAOS_WRITE_SECONDS", 20), hold + 8),
                      check=lambda e: rejoined_as_replica(rel, holder["old"])(e))
    assert entry["master_changed"]


# ---- 2. planned --------------------------------------------------------------------------
@pytest.mark.parametrize("n", OTHER)
def test_graceful_delete(rel, report, n):
    """Delete of the master pod with its grace period: preStop hands over first."""
    def action():
        old, pod = master_pod(rel)
        at = time.time()
        rel.core.delete_namespaced_pod(pod, rel.namespace)
        return Fault(old, at)
    entry = chaos_run(rel, report, "graceful-delete", action)
    assert entry["master_changed"]


@pytest.mark.parametrize("n", OTHER)
def test_rollout_restart(rel, report, n):
    """`kubectl rollout restart` of the Redis StatefulSet under writes."""
    sts = rel.layout.fmt(rel.layout.redis_statefulset)

    def action():
        old, _ = master_pod(rel)
        at = time.time()
        faults.kubectl("rollout", "restart", f"statefulset/{sts}", "-n", rel.namespace)
        return Fault(old, at, extra={"statefulset": sts})
    chaos_run(rel, report, "rollout-restart", action, until=fresh_pods_and_a_write(rel), expect_new_master=False)


# ---- 3. everything at once -----------------------------------------------------------------
@pytest.mark.parametrize("n", OTHER)
def test_delete_all_redis_pods(rel, report, n):
    """Every Redis pod deleted at once (their grace period): one master again, no WAIT-acknowledged write lost."""
    def action():
        old, _ = master_pod(rel)
        at = time.time()
        for p in rel.pods():
            rel.core.delete_namespaced_pod(p.metadata.name, rel.namespace)
        return Fault(old, at)
    chaos_run(rel, report, "delete-all-redis-pods", action, until=fresh_pods_and_a_write(rel), expect_new_master=False)


@pytest.mark.parametrize("n", OTHER)
def test_kill_all_sentinels(rel, report, n):
    """SIGKILL of every Sentinel process at once (from the nodes); the master keeps taking writes."""
    assert rel.sentinels >= 1, "no Sentinel in this layout"

    suffix = "/" + rel.sentinel_container
    before = {}

    def action():
        old, _ = master_pod(rel)
        before.update({k: v for k, v in faults.restart_counts(rel).items() if k.endswith(suffix)})
        at = time.time()
        killed = [faults.signal(rel, rel.sentinel_pod(i), rel.sentinel_container, "KILL") for i in range(rel.sentinels)]
        return Fault(old, at, extra={"killed": [f"{node}:{pid}" for node, pid in killed]})

    def restarted(olds, at):
        def done(records):
            if time.time() < at + 10:
                return False
            counts = {k: v for k, v in faults.restart_counts(rel).items() if k.endswith(suffix)}
            return len(counts) == rel.sentinels and all(v[1] > before.get(k, (None, -1))[1] for k, v in counts.items()) and \
                any(r["ok"] and r["t"] >= time.time() - 2 for r in records)
        return done
    chaos_run(rel, report, "kill-all-sentinels", action, until=restarted, expect_new_master=False)


# ---- 4. volumes and scale ----------------------------------------------------------------
@pytest.mark.parametrize("n", OTHER)
def test_scale_to_zero_and_back(rel, report, n):
    """The Redis StatefulSet scaled to 0 and back under writes; N keys written with WAIT first survive."""
    sts = rel.layout.fmt(rel.layout.redis_statefulset)
    prefix = f"scale{n}-{int(time.time())}"
    count = seed_keys(rel, prefix)

    def scale_back():
        wait_for("Redis pods gone", lambda: not rel.pods(), 600, 2)
        faults.kubectl("scale", f"statefulset/{sts}", "-n", rel.namespace, f"--replicas={rel.replicas}")

    def action():
        old, _ = master_pod(rel)
        at = time.time()
        faults.kubectl("scale", f"statefulset/{sts}", "-n", rel.namespace, "--replicas=0")
        return Fault(old, at, background=[later(0, scale_back)])

    def check(entry):
        kept = rel.agent("count", prefix, timeout=300)
        entry["seeded_keys"], entry["seeded_kept"] = count, kept
        assert kept == count, f"{count - kept} of {count} WAIT-acknowledged keys lost"
    chaos_run(rel, report, "scale-zero-and-back", action, until=fresh_pods_and_a_write(rel), expect_new_master=False, check=check)


@pytest.mark.parametrize("n", OTHER)
def test_pvc_loss(rel, report, n):
    """Pod 0's PVC deleted while the others keep theirs, then every Redis pod deleted: pod 0
    starts empty and the data (N keys written with WAIT first) survives."""
    prefix = f"pvc{n}-{int(time.time())}"
    count = seed_keys(rel, prefix)
    pod0 = rel.core.read_namespaced_pod(rel.pod(0), rel.namespace)
    claims = [v.persistent_volume_claim.claim_name for v in pod0.spec.volumes or [] if v.persistent_volume_claim]
    assert claims, f"{rel.pod(0)} has no PersistentVolumeClaim"
    old_uid = rel.core.read_namespaced_persistent_volume_claim(claims[0], rel.namespace).metadata.uid

    def action():
        old, _ = master_pod(rel)
        at = time.time()
        rel.core.delete_namespaced_persistent_volume_claim(claims[0], rel.namespace)
        for p in rel.pods():
            rel.core.delete_namespaced_pod(p.metadata.name, rel.namespace)
        return Fault(old, at, extra={"deleted_claim": claims[0]})

    def check(entry):
        new_uid = rel.core.read_namespaced_persistent_volume_claim(claims[0], rel.namespace).metadata.uid
        assert new_uid != old_uid, f"{claims[0]} was not replaced"
        kept = rel.agent("count", prefix, timeout=300)
        entry["seeded_keys"], entry["seeded_kept"] = count, kept
        assert kept == count, f"{count - kept} of {count} WAIT-acknowledged keys lost with pod 0's volume"
    chaos_run(rel, report, "pvc-loss", action, until=fresh_pods_and_a_write(rel), expect_new_master=False, check=check)


# ---- 9. large dataset ----------------------------------------------------------------------
@pytest.mark.parametrize("n", LARGE)
def test_large_dataset_master_kill(rel, report, n):
    """CHAOS_LARGE_MB (default 1024) of data, then a force-delete of the master pod: the
    re-created pod loads and resyncs without any probe restarting a container."""
    mb = env_int("CHAOS_LARGE_MB", 1024)
    size = 100_000
    if n == 1 or rel.agent("count", "large", timeout=600) < mb * 1_000_000 // size:
        filled = rel.agent("bulk", "large", str(mb * 1_000_000 // size), str(size), timeout=3600)
        assert filled["replicas_acked"] == rel.replicas - 1, filled
    else:
        filled = {"written": "kept from the previous run"}
    info = rel.agent("cmd", str(rel.ordinal(rel.master_host())), str(rel.layout.redis_port), "INFO", "memory")
    used = next((line.split(":", 1)[1].strip() for line in str(info).splitlines() if line.startswith("used_memory_human:")), None)
    before = faults.restart_counts(rel)

    def action():
        old, pod = master_pod(rel)
        at = time.time()
        rel.core.delete_namespaced_pod(pod, rel.namespace, grace_period_seconds=0)
        return Fault(old, at, extra={"dataset_mb": mb, "used_memory": used, "fill": filled})

    def check(entry):
        after = faults.restart_counts(rel)
        restarted = sorted(k for k, (uid, count) in after.items()
                           if (k in before and before[k][0] == uid and count != before[k][1]) or
                           ((k not in before or before[k][0] != uid) and count != 0))
        entry["restart_counts_before"], entry["restart_counts_after"] = before, after
        assert restarted == [], f"containers restarted while loading/syncing: {restarted}"
    chaos_run(rel, report, "large-dataset-master-kill", action, settle_timeout=1800, check=check)
    if n == LARGE[-1]:
        master = rel.master_host()
        rel.agent("cmd", str(rel.ordinal(master)), str(rel.layout.redis_port), "FLUSHALL")


# ---- 5. soak -----------------------------------------------------------------------------
def test_soak_under_cpu_stress(rel, report):
    """CHAOS_SOAK_SECONDS (default 600) of writes at full rate while the master's node has every
    CPU saturated by bounded busy loops: slow is allowed, a failover is not (no +odown, no
    +switch-master), and no acknowledged write is lost."""
    seconds = env_float("CHAOS_SOAK_SECONDS", 600)

    def action():
        old, pod = master_pod(rel)
        node = faults.node_of(rel, pod)
        at = time.time()
        faults.stress_cpus(rel, node, seconds)
        return Fault(old, at, extra={"node": node, "stress_s": seconds})

    def no_failover(entry):
        odown = sum(e["event"] == "+odown" for e in entry["events"])
        assert entry["elections"]["switches"] == 0 and odown == 0, \
            f"a failover under CPU load alone: {odown} +odown, {entry['elections']}"

    try:
        chaos_run(rel, report, "soak-cpu-stress", action, seconds=seconds, until=written_for(seconds),
                  expect_new_master=False, check=no_failover)
    finally:
        faults.stop_stress(rel)
