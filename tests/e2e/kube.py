# SPDX-License-Identifier: Apache-2.0
"""The e2e harness' view of a cluster: releases installed with the real helm, pods and Secrets
through the kubernetes client, Redis through redis-py inside a client pod (agent.py)."""
from __future__ import annotations

import json
import os
import subprocess
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import yaml
from kubernetes import client
from kubernetes.client.rest import ApiException
from kubernetes.stream import stream

from tests import polling

ROOT = Path(__file__).resolve().parents[2]
E2E_VALUES = ROOT / "ci" / "e2e" / "values-e2e.yaml"
IMAGES_ENV = ROOT / "ci" / "e2e" / "images.env"
AGENT = Path(__file__).with_name("agent.py")
ARTIFACTS = ROOT / "build" / "e2e-artifacts"


def images() -> dict[str, str]:
    out = {}
    for line in IMAGES_ENV.read_text().splitlines():
        if "=" in line and not line.startswith("#"):
            key, _, val = line.partition("=")
            out[key] = val.strip('"')
    return out


def helm(*args: str, timeout: float = 900) -> str:
    proc = subprocess.run(["helm", *args], capture_output=True, text=True, timeout=timeout, check=False)
    if proc.returncode != 0:
        raise AssertionError(f"helm {' '.join(args)} failed:\n{proc.stderr}\n{proc.stdout}")
    return proc.stdout


def wait_for(what: str, check, timeout: float = 120.0, interval: float = 1.0):
    return polling.wait_for(what, check, timeout, interval, (ApiException, AssertionError, KeyError, ValueError))


