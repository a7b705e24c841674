# SPDX-License-Identifier: Apache-2.0
"""Migration from a running Redis (docs/operations.md, "Migrating from another chart") on a real
cluster: a plain single Redis pod (what another chart leaves running) takes writes; a release
installed with migration.enabled follows it; a cutover while a pod is out of sync is refused with
the pod named; the real cutover (helm upgrade) makes the release independent while the writer
still writes to the old master; the writer then switches to the release through Sentinel."""
from __future__ import annotations

import time
from datetime import datetime

import pytest
from kubernetes import client

from tests.e2e.kube import Layout, Release, helm, images, wait_for

NS = "e2e-migration"
REL = "redis-ha"
OLD = "old-redis"
OLD_PASSWORD = "old side's p@ss"
# The dataset the release syncs at install: KEYS values of VALUE_BYTES each.
KEYS, VALUE_BYTES = 50_000, 1000


def start_plain_redis(core, namespace: str) -> None:
    """Redis as another chart leaves it: one pod `old-redis-0` behind the headless Service
    `old-redis`, its password from the Secret `old-redis`."""
    labels = {"app": OLD}
    core.create_namespaced_service(namespace, client.V1Service(
        metadata=client.V1ObjectMeta(name=OLD),
        spec=client.V1ServiceSpec(cluster_ip="None", selector=labels, ports=[client.V1ServicePort(name="redis", port=6379)])))
    restricted = client.V1SecurityContext(run_as_user=999, run_as_non_root=True, allow_privilege_escalation=False,
                                          capabilities=client.V1Capabilities(drop=["ALL"]), seccomp_profile=client.V1SeccompProfile(type="RuntimeDefault"))
    core.create_namespaced_pod(namespace, client.V1Pod(
        metadata=client.V1ObjectMeta(name=f"{OLD}-0", labels=labels),
        spec=client.V1PodSpec(
            hostname=f"{OLD}-0", subdomain=OLD, termination_grace_period_seconds=1,
            security_context=client.V1PodSecurityContext(fs_group=999, run_as_user=999, run_as_group=999),
            containers=[client.V1Container(
                name="redis", image=images()["REDIS_IMAGE"], image_pull_policy="Never",
                command=["sh", "-c", 'exec redis-server --requirepass "$(cat /secrets/password)" --dir /data --save "" --appendonly no --protected-mode no'],
                security_context=restricted,
                volume_mounts=[client.V1VolumeMount(name="secret", mount_path="/secrets"), client.V1VolumeMount(name="data", mount_path="/data")])],
            volumes=[client.V1Volume(name="secret", secret=client.V1SecretVolumeSource(secret_name=OLD, default_mode=0o400)),
                     client.V1Volume(name="data", empty_dir=client.V1EmptyDirVolumeSource())])))
    wait_for("old Redis running", lambda: core.read_namespaced_pod(f"{OLD}-0", namespace).status.phase == "Running", 180)


def old_side(core, chart) -> Release:
    """The old Redis as the harness sees it: one pod, no Sentinel; its client pod writes to it."""
    layout = Layout(OLD, NS, 1, 0, False, redis_host="{pod}.{fullname}.{namespace}.svc.{domain}")
    old = Release(core, chart, OLD, NS, {}, layout=layout, password_secret=(OLD, "password"))
    old.start_client()
    wait_for("old Redis answers", lambda: old.agent("cmd", "0", "6379", "PING") == "PONG", 60)
    return old


SOURCE = {"host": f"{OLD}-0.{OLD}.{NS}.svc.cluster.local", "port": 6379, "existingSecret": OLD, "passwordKey": "password"}


@pytest.fixture(scope="module")
def migration(make_release, core, chart):
    """The old Redis with a dataset, and the release following it (installed while it is written to)."""
    state = {}

    def prepare():
        start_plain_redis(core, NS)
        state["old"] = old = old_side(core, chart)
        state["bulk"] = old.agent("bulk", "bulk", str(KEYS), str(VALUE_BYTES), timeout=300)
        state["dataset_bytes"] = old.agent("cmd", "0", "6379", "INFO", "memory")
        state["writer"] = old.start_writer("mig", 900)

    rel = make_release(REL, NS, {"migration": {"enabled": True, "source": SOURCE}}, secrets={OLD: {"password": OLD_PASSWORD}}, prepare=prepare)
    state["rel"] = rel
    state["sync_seconds"] = sync_seconds(rel)
    return state


def sync_seconds(rel: Release) -> list[float]:
    """Each Redis pod's initial sync from the old master, from its redis log: the first
    "Connecting to MASTER" to "MASTER <-> REPLICA sync: Finished with success"."""
    out = []
    for i in range(rel.replicas):
        log = rel.core.read_namespaced_pod_log(rel.pod(i), rel.namespace, container="redis")
        stamps = {}
        for line in log.splitlines():
            for key, marker in (("start", "Connecting to MASTER"), ("done", "sync: Finished with success")):
                if marker in line and key not in stamps:
                    stamps[key] = datetime.strptime(" ".join(line.split()[1:5]), "%d %b %Y %H:%M:%S.%f")
        out.append(round((stamps["done"] - stamps["start"]).total_seconds(), 2))
    return out


