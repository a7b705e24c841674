# SPDX-License-Identifier: Apache-2.0
"""Security on a real cluster: a restricted Pod Security namespace; a password with every
character shells and config parsers trip on works end to end (replication, hard-kill failover,
metrics, helm test) and never leaks to the data volume, a log, a command line or a ConfigMap
(each leak search first finds a planted copy, so a search that cannot see is caught); then the
three-step rotation of docs/security.md to another such password under writes, with a hard kill inside."""
from __future__ import annotations

import io
import json
import re
import secrets
import subprocess
import tarfile
import threading
import time

import pytest
from kubernetes import client
from kubernetes.client.rest import ApiException

from tests.e2e.kube import figures, helm, kill_master, run_with_writes, wait_for

NS = "e2e-security"
REL = "redis-ha"
# The unit and script tiers' test password: % # & $ ' " / \ and a space. The harness hands it to
# helm in a values file (yaml.safe_dump), which keeps it byte for byte, unlike --set.
PASSWORD = "p%a#s&s$w'o\"r/d\\ x"
NEEDLE = PASSWORD.encode()
VALUES = {"auth": {"password": PASSWORD}}
# What the rotation moves to, just as awkward.
NEW = "n3w %#&$'\"/\\ p4ss"
# A replica or Sentinel that could not log in: Redis' replication errors, probe and exporter output.
# Authentication failures in logs and probe events; "exporter-auth" (a volume and container name
# the exporters log) is not one.
AUTH_ERROR = re.compile(r"NOAUTH|WRONGPASS|(?<![-/])\bauth", re.I)
# Every process's argv in a container, NUL-separated as the kernel keeps it; no ps needed.
READ_CMDLINES = 'for f in /proc/[0-9]*/cmdline; do cat "$f" 2>/dev/null; echo; done'
# A process whose argv holds the password (read from the mounted Secret, so it is in no exec's argv).
PLANT_CMDLINE = 'sh -c "sleep 3; :" "$(cat /secrets/password)" & sleep 1; '


@pytest.fixture(scope="module")
def rel(make_release):
    return make_release(REL, NS, VALUES)


@pytest.fixture(scope="module")
def last_words() -> dict[str, str]:
    """Logs of pods read just before they were killed (a deleted pod's logs go with it)."""
    return {}


def chart_pods(rel) -> list[client.V1Pod]:
    """Every pod of the release: the StatefulSet's and any helm test pod still around."""
    return rel.core.list_namespaced_pod(rel.namespace, label_selector=f"app.kubernetes.io/instance={rel.name}").items


def logs(rel, pods: list[client.V1Pod]) -> dict[str, str]:
    """Current and previous logs of every container of `pods`, keyed pod/container[/previous]."""
    out = {}
    for p in pods:
        for c in (p.spec.init_containers or []) + p.spec.containers:
            for previous in (False, True):
                try:
                    text = rel.core.read_namespaced_pod_log(p.metadata.name, rel.namespace, container=c.name, previous=previous)
                except ApiException as exc:
                    if previous and exc.status == 400:  # no earlier instance of this container
                        continue
                    raise
                out[f"{p.metadata.name}/{c.name}{'/previous' if previous else ''}"] = text
    return out


def files(rel, pod: str, *dirs: str) -> dict[str, bytes]:
    """Every regular file under `dirs` of the pod's redis container, byte for byte (tar through kubectl)."""
    proc = subprocess.run(["kubectl", "exec", "-n", rel.namespace, pod, "-c", "redis", "--", "tar", "cf", "-", "-C", "/", *dirs],
                          capture_output=True, timeout=300, check=False)
    # tar exits 1 when a file changed while it was read (the AOF grows); that file is still archived.
    assert proc.returncode in (0, 1), f"tar in {pod}: {proc.stderr.decode(errors='replace')}"
    with tarfile.open(fileobj=io.BytesIO(proc.stdout)) as tar:
        return {m.name: tar.extractfile(m).read() for m in tar if m.isfile()}