@dataclass
class Release:
    """One installed chart release and its client pod."""

    core: client.CoreV1Api
    chart: Path
    name: str
    namespace: str
    values: dict = field(default_factory=dict)
    replicas: int = 3

    @property
    def client_pod(self) -> str:
        return f"{self.name}-client"

    def host(self, i: int) -> str:
        return f"{self.name}-{i}.{self.name}-headless.{self.namespace}.svc.cluster.local"

    def pod_of(self, host: str) -> str:
        return host.split(".")[0]

    # ---- lifecycle -------------------------------------------------------------------
    def install(self, extra_values: dict | None = None, action: str = "install", chart: Path | None = None) -> float:
        values_file = ARTIFACTS / f"{self.namespace}-{self.name}-values.yaml"
        values_file.parent.mkdir(parents=True, exist_ok=True)
        merged = {**self.values, **(extra_values or {})}
        values_file.write_text(yaml.safe_dump(merged))
        started = time.monotonic()
        helm(action, self.name, str(chart or self.chart), "--namespace", self.namespace, "--create-namespace",
             "--values", str(E2E_VALUES), "--values", str(values_file), "--wait", "--timeout", "10m")
        return time.monotonic() - started

    def uninstall(self) -> None:
        subprocess.run(["helm", "uninstall", self.name, "--namespace", self.namespace, "--wait"], capture_output=True, check=False)

    def start_client(self, labels: dict | None = None, name: str | None = None) -> str:
        """A pod with python3 + redis-py and agent.py, allowed through the NetworkPolicy by default."""
        name = name or self.client_pod
        cm = client.V1ConfigMap(metadata=client.V1ObjectMeta(name=f"{self.name}-agent"), data={"agent.py": AGENT.read_text()})
        try:
            self.core.create_namespaced_config_map(self.namespace, cm)
        except ApiException as exc:
            if exc.status != 409:
                raise
            self.core.replace_namespaced_config_map(f"{self.name}-agent", self.namespace, cm)
        labels = {f"{self.name}-client": "true"} if labels is None else labels
        volumes = [client.V1Volume(name="agent", config_map=client.V1ConfigMapVolumeSource(name=f"{self.name}-agent"))]
        mounts = [client.V1VolumeMount(name="agent", mount_path="/agent")]
        env = {
            "REPLICAS": str(self.replicas),
            "HOST_TEMPLATE": f"{self.name}-%d.{self.name}-headless.{self.namespace}.svc.cluster.local",
            "SENTINEL_SERVICE": f"{self.name}.{self.namespace}.svc.cluster.local",
            "MASTER_SET": "mymaster",
            "PYTHONUNBUFFERED": "1",
        }
        if self.values.get("auth", {}).get("enabled", True):
            secret = self.values.get("auth", {}).get("existingSecret") or self.name
            volumes.append(client.V1Volume(name="secret", secret=client.V1SecretVolumeSource(secret_name=secret, default_mode=0o400)))
            mounts.append(client.V1VolumeMount(name="secret", mount_path="/secrets"))
            env["PASSWORD_FILE"] = "/secrets/password"
        acl = self.values.get("acl", {})
        if acl.get("enabled"):
            key = acl.get("users", {}).get("app", {}).get("passwordKey", "app-password")
            items = [client.V1KeyToPath(key=key, path="password")]
            volumes.append(client.V1Volume(name="app-secret", secret=client.V1SecretVolumeSource(secret_name=acl["existingSecret"], items=items, default_mode=0o400)))
            mounts.append(client.V1VolumeMount(name="app-secret", mount_path="/app-secret"))
            env.update({"APP_USER": acl.get("users", {}).get("app", {}).get("name", "app"), "APP_PASSWORD_FILE": "/app-secret/password"})
        tls = self.values.get("tls", {})
        if tls.get("enabled"):
            # The release's certificate Secret: its CA verifies the servers, its certificate is the
            # client certificate tls.authClients asks for.
            secret = tls.get("existingSecret") or f"{self.name}-tls"
            volumes.append(client.V1Volume(name="tls", secret=client.V1SecretVolumeSource(secret_name=secret, default_mode=0o400)))
            mounts.append(client.V1VolumeMount(name="tls", mount_path="/tls"))
            env.update({"TLS_CA_FILE": "/tls/ca.crt", "TLS_CERT_FILE": "/tls/tls.crt", "TLS_KEY_FILE": "/tls/tls.key"})
        pod = client.V1Pod(
            metadata=client.V1ObjectMeta(name=name, labels=labels),
            spec=client.V1PodSpec(
                termination_grace_period_seconds=1,
                # fsGroup makes the 0400 Secret file readable to uid 999 (it becomes 0440 root:999).
                security_context=client.V1PodSecurityContext(fs_group=999, run_as_user=999, run_as_group=999),
                containers=[client.V1Container(
                    name="client", image=images()["CLIENT_IMAGE"], image_pull_policy="Never",
                    command=["sleep", "infinity"], env=[client.V1EnvVar(name=k, value=v) for k, v in env.items()], volume_mounts=mounts,
                    security_context=client.V1SecurityContext(run_as_user=999, run_as_non_root=True, allow_privilege_escalation=False, capabilities=client.V1Capabilities(drop=["ALL"]), seccomp_profile=client.V1SeccompProfile(type="RuntimeDefault")),
                )],
                volumes=volumes,
            ),
        )
        try:
            self.core.create_namespaced_pod(self.namespace, pod)
        except ApiException as exc:
            if exc.status != 409:
                raise
        wait_for(f"pod {name} running", lambda: self.core.read_namespaced_pod(name, self.namespace).status.phase == "Running", 180)
        return name

    # ---- running things in pods -------------------------------------------------------
    def exec(self, pod: str, command: list[str], container: str | None = None, timeout: float = 120) -> tuple[int, str, str]:
        """Run `command` in a pod. When the container runtime fails to start the process at all
        (seen now and then with the offline cluster's runc wrapper), the command never ran, so it
        is started again, up to three times."""
        for attempt in range(3):
            try:
                return self._exec_once(pod, command, container, timeout)
            except ValueError as exc:  # the client could not parse a runtime error as an exit code
                failure = exc
                time.sleep(1)
        raise AssertionError(f"exec {command} in {pod} never started: {failure}")

    def _exec_once(self, pod: str, command: list[str], container: str | None, timeout: float) -> tuple[int, str, str]:
        resp = stream(self.core.connect_get_namespaced_pod_exec, pod, self.namespace, container=container, command=command,
                      stderr=True, stdin=False, stdout=True, tty=False, _preload_content=False)
        out, err = [], []
        deadline = time.monotonic() + timeout
        while resp.is_open() and time.monotonic() < deadline:
            resp.update(timeout=1)
            if resp.peek_stdout():
                out.append(resp.read_stdout())
            if resp.peek_stderr():
                err.append(resp.read_stderr())
        resp.close()
        rc = resp.returncode if resp.returncode is not None else -1
        return rc, "".join(out), "".join(err)

    def agent(self, *args: str, pod: str | None = None, timeout: float = 120):
        rc, out, err = self.exec(pod or self.client_pod, ["python3", "/agent/agent.py", *args], timeout=timeout)
        if rc != 0:
            raise AssertionError(f"agent {args} failed ({rc}): {err}{out}")
        return json.loads(out)

    def scrape(self, host: str, port: int) -> str:
        """The Prometheus text of an exporter, fetched from inside the cluster (the client pod)."""
        code = f"import urllib.request;print(urllib.request.urlopen('http://{host}:{port}/metrics',timeout=10).read().decode())"
        rc, out, err = self.exec(self.client_pod, ["python3", "-c", code])
        assert rc == 0, f"scrape {host}:{port}: {err}"
        return out

    def start_writer(self, prefix: str, seconds: float) -> "Writer":
        w = Writer(self, prefix, seconds)
        w.start()
        return w

    # ---- state ---------------------------------------------------------------------------
    def state(self) -> dict:
        return self.agent("state")

    def master_host(self) -> str:
        st = self.state()
        masters = [h for h, p in st["pods"].items() if p["role"] == "master"]
        if len(masters) != 1:
            raise AssertionError(f"expected one master, got {masters}")
        return masters[0]

    def invariants(self, timeout: float = 180) -> str:
        """DESIGN.md: one master; every Sentinel names it; CKQUORUM OK; N-1 sentinels and
        replicas known (no ghosts); every replica's link up. Returns the master's host."""
        n = self.replicas
        problems: list[str] = []

        def check():
            problems.clear()
            st = self.state()
            masters = [h for h, p in st["pods"].items() if p["role"] == "master"]
            if len(masters) != 1:
                problems.append(f"masters: {masters} roles: { {h: p['role'] for h, p in st['pods'].items()} }")
                return False
            master = masters[0]
            for host, s in st["sentinels"].items():
                if not isinstance(s["master"], list) or s["master"][0] != master:
                    problems.append(f"sentinel {host} names {s['master']}")
                if not str(s["ckquorum"]).startswith("OK"):
                    problems.append(f"sentinel {host} ckquorum {s['ckquorum']}")
                if s["sentinels"] != n - 1 or s["replicas"] != n - 1:
                    problems.append(f"sentinel {host} knows {s['sentinels']} sentinels / {s['replicas']} replicas")
            for host, p in st["pods"].items():
                if host != master and p["replication"].get("master_link_status") != "up":
                    problems.append(f"replica {host} link {p['replication'].get('master_link_status')}")
            return master if not problems else False

        try:
            return wait_for("invariants", check, timeout, 2)
        except AssertionError as exc:
            raise AssertionError(f"{exc}\nproblems: {problems}") from None

    def stored_keys(self, prefix: str) -> set[str]:
        return set(self.agent("keys", prefix))

    def pods(self) -> list[client.V1Pod]:
        sel = f"app.kubernetes.io/instance={self.name},app.kubernetes.io/component=server"
        return self.core.list_namespaced_pod(self.namespace, label_selector=sel).items

    def wait_all_ready(self, timeout: float = 600) -> None:
        def ready():
            pods = self.pods()
            return len(pods) == self.replicas and all(
                p.metadata.deletion_timestamp is None and p.status.conditions and any(c.type == "Ready" and c.status == "True" for c in p.status.conditions)
                for p in pods)
        wait_for("all pods ready", ready, timeout, 2)