def used_memory(info) -> int:
    text = info.decode() if isinstance(info, bytes) else str(info)
    return int(next(line.split(":")[1] for line in text.splitlines() if line.startswith("used_memory:")))


class TestMigration:
    def test_every_pod_follows_the_old_master_and_no_sentinel_monitors(self, migration):
        """migration.enabled: each pod is a synced replica of the old master, no pod is master,
        no Sentinel names a master; the old master sees the release's pods as its replicas."""
        rel = migration["rel"]
        st = rel.state()
        for host, pod in st["pods"].items():
            rep = pod["replication"]
            assert (pod["role"], rep.get("master_host"), rep.get("master_link_status")) == ("slave", SOURCE["host"], "up"), f"{host}: {rep}"
        assert [s["master"] for s in st["sentinels"].values()] == [None] * rel.sentinels
        info = migration["old"].agent("cmd", "0", "6379", "INFO", "replication")
        assert f"connected_slaves:{rel.replicas}" in str(info)

    def test_cutover_is_refused_while_a_pod_is_out_of_sync(self, migration):
        """A pod whose link to the old master is down: the upgrade fails, the hook's message names
        the pod, and the release still follows the old master."""
        rel = migration["rel"]
        rel.agent("cmd", "2", "6379", "CONFIG", "SET", "masterauth", "wrong")
        rel.agent("cmd", "2", "6379", "CLIENT", "KILL", "TYPE", "master")
        with pytest.raises(AssertionError) as refused:
            rel.install({"migration": {"enabled": False, "source": SOURCE, "cutover": {"syncWaitSeconds": 5}}}, action="upgrade")
        message = str(refused.value)
        assert "cutover refused: not every pod is in sync" in message, message
        assert f"{rel.host(2)} has its link to the source down" in message, message
        rel.agent("cmd", "2", "6379", "CONFIG", "SET", "masterauth", OLD_PASSWORD)
        wait_for("pod 2 back in sync", lambda: "master_link_status:up" in str(rel.agent("cmd", "2", "6379", "INFO", "replication")), 60)
        assert all(p["role"] == "slave" for p in rel.state()["pods"].values())

    def test_cutover_keeps_every_acknowledged_write_and_the_writer_switches(self, migration, record):
        """helm upgrade with migration.enabled=false while the writer writes to the old master:
        the release gets its own master (Sentinel agrees), the writer switches to it through
        Sentinel, and every write the old master acknowledged before the upgrade is in the release."""
        rel, old_writer = migration["rel"], migration["writer"]
        wait_for("writes to the old master", lambda: sum(r["ok"] for r in old_writer.records) > 50, 60)
        started = time.time()
        rel.install({"migration": {"enabled": False, "source": SOURCE}}, action="upgrade")
        upgraded = time.time()
        # The application switches: the old writer stops, the Sentinel-aware one starts.
        old_writer.stop()
        old_writer.join(60)
        new_writer = rel.start_writer("switched", 120)
        wait_for("writes through Sentinel", lambda: sum(r["ok"] for r in new_writer.records) >= 50, 120)
        new_writer.stop()
        new_writer.join(60)
        master = rel.invariants()
        notes = helm("get", "notes", REL, "--namespace", NS)
        assert "MIGRATION CUT OVER" in notes and f"stop writing to {SOURCE['host']}:6379 and connect through Sentinel" in notes, notes
        stored = rel.stored_keys("mig")
        old_ok = [r for r in old_writer.records if r["ok"]]
        before = {r["k"] for r in old_ok if r["t"] + r["d"] < started}
        during = {r["k"] for r in old_ok if r["t"] + r["d"] >= started}
        new_ok = [r for r in new_writer.records if r["ok"]]
        switched = {r["k"] for r in new_ok}
        assert before and not before - stored, f"{len(before - stored)} writes acknowledged before the cutover are missing"
        assert not switched - rel.stored_keys("switched")
        assert rel.agent("count", "bulk") == KEYS
        last_old = max(r["t"] + r["d"] for r in old_ok)
        first_new = min(r["t"] + r["d"] for r in new_ok)
        figs = {
            "dataset_keys": KEYS, "dataset_value_bytes": VALUE_BYTES, "dataset_used_memory": used_memory(migration["dataset_bytes"]),
            "fill_seconds": migration["bulk"]["seconds"], "install_and_initial_sync_s": round(rel.install_seconds, 1),
            "initial_sync_s_per_pod": migration["sync_seconds"],
            "cutover_upgrade_s": round(upgraded - started, 1), "new_master": master,
            "acked_before_cutover": len(before), "acked_during_upgrade": len(during), "acked_during_upgrade_in_release": len(during & stored),
            # The write outage of the switch: the old writer's last acknowledged write to the new
            # writer's first, through Sentinel.
            "rto_s": round(first_new - last_old, 3), "longest_stall_s": round(first_new - last_old, 3),
            "failed": sum(not r["ok"] for r in old_writer.records + new_writer.records),
            "acknowledged": len(old_ok) + len(new_ok),
            "wait_acked_lost": sorted(before - stored), "async_acked_lost": 0,
        }
        record("migration-cutover", figs, old_writer.records + new_writer.records)
        print(f"\nmigration figures: {figs}")