def cmdlines(rel, pod: str, container: str, plant: bool = False) -> str:
    script = f"{PLANT_CMDLINE}{READ_CMDLINES}; wait" if plant else READ_CMDLINES
    rc, out, err = rel.exec(pod, ["sh", "-c", script], container=container)
    assert rc == 0, f"reading /proc/*/cmdline in {pod}/{container}: {err}"
    return out


def holding(texts: dict[str, str | bytes], needle: bytes = NEEDLE) -> list[str]:
    """Names of the texts that contain `needle`."""
    return sorted(name for name, text in texts.items() if needle in (text if isinstance(text, bytes) else text.encode()))


def configmaps(rel) -> dict[str, str]:
    """Every value of every ConfigMap in the namespace (binaryData decoded by the client)."""
    out = {}
    for cm in rel.core.list_namespaced_config_map(rel.namespace).items:
        for key, value in (cm.data or {}).items():
            out[f"{cm.metadata.name}/{key}"] = value
        for key, value in (cm.binary_data or {}).items():
            out[f"{cm.metadata.name}/{key}"] = value
    return out


def hosts(rel, port: int) -> list[str]:
    """The servers behind a port: Redis and its exporter on the Redis pods, Sentinel and its
    exporter on the Sentinel pods (their own StatefulSet by default)."""
    if port in (6379, 9121):
        return [rel.host(i) for i in range(rel.replicas)]
    return [rel.sentinel_host(i) for i in range(rel.sentinels)]


def auth(rel, host: str, port: int, password: str) -> str:
    """redis-cli's reply to AUTH on a server, from a fresh connection (the argv is the client pod's)."""
    rc, out, err = rel.exec(rel.client_pod, ["redis-cli", "-h", host, "-p", str(port), "AUTH", password])
    return (out + err).strip()


def cli(rel, pod: int, port: int, *args: str):
    return rel.agent("cmd", str(pod), str(port), *args)


def ordinal(host: str) -> int:
    return int(host.split(".")[0].rsplit("-", 1)[1])


def persist(rel, pod: int) -> None:
    """A fresh RDB snapshot and a rewritten AOF on a pod: BGSAVE, then BGREWRITEAOF, each waited
    for by its INFO counter (either may be scheduled behind a save already running)."""
    for command, done in ((["BGSAVE", "SCHEDULE"], "rdb_saves"), (["BGREWRITEAOF"], "aof_rewrites")):
        def count() -> int:
            info = cli(rel, pod, 6379, "INFO", "persistence")
            assert isinstance(info, str), f"INFO persistence on pod {pod}: {info}"  # a timeout is retried below
            return int(re.search(rf"^{done}:(\d+)", info, re.M)[1])
        before = wait_for(f"INFO persistence on pod {pod}", lambda: count() + 1, 60) - 1
        reply = cli(rel, pod, 6379, *command)
        assert isinstance(reply, str) and "Background" in reply, f"pod {pod} {command}: {reply}"
        wait_for(f"{command[0]} on pod {pod}", lambda: count() > before, 120)


class TestRestrictedNamespace:
    def test_namespace_rejects_a_pod_that_is_not_restricted(self, rel):
        """The e2e namespace enforces pod-security restricted: a bare pod is refused there, so
        the chart's running pods (and the harness' client) are proven to comply."""
        ns = rel.core.read_namespace(NS)
        assert ns.metadata.labels.get("pod-security.kubernetes.io/enforce") == "restricted"
        bare = client.V1Pod(metadata=client.V1ObjectMeta(name="not-restricted"), spec=client.V1PodSpec(
            containers=[client.V1Container(name="c", image=rel.pods()[0].spec.containers[0].image, command=["true"])]))
        with pytest.raises(ApiException) as exc:
            rel.core.create_namespaced_pod(NS, bare, dry_run="All")
        assert exc.value.status == 403 and 'violates PodSecurity "restricted' in json.loads(exc.value.body)["message"]
        assert len(rel.pods()) == rel.replicas