class Writer(threading.Thread):
    """Streams agent.py write's JSON lines: the raw timeline of one scenario."""

    def __init__(self, release: Release, prefix: str, seconds: float):
        super().__init__(daemon=True)
        self.release, self.prefix, self.seconds = release, prefix, seconds
        self.records: list[dict] = []
        self.error = ""

    def stop(self) -> None:
        """Ends the writes before `seconds`: the agent checks for a stop file between writes and
        exits, which ends the stream with every write it made recorded."""
        rc, _, err = self.release.exec(self.release.client_pod, ["touch", f"/tmp/{self.prefix}.stop"])
        assert rc == 0, f"stopping writer {self.prefix}: {err}"

    def run(self):
        resp = stream(self.release.core.connect_get_namespaced_pod_exec, self.release.client_pod, self.release.namespace,
                      command=["python3", "/agent/agent.py", "write", self.prefix, str(self.seconds)],
                      stderr=True, stdin=False, stdout=True, tty=False, _preload_content=False)
        buf = ""
        while resp.is_open():
            resp.update(timeout=1)
            if resp.peek_stdout():
                buf += resp.read_stdout()
                *lines, buf = buf.split("\n")
                self.records.extend(json.loads(line) for line in lines if line.strip())
            if resp.peek_stderr():
                self.error += resp.read_stderr()
        resp.close()