class TestSpecialCharacterPassword:
    def test_secret_holds_the_password_byte_for_byte(self, rel):
        """auth.password from a values file reaches the Secret (and the client) unchanged."""
        rc, out, err = rel.exec(rel.client_pod, ["cat", "/secrets/password"])
        assert rc == 0, err
        assert out == PASSWORD

    @pytest.mark.parametrize("port", [6379, 26379])
    def test_only_the_whole_password_is_accepted(self, rel, port):
        """The servers hold the whole password, not one cut at the space or the backslash."""
        assert len(hosts(rel, port)) == 3
        for host in hosts(rel, port):
            assert auth(rel, host, port, PASSWORD) == "OK", f"{host}:{port}"
            for cut in (PASSWORD.split(" ")[0], PASSWORD.split("\\")[0]):
                reply = auth(rel, host, port, cut)
                assert reply.startswith("WRONGPASS"), f"{host}:{port} AUTH {cut!r}: {reply}"

    def test_replication_from_the_master_to_every_replica(self, rel):
        """A write on the master is read back on every replica (masterauth works)."""
        master = ordinal(rel.invariants())
        value = secrets.token_hex(8)
        assert cli(rel, master, 6379, "SET", "sec:replicated", value) == "OK"
        assert cli(rel, master, 6379, "WAIT", str(rel.replicas - 1), "5000") == rel.replicas - 1
        for i in range(rel.replicas):
            if i != master:
                assert cli(rel, i, 6379, "ROLE")[0] == "slave"
                assert cli(rel, i, 6379, "GET", "sec:replicated") == value, f"pod {i}"

    @pytest.mark.parametrize("port", [9121, 9355], ids=["metrics", "sentinel-metrics"])
    def test_every_exporter_reports_redis_up(self, rel, port):
        """Each pod's Redis and Sentinel exporters log in with the password: redis_up 1."""
        assert len(hosts(rel, port)) == 3
        for host in hosts(rel, port):
            out = rel.scrape(host, port)
            assert re.search(r"^redis_up 1$", out, re.M), f"{host}:{port}: {[line for line in out.splitlines() if line.startswith('redis_up')]}"

    def test_helm_test_passes(self, rel):
        """The helm test pod (scripts with REDISCLI_AUTH) writes and reads with the password."""
        assert "Succeeded" in helm("test", REL, "--namespace", NS, "--timeout", "5m")

    def test_hard_kill_failover_under_writes(self, rel, record, last_words):
        """A hard kill of the master with this password: a new master, no WAIT-acknowledged write lost."""
        def kill():
            master = rel.pod_of(rel.master_host())
            last_words.update(logs(rel, [rel.core.read_namespaced_pod(master, NS)]))
            return kill_master(rel, 0)

        figs = run_with_writes(rel, "security-hard-kill", record, kill)
        assert figs["new_master"] != figs["old_master"]
        assert figs["wait_acked"] > 10
        assert figs["wait_acked_lost"] == []
        assert figs["rto_s"] is not None


class TestNoPasswordLeaks:
    """Run after the failover, so restarted and killed instances are covered too."""

    def test_not_on_any_data_volume(self, rel):
        """Nothing under /data (RDB, AOF, any config rewrite) or the disk-backed /tmp holds the
        password, after BGSAVE and an AOF rewrite on every pod; a known value is found there."""
        master = ordinal(rel.invariants())
        marker = f"mk{secrets.token_hex(4)}"  # short: RDB stores it uncompressed
        assert cli(rel, master, 6379, "SET", "sec:marker", marker) == "OK"
        assert cli(rel, master, 6379, "WAIT", str(rel.replicas - 1), "5000") == rel.replicas - 1
        for i in range(rel.replicas):
            persist(rel, i)
        pod0 = rel.pod_of(rel.host(0))
        rc, _, err = rel.exec(pod0, ["sh", "-c", "cat /secrets/password > /tmp/e2e-canary"], container="redis")
        assert rc == 0, err
        try:
            assert holding(files(rel, pod0, "tmp")) == ["tmp/e2e-canary"], "the search misses a planted copy"
        finally:
            rel.exec(pod0, ["rm", "-f", "/tmp/e2e-canary"], container="redis")
        for i in range(rel.replicas):
            found = files(rel, rel.pod_of(rel.host(i)), "data", "tmp")
            assert any(name.startswith("data/appendonlydir/") for name in found), sorted(found)
            assert holding(found, marker.encode()), f"pod {i}: the marker value is in none of {sorted(found)}"
            assert holding(found) == [], f"pod {i}: the password is on disk"

    def test_not_in_any_container_log(self, rel, last_words):
        """No log of any container (current, previous instances, the killed master's) holds it."""
        canary = logs(rel, [rel.core.read_namespaced_pod(rel.client_pod, NS)])
        # Written to the stdout of the client's PID 1 (so it is that container's log); the runtime
        # logs complete lines only, hence the newline.
        rc, _, err = rel.exec(rel.client_pod, ["sh", "-c", "{ cat /secrets/password; echo; } > /proc/1/fd/1"])
        assert rc == 0, err
        planted = wait_for("the planted log line", lambda: holding(logs(rel, [rel.core.read_namespaced_pod(rel.client_pod, NS)])) or None, 30)
        assert planted == [f"{rel.client_pod}/client"] and not holding(canary)
        assert last_words, "the failover test kept no logs of the killed master"
        seen = {**{f"killed:{k}": v for k, v in last_words.items()}, **logs(rel, chart_pods(rel))}
        assert any(name.endswith("/sentinel") for name in seen) and any(name.endswith("/metrics") for name in seen)
        assert holding(seen) == []

    def test_not_in_any_command_line(self, rel):
        """No process in any container has the password in its argv (/proc/*/cmdline)."""
        pod0 = rel.pod_of(rel.host(0))
        assert NEEDLE in cmdlines(rel, pod0, "redis", plant=True).encode(), "the search misses a planted process"
        for p in chart_pods(rel):
            for c in p.spec.containers:
                seen = cmdlines(rel, p.metadata.name, c.name)
                main = "prometheus-redis-exporter" if "metrics" in c.name else "role-label.sh" if c.name == "role-label" else "redis-"
                assert main in seen, f"{p.metadata.name}/{c.name}: no {main} process in {seen!r}"
                assert NEEDLE not in seen.encode(), f"{p.metadata.name}/{c.name}"

    def test_not_in_any_configmap(self, rel):
        """No ConfigMap of the namespace holds the password."""
        canary = client.V1ConfigMap(metadata=client.V1ObjectMeta(name="e2e-canary"), data={"planted": f"x{PASSWORD}x"})
        rel.core.create_namespaced_config_map(NS, canary)
        try:
            assert holding(configmaps(rel)) == ["e2e-canary/planted"], "the search misses a planted copy"
        finally:
            rel.core.delete_namespaced_config_map("e2e-canary", NS)
        seen = configmaps(rel)
        assert any(k.startswith(f"{REL}-config/") for k in seen) and any(k.startswith(f"{REL}-scripts/") for k in seen), sorted(seen)
        assert holding(seen) == []


class LogWatch(threading.Thread):
    """Reads every container log of the release every 2 s and keeps the latest text per pod
    instance, so the logs of pods a roll or a kill replaced are still there to check."""

    def __init__(self, rel):
        super().__init__(daemon=True)
        self.rel, self.seen, self.done = rel, {}, threading.Event()

    def run(self):
        while not self.done.wait(2):
            for p in chart_pods(self.rel):
                try:
                    texts = logs(self.rel, [p])
                except ApiException:  # a container not started yet
                    continue
                self.seen.update({f"{name}@{p.metadata.uid[:8]}": text for name, text in texts.items()})

    def auth_errors(self) -> list[str]:
        return [f"{name}: {line}" for name, text in sorted(self.seen.items()) for line in text.splitlines() if AUTH_ERROR.search(line)]


def probe_auth_errors(rel) -> list[str]:
    """Failed probes whose output complains about authentication (kubelet events)."""
    return [f"{e.involved_object.name}: {e.message}" for e in rel.core.list_namespaced_event(rel.namespace).items
            if e.reason == "Unhealthy" and AUTH_ERROR.search(e.message or "")]