def kill_master(rel: Release, grace: int | None) -> tuple[str, float]:
    """Deletes the master's pod (grace 0: a hard kill, None: the pod's own grace period, so
    preStop hands over). Returns (old master host, event time)."""
    master = rel.master_host()
    pod = rel.pod_of(master)
    at = time.time()
    rel.core.delete_namespaced_pod(pod, rel.namespace, grace_period_seconds=grace)
    return master, at


def run_with_writes(rel: Release, name: str, record, action, seconds: float = 30, lead: float = 4) -> dict:
    """Writes for `seconds` and on until a master other than the old one has acknowledged a write
    after the event (at most 300 s more: when the two surviving Sentinels split their votes, they
    retry only after 2 x failover-timeout); `action()` runs after `lead` seconds and returns (old
    master, event time). Waits for the pods and DESIGN.md's invariants, records and returns the figures."""
    started = time.monotonic()
    writer = rel.start_writer(name, seconds + 300)
    time.sleep(lead)
    old, at = action()

    def resumed() -> bool:
        return any(r["ok"] and r["t"] >= at and r.get("m") != old for r in list(writer.records))

    while writer.is_alive() and not (time.monotonic() - started >= seconds and resumed()):
        time.sleep(0.5)
    writer.stop()
    writer.join(120)
    assert not writer.is_alive(), "writer did not finish"
    assert writer.records, f"writer produced nothing: {writer.error}"
    rel.wait_all_ready()
    master = rel.invariants()
    figs = figures(writer.records, at, rel.stored_keys(name), old)
    figs.update({"old_master": old, "new_master": master})
    record(name, figs, writer.records)
    return figs


def figures(records: list[dict], event_at: float, stored: set[str], old_master: str | None = None) -> dict:
    """RTO, stall and loss figures of a write timeline around one event (a kill or a delete).
    RTO runs from the event to the first write acknowledged by a master other than the old one."""
    ok = [r for r in records if r["ok"]]
    after = [r for r in ok if r["t"] >= event_at and (old_master is None or r.get("m") != old_master)]
    first_ok_after = min((r["t"] + r["d"] for r in after), default=None)
    times = sorted(r["t"] + r["d"] for r in ok)
    stall = max((b - a for a, b in zip(times, times[1:])), default=0.0)
    wait_acked = [r["k"] for r in ok if r.get("wait", 0) >= 1]
    async_acked = [r["k"] for r in ok if r.get("wait", 0) < 1]
    return {
        "writes": len(records),
        "acknowledged": len(ok),
        "failed": len(records) - len(ok),
        "rto_s": round(first_ok_after - event_at, 3) if first_ok_after else None,
        "longest_stall_s": round(stall, 3),
        "wait_acked_lost": sorted(k for k in wait_acked if k not in stored),
        "async_acked_lost": len([k for k in async_acked if k not in stored]),
        "wait_acked": len(wait_acked),
    }