class TestRotation:
    """docs/security.md "Rotating the password", run last on the same release: OLD is PASSWORD."""

    STEPS = (
        ("1-accept-new", {"password": PASSWORD, "acceptedPasswords": [NEW]}),
        ("2-switch", {"password": NEW, "acceptedPasswords": [PASSWORD]}),
        ("3-drop-old", {"password": NEW, "acceptedPasswords": []}),
    )

    def step(self, rel, watch: LogWatch, name: str, values: dict, report: dict) -> None:
        """One helm upgrade (rolls every pod with the preStop handover); then every replica's
        link is up, the Sentinels agree, and nothing logged an authentication failure."""
        started = time.time()
        rel.install({"auth": values}, action="upgrade")
        rel.wait_all_ready()
        rel.invariants()
        report[name] = {"from": started, "to": time.time(), "upgrade_s": round(time.time() - started, 1)}
        time.sleep(2)  # one more round of the log watch
        assert watch.auth_errors() == [], f"after step {name}"
        assert probe_auth_errors(rel) == [], f"after step {name}"

    def test_three_step_rotation_under_writes_with_a_hard_kill(self, rel, record):
        """Writes with OLD through steps 1-2, with NEW (as the client's Secret file turns to it)
        from before the kill to the end; the master is killed between steps 2 and 3. No
        authentication error anywhere, no WAIT-acknowledged write lost, OLD refused at the end."""
        watch = LogWatch(rel)
        watch.start()
        report: dict[str, dict] = {}
        old_writer = rel.start_writer("rot-old", 3600)
        new_writer = None
        try:
            time.sleep(3)
            for name, values in self.STEPS[:2]:
                self.step(rel, watch, name, values, report)
            # Applications move to NEW now; the client reads the Secret file the kubelet refreshes.
            wait_for("NEW in the client's Secret file", lambda: rel.exec(rel.client_pod, ["cat", "/secrets/password"])[1] == NEW, 300, 5)
            new_writer = rel.start_writer("rot-new", 3600)
            time.sleep(4)
            old_master, killed_at = kill_master(rel, 0)
            rel.wait_all_ready()
            failover_master = rel.invariants()
            time.sleep(3)
            old_writer.stop()
            self.step(rel, watch, *self.STEPS[2], report)
            time.sleep(3)
        finally:
            for w in (old_writer, new_writer):
                if w:
                    w.stop()
                    w.join(30)
            watch.done.set()
        assert old_writer.records and new_writer.records, f"{old_writer.error} {new_writer.error}"
        records = sorted(old_writer.records + new_writer.records, key=lambda r: r["t"])
        stored = rel.stored_keys("rot-old") | rel.stored_keys("rot-new")
        figs = figures(records, killed_at, stored, old_master)
        for r in report.values():  # the stall while each step rolled the pods
            start, end = r.pop("from"), r.pop("to")
            r["longest_stall_s"] = figures([x for x in records if start <= x["t"] <= end], start, stored)["longest_stall_s"]
        figs.update({"old_master": old_master, "new_master": failover_master, "steps": report,
                     "logs_checked": len(watch.seen)})
        record("security-rotation", figs, records)
        assert failover_master != old_master
        assert figs["rto_s"] is not None
        assert figs["wait_acked"] > 10 and figs["wait_acked_lost"] == []
        assert [r for r in new_writer.records if r["t"] > killed_at and r["ok"]], "no write with NEW after the kill"
        for port in (6379, 26379):
            for host in hosts(rel, port):
                assert auth(rel, host, port, NEW) == "OK", f"{host}:{port}"
                assert auth(rel, host, port, PASSWORD).startswith("WRONGPASS"), f"{host}:{port} still accepts OLD"
        for port in (9121, 9355):
            for host in hosts(rel, port):
                assert re.search(r"^redis_up 1$", rel.scrape(host, port), re.M), f"exporter {host}:{port} after the rotation"
