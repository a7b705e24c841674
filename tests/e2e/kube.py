# SPDX-License-Identifier: Apache-2.0
"""The e2e harness' view of a cluster: releases installed with the real helm, pods and Secrets
through the kubernetes client, Redis through redis-py inside a client pod (agent.py)."""
from __future__ import annotations

import json
import subprocess
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import yaml
from kubernetes import client
from kubernetes.client.rest import ApiException
from kubernetes.stream import stream
from kubernetes.watch import Watch

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


def kubectl(*args: str, timeout: float = 300) -> str:
    proc = subprocess.run(["kubectl", *args], capture_output=True, text=True, timeout=timeout, check=False)
    assert proc.returncode == 0, f"kubectl {' '.join(args)}: {proc.stderr}"
    return proc.stdout


def wait_for(what: str, check, timeout: float = 120.0, interval: float = 1.0):
    return polling.wait_for(what, check, timeout, interval, (ApiException, AssertionError, KeyError, ValueError))


@dataclass
class Layout:
    """Where a release's Redis and Sentinel pods are: names, hosts, containers, selectors. Our
    chart's comes from the values it was installed with (Layout.for_chart); a chaos profile
    gives another chart's (tests/chaos/profiles, templates with {fullname} {namespace} {i} {pod})."""

    fullname: str
    namespace: str
    replicas: int
    sentinels: int
    colocated: bool
    redis_pod: str = "{fullname}-{i}"
    redis_host: str = "{pod}.{fullname}-headless.{namespace}.svc.{domain}"
    sentinel_pod: str = "{fullname}-sentinel-{i}"
    sentinel_host: str = "{pod}.{fullname}-headless.{namespace}.svc.{domain}"
    redis_container: str = "redis"
    sentinel_container: str = "sentinel"
    redis_statefulset: str = "{fullname}"
    sentinel_statefulset: str = "{fullname}-sentinel"
    redis_selector: str = "app.kubernetes.io/instance={release},app.kubernetes.io/component=server"
    sentinel_selector: str = "app.kubernetes.io/instance={release},app.kubernetes.io/component=sentinel"
    master_set: str = "mymaster"
    redis_port: int = 6379
    sentinel_port: int = 26379
    domain: str = "cluster.local"
    release: str = ""

    @classmethod
    def for_chart(cls, release: str, namespace: str, values: dict, replicas: int | None = None,
                  colocated: bool | None = None) -> "Layout":
        """charts/redis-ha: Sentinels in their own StatefulSet unless sentinel.colocated; none
        at all with replicas 1."""
        sentinel = values.get("sentinel", {})
        n = replicas or values.get("replicas", 3)
        colocated = sentinel.get("colocated", False) if colocated is None else colocated
        sentinels = 0 if n == 1 else (n if colocated else sentinel.get("replicas", 3))
        layout = cls(values.get("fullnameOverride") or release, namespace, n, sentinels, colocated,
                     master_set=sentinel.get("masterSet", "mymaster"), redis_port=values.get("redis", {}).get("port", 6379),
                     sentinel_port=sentinel.get("port", 26379), domain=values.get("clusterDomain", "cluster.local"), release=release)
        if colocated:
            layout.sentinel_pod, layout.sentinel_statefulset, layout.sentinel_selector = layout.redis_pod, layout.redis_statefulset, layout.redis_selector
        return layout

    def fmt(self, template: str, **kw) -> str:
        return template.format(fullname=self.fullname, namespace=self.namespace, domain=self.domain, release=self.release or self.fullname, **kw)

    def pod(self, i: int) -> str:
        return self.fmt(self.redis_pod, i=i)

    def host(self, i: int) -> str:
        return self.fmt(self.redis_host, pod=self.pod(i), i=i)

    def spod(self, i: int) -> str:
        return self.fmt(self.sentinel_pod, i=i)

    def shost(self, i: int) -> str:
        return self.fmt(self.sentinel_host, pod=self.spod(i), i=i)

    def printf(self, sentinel: bool = False) -> str:
        """The host template with %d for the ordinal (agent.py's HOST_TEMPLATE)."""
        pod = self.fmt(self.sentinel_pod if sentinel else self.redis_pod, i="%d")
        return self.fmt(self.sentinel_host if sentinel else self.redis_host, pod=pod, i="%d")


def ready_addresses(endpoint_slice) -> list[str]:
    """The addresses of an EndpointSlice's Ready endpoints."""
    return [a for e in (endpoint_slice.endpoints or []) if e.conditions and e.conditions.ready for a in e.addresses]


@dataclass
class Release:
    """One installed chart release and its client pod."""

    core: client.CoreV1Api
    chart: Path
    name: str
    namespace: str
    values: dict = field(default_factory=dict)
    replicas: int = 3
    # None: from the values (sentinel.colocated, default false); True/False forces a layout.
    colocated: bool | None = None
    layout: Layout | None = None
    values_files: list = field(default_factory=lambda: [E2E_VALUES])
    # Secret name and key of the password (None: from auth.*), whether the Sentinels ask for it.
    password_secret: tuple | None = None
    sentinel_auth: bool = True
    client_labels: dict | None = None
    extra_helm_args: list = field(default_factory=list)

    def __post_init__(self):
        if self.layout is None:
            self.layout = Layout.for_chart(self.name, self.namespace, self.values, self.replicas, self.colocated)
        self.replicas = self.layout.replicas

    @property
    def fullname(self) -> str:
        return self.layout.fullname

    @property
    def client_pod(self) -> str:
        return f"{self.fullname}-client"

    @property
    def sentinels(self) -> int:
        """How many Sentinels the release runs (0 with replicas 1)."""
        return self.layout.sentinels

    @property
    def is_colocated(self) -> bool:
        return self.layout.colocated

    @property
    def sentinel_container(self) -> str:
        return self.layout.sentinel_container

    @property
    def redis_container(self) -> str:
        return self.layout.redis_container

    def host(self, i: int) -> str:
        return self.layout.host(i)

    def pod(self, i: int) -> str:
        return self.layout.pod(i)

    def sentinel_host(self, i: int) -> str:
        return self.layout.shost(i)

    def sentinel_pod(self, i: int) -> str:
        return self.layout.spod(i)

    def pod_of(self, host: str) -> str:
        """The pod of a Redis or Sentinel host name."""
        for i in range(self.replicas):
            if self.host(i) == host:
                return self.pod(i)
        for i in range(self.sentinels):
            if self.sentinel_host(i) == host:
                return self.sentinel_pod(i)
        return host.split(".")[0]

    def ordinal(self, host_or_pod: str) -> int:
        pod = self.pod_of(host_or_pod) if "." in host_or_pod else host_or_pod
        return int(pod.rsplit("-", 1)[1])

    # ---- lifecycle -------------------------------------------------------------------
    def install(self, extra_values: dict | None = None, action: str = "install", chart: Path | None = None) -> float:
        values_file = ARTIFACTS / f"{self.namespace}-{self.name}-values.yaml"
        values_file.parent.mkdir(parents=True, exist_ok=True)
        merged = {**self.values, **(extra_values or {})}
        values_file.write_text(yaml.safe_dump(merged))
        started = time.monotonic()
        files = [arg for f in self.values_files for arg in ("--values", str(f))]
        helm(action, self.name, str(chart or self.chart), "--namespace", self.namespace, "--create-namespace",
             *files, "--values", str(values_file), *self.extra_helm_args, "--wait", "--timeout", "10m")
        return time.monotonic() - started

    def uninstall(self) -> None:
        subprocess.run(["helm", "uninstall", self.name, "--namespace", self.namespace, "--wait"], capture_output=True, check=False)

    def start_client(self, labels: dict | None = None, name: str | None = None, on_control_plane: bool = False,
                     env: dict | None = None) -> str:
        """A pod with python3 + redis-py and agent.py, allowed through the NetworkPolicy by default.
        on_control_plane: scheduled on the control-plane node, outside every fault the chaos
        suite injects on workers (a stopped node would take the writer with it). env: agent.py
        settings that replace the layout's (e.g. SENTINEL_HOSTS)."""
        name = name or self.client_pod
        cm = client.V1ConfigMap(metadata=client.V1ObjectMeta(name=f"{self.fullname}-agent"), data={"agent.py": AGENT.read_text()})
        try:
            self.core.create_namespaced_config_map(self.namespace, cm)
        except ApiException as exc:
            if exc.status != 409:
                raise
            self.core.replace_namespaced_config_map(f"{self.fullname}-agent", self.namespace, cm)
        if labels is None:
            labels = {k.format(fullname=self.fullname, release=self.name): v for k, v in (self.client_labels or {"{fullname}-client": "true"}).items()}
        volumes = [client.V1Volume(name="agent", config_map=client.V1ConfigMapVolumeSource(name=f"{self.fullname}-agent"))]
        mounts = [client.V1VolumeMount(name="agent", mount_path="/agent")]
        env = {
            "REPLICAS": str(self.replicas),
            "HOST_TEMPLATE": self.layout.printf(),
            "SENTINELS": str(self.sentinels),
            "SENTINEL_HOST_TEMPLATE": self.layout.printf(sentinel=True),
            "REDIS_PORT": str(self.layout.redis_port),
            "SENTINEL_PORT": str(self.layout.sentinel_port),
            "MASTER_SET": self.layout.master_set,
            "SENTINEL_AUTH": "1" if self.sentinel_auth else "0",
            "PYTHONUNBUFFERED": "1",
            **(env or {}),
        }
        auth = self.values.get("auth") if isinstance(self.values.get("auth"), dict) else {}
        if self.password_secret or auth.get("enabled", True):
            secret, key = self.password_secret or (auth.get("existingSecret") or self.fullname, "password")
            items = [client.V1KeyToPath(key=key, path="password")]
            volumes.append(client.V1Volume(name="secret", secret=client.V1SecretVolumeSource(secret_name=secret, items=items, default_mode=0o400)))
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
                node_selector={"node-role.kubernetes.io/control-plane": ""} if on_control_plane else None,
                tolerations=[client.V1Toleration(key="node-role.kubernetes.io/control-plane", operator="Exists", effect="NoSchedule")] if on_control_plane else None,
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

    def start_writer(self, prefix: str, seconds: float, via: str | None = None) -> "Writer":
        w = Writer(self, prefix, seconds, via)
        w.start()
        return w

    @property
    def master_service(self) -> str:
        """The -master Service's name as clients in the namespace use it."""
        return f"{self.fullname}-master"

    def role_services(self) -> bool:
        """Whether the release has the -master and -replicas Services (roleServices.enabled)."""
        try:
            self.core.read_namespaced_service(self.master_service, self.namespace)
            return True
        except ApiException as exc:
            if exc.status == 404:
                return False
            raise

    def pod_ip(self, host_or_pod: str) -> str | None:
        try:
            return self.core.read_namespaced_pod(self.pod_of(host_or_pod), self.namespace).status.pod_ip
        except ApiException:
            return None

    def service_endpoints(self, service: str) -> set[str]:
        """The Ready endpoint addresses of a Service (its EndpointSlices)."""
        slices = client.DiscoveryV1Api(self.core.api_client).list_namespaced_endpoint_slice(
            self.namespace, label_selector=f"kubernetes.io/service-name={service}").items
        return {a for s in slices for a in ready_addresses(s)}

    def role_service_problems(self, master: str) -> list[str]:
        """-master's endpoints are exactly the master pod, -replicas' exactly the other Redis pods."""
        ips = {p.metadata.name: p.status.pod_ip for p in self.pods()}
        want_master = {ips.get(self.pod_of(master))}
        want_replicas = {ip for name, ip in ips.items() if name != self.pod_of(master)}
        got_master, got_replicas = self.service_endpoints(self.master_service), self.service_endpoints(f"{self.fullname}-replicas")
        problems = []
        if got_master != want_master:
            problems.append(f"{self.master_service} endpoints {sorted(got_master)}, master pod {sorted(want_master)}")
        if got_replicas != want_replicas:
            problems.append(f"{self.fullname}-replicas endpoints {sorted(got_replicas)}, replica pods {sorted(want_replicas)}")
        return problems

    # ---- state ---------------------------------------------------------------------------
    def state(self) -> dict:
        return self.agent("state")

    def master_host(self) -> str:
        st = self.state()
        masters = [h for h, p in st["pods"].items() if p["role"] == "master"]
        if len(masters) != 1:
            raise AssertionError(f"expected one master, got {masters}")
        return masters[0]

    def master_address(self, st: dict | None = None) -> str | None:
        """The master's address as the Sentinels name it (a host name with our chart, maybe an
        IP with another): what the Sentinel client's writes record as "m"."""
        st = st or self.state()
        named = [s["master"][0] for s in st["sentinels"].values() if isinstance(s.get("master"), list)]
        return max(set(named), key=named.count) if named else None

    def invariants(self, timeout: float = 180) -> str:
        """docs/design.md, "Invariants": one master; every Sentinel (all Sentinel pods) names it; CKQUORUM OK; each
        Sentinel knows sentinels-1 other Sentinels and replicas-1 replicas (no ghosts); every
        replica's link up; the -master Service's endpoints are the master pod alone and the -replicas
        Service's the others (polled like the rest, so label updates may settle). Returns the master's host."""
        n, s_count = self.replicas, self.sentinels
        problems: list[str] = []

        def check():
            problems.clear()
            st = self.state()
            masters = [h for h, p in st["pods"].items() if p["role"] == "master"]
            if len(masters) != 1:
                problems.append(f"masters: {masters} roles: { {h: p['role'] for h, p in st['pods'].items()} }")
                return False
            master = masters[0]
            run_id = st["pods"][master].get("run_id")
            if len(st["sentinels"]) != s_count:
                problems.append(f"{len(st['sentinels'])} Sentinels answered, expected {s_count}")
            for host, s in st["sentinels"].items():
                if not isinstance(s["master"], list) or (s["master"][0] != master and s.get("master_run_id") != run_id):
                    problems.append(f"sentinel {host} names {s['master']}")
                if not str(s["ckquorum"]).startswith("OK"):
                    problems.append(f"sentinel {host} ckquorum {s['ckquorum']}")
                if s["sentinels"] != s_count - 1 or s["replicas"] != n - 1:
                    problems.append(f"sentinel {host} knows {s['sentinels']} sentinels / {s['replicas']} replicas "
                                    f"(expected {s_count - 1} / {n - 1}): {s.get('sentinel_peers')} {s.get('replica_addrs')}")
            for host, p in st["pods"].items():
                if host != master and p["replication"].get("master_link_status") != "up":
                    problems.append(f"replica {host} link {p['replication'].get('master_link_status')}")
            if not problems and self.role_services():
                problems.extend(self.role_service_problems(master))
            return master if not problems else False

        try:
            return wait_for("invariants", check, timeout, 2)
        except AssertionError as exc:
            raise AssertionError(f"{exc}\nproblems: {problems}") from None

    def stored_keys(self, prefix: str) -> set[str]:
        return set(self.agent("keys", prefix))

    def pods(self) -> list[client.V1Pod]:
        """The Redis pods."""
        sel = self.layout.fmt(self.layout.redis_selector)
        return self.core.list_namespaced_pod(self.namespace, label_selector=sel).items

    def sentinel_pods(self) -> list[client.V1Pod]:
        """The pods Sentinels run in (the Redis pods when co-located; none with replicas 1)."""
        if not self.sentinels:
            return []
        sel = self.layout.fmt(self.layout.sentinel_selector)
        return self.core.list_namespaced_pod(self.namespace, label_selector=sel).items

    def sentinel_logs(self, since: float | None = None, previous: bool = False) -> dict[str, str]:
        """Each Sentinel pod's sentinel container log (since an epoch time), keyed by pod name."""
        out = {}
        for p in self.sentinel_pods():
            kw = {"since_seconds": max(1, int(time.time() - since) + 2)} if since else {}
            try:
                out[p.metadata.name] = self.core.read_namespaced_pod_log(p.metadata.name, self.namespace, container=self.sentinel_container, previous=previous, **kw)
            except ApiException:
                continue
        return out

    def move_master_to(self, ordinal: int, timeout: float = 120) -> None:
        """Makes Redis pod `ordinal` the master, to start a scenario from a chosen master: its
        replica-priority is set to 1 (Sentinel prefers the lowest), the Sentinels are given the 10 s
        they take to read it, a Sentinel fails over, and the configured 100 is restored."""
        target = self.host(ordinal)
        if self.master_host() == target:
            return
        port, sport = str(self.layout.redis_port), str(self.layout.sentinel_port)
        assert self.agent("cmd", str(ordinal), port, "CONFIG", "SET", "replica-priority", "1") == "OK"
        try:
            time.sleep(12)
            assert self.agent("cmd", "s0", sport, "SENTINEL", "FAILOVER", self.layout.master_set) == "OK"
            wait_for(f"master on {target}", lambda: self.master_host() == target, timeout, 2)
        finally:
            self.agent("cmd", str(ordinal), port, "CONFIG", "SET", "replica-priority", "100")
        self.invariants()

    def wait_rolled(self, timeout: float = 900) -> None:
        """Every Redis pod runs the StatefulSet's update revision and is Ready: the end of a rollout
        under either update strategy (`kubectl rollout status` answers only for RollingUpdate, and
        rollout.ordered makes it OnDelete: docs/design.md, "Failovers per rollout")."""
        apps = client.AppsV1Api(self.core.api_client)

        def rolled():
            sts = apps.read_namespaced_stateful_set(self.fullname, self.namespace)
            if sts.status.observed_generation != sts.metadata.generation or not sts.status.update_revision:
                return False
            pods = self.pods()
            return len(pods) == self.replicas and all(
                p.metadata.deletion_timestamp is None and p.metadata.labels.get("controller-revision-hash") == sts.status.update_revision
                and any(c.type == "Ready" and c.status == "True" for c in p.status.conditions or []) for p in pods)
        wait_for(f"statefulset {self.fullname} rolled out", rolled, timeout, 2)

    def wait_all_ready(self, timeout: float = 600) -> None:
        """Every Redis pod and every Sentinel pod exists, is not being deleted, and is Ready."""
        def ready_set(pods, count):
            return len(pods) == count and all(
                p.metadata.deletion_timestamp is None and p.status.conditions and any(c.type == "Ready" and c.status == "True" for c in p.status.conditions)
                for p in pods)

        def ready():
            ok = ready_set(self.pods(), self.replicas)
            if ok and self.sentinels and not self.is_colocated:
                ok = ready_set(self.sentinel_pods(), self.sentinels)
            return ok
        wait_for("all pods ready", ready, timeout, 2)


class Writer(threading.Thread):
    """Streams agent.py write's JSON lines: the raw timeline of one scenario."""

    def __init__(self, release: Release, prefix: str, seconds: float, via: str | None = None):
        super().__init__(daemon=True)
        self.release, self.prefix, self.seconds, self.via = release, prefix, seconds, via
        self.records: list[dict] = []
        self.error = ""

    def stop(self) -> None:
        """Ends the writes before `seconds`: the agent checks for a stop file between writes and
        exits, which ends the stream with every write it made recorded."""
        rc, _, err = self.release.exec(self.release.client_pod, ["touch", f"/tmp/{self.prefix}.stop"])
        assert rc == 0, f"stopping writer {self.prefix}: {err}"

    def run(self):
        # An API client of its own: stream() swaps the client's request function while it
        # connects, and two writers connecting at once on one client would leave it swapped.
        core = client.CoreV1Api(client.ApiClient(self.release.core.api_client.configuration))
        resp = stream(core.connect_get_namespaced_pod_exec, self.release.client_pod, self.release.namespace,
                      command=["python3", "/agent/agent.py", "write", self.prefix, str(self.seconds), *([self.via] if self.via else [])],
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


ROLE_LABEL = "redis-ha.io/role"


class MasterServiceTimeline(threading.Thread):
    """Watches, from the moment it starts, which pod IPs carry the master label and which are ready
    endpoints of the -master Service, with the time each change reached the harness. It splits the
    -master path's RTO into its phases (docs/design.md, "Role Services"): the new master labelled,
    then its address in the Service's endpoints, then the client's first write."""

    def __init__(self, release: Release):
        super().__init__(daemon=True)
        self.release = release
        self.events: list[tuple[float, str, frozenset]] = []
        self._stop = threading.Event()
        self._watches: list[Watch] = []

    def _follow(self, kind: str, lister, selector: str, addresses) -> None:
        current: dict[str, frozenset] = {}
        while not self._stop.is_set():
            w = Watch()
            self._watches.append(w)
            try:
                for ev in w.stream(lister, self.release.namespace, label_selector=selector, timeout_seconds=60):
                    obj = ev["object"]
                    current[obj.metadata.name] = frozenset() if ev["type"] == "DELETED" else frozenset(addresses(obj))
                    self.events.append((time.time(), kind, frozenset().union(*current.values())))
                    if self._stop.is_set():
                        break
            except Exception:  # noqa: BLE001 - a dropped watch is resumed; the figures only get coarser
                time.sleep(0.2)

    def run(self) -> None:
        core = self.release.core
        labelled = lambda pod: [pod.status.pod_ip] if (pod.metadata.labels or {}).get(ROLE_LABEL) == "master" and pod.status.pod_ip else []
        pods = threading.Thread(target=self._follow, daemon=True, args=(
            "label", core.list_namespaced_pod, self.release.layout.fmt(self.release.layout.redis_selector), labelled))
        pods.start()
        self._follow("endpoint", client.DiscoveryV1Api(core.api_client).list_namespaced_endpoint_slice,
                     f"kubernetes.io/service-name={self.release.master_service}", ready_addresses)
        pods.join(5)

    def stop(self) -> None:
        self._stop.set()
        for w in self._watches:
            w.stop()

    def first(self, kind: str, at: float, old_ip: str | None) -> float | None:
        """Seconds from `at` to the first change after it that put another IP than old_ip in `kind`."""
        return next((round(t - at, 3) for t, k, ips in self.events if k == kind and t >= at and ips - {old_ip}), None)


def kill_master(rel: Release, grace: int | None) -> tuple[str, float]:
    """Deletes the master's pod (grace 0: a hard kill, None: the pod's own grace period, so
    preStop hands over). Returns (old master host, event time)."""
    master = rel.master_host()
    pod = rel.pod_of(master)
    at = time.time()
    rel.core.delete_namespaced_pod(pod, rel.namespace, grace_period_seconds=grace)
    return master, at


def new_master_acked(old: set, at: float):
    """run_with_writes' default end: a master other than the old one acknowledged a write after the event."""
    return lambda records: any(r["ok"] and r["t"] >= at and r.get("m") not in old for r in records)


def run_with_writes(rel: Release, name: str, record, action, seconds: float = 30, lead: float = 4, until=None,
                    settle_timeout: float = 600, via_service: bool = False) -> dict:
    """Writes for `seconds` and on until `until(records)` holds (default: a master other than the
    old one has acknowledged a write after the event), at most 300 s more: when the surviving
    Sentinels split their votes, they retry only after 2 x failover-timeout. `action()` runs after
    `lead` seconds and returns (old master host, event time); `until`, when given, is called as
    until(old_addresses, event_time) and returns the predicate. Waits for the pods and docs/design.md's
    invariants, records and returns the figures (and the raw records under "_records").
    With `via_service` a second writer writes only through the -master Service (no Sentinel);
    its figures are under "via_master_service" and recorded as `<name>-via-master-service`."""
    started = time.monotonic()
    old_addr = rel.master_address()
    old_ip = rel.pod_ip(rel.master_host()) if via_service else None
    writer = rel.start_writer(name, seconds + 300)
    svc_writer = rel.start_writer(f"{name}-svc", seconds + 300, via=rel.master_service) if via_service else None
    timeline = MasterServiceTimeline(rel) if via_service else None
    if timeline:
        timeline.start()
    time.sleep(lead)
    old, at = action()
    olds = {a for a in (old, old_addr) if a}
    done = (until or new_master_acked)(olds, at)
    svc_done = new_master_acked({old_ip}, at) if via_service and until is None else (lambda records: True)

    while writer.is_alive() and not (time.monotonic() - started >= seconds and done(list(writer.records))
                                     and (svc_writer is None or svc_done(list(svc_writer.records)))):
        time.sleep(0.5)
    for w in (writer, svc_writer, timeline):
        if w:
            w.stop()
    for w in (writer, svc_writer):
        if w:
            w.join(120)
            assert not w.is_alive(), f"writer {w.prefix} did not finish"
            assert w.records, f"writer {w.prefix} produced nothing: {w.error}"
    rel.wait_all_ready(settle_timeout)
    master = rel.invariants()
    figs = figures(writer.records, at, rel.stored_keys(name), olds)
    figs.update({"old_master": old, "new_master": master, "event_at": at})
    if svc_writer:
        svc = figures(svc_writer.records, at, rel.stored_keys(f"{name}-svc"), {old_ip})
        svc.update({"old_master_ip": old_ip, "new_master_ip": rel.pod_ip(master), "event_at": at,
                    # The -master path's phases, from the event: label on the new master, its
                    # address a ready endpoint of the Service (as the harness saw them).
                    "new_master_labelled_s": timeline.first("label", at, old_ip),
                    "new_master_endpoint_s": timeline.first("endpoint", at, old_ip)})
        record(f"{name}-via-master-service", svc, svc_writer.records)
        figs["via_master_service"] = svc
    record(name, {k: v for k, v in figs.items() if k != "via_master_service"}, writer.records)
    figs["_records"] = writer.records
    return figs


def _window(records: list[dict], pattern: str) -> tuple[int, float | None]:
    errs = [r for r in records if not r["ok"] and pattern in r.get("err", "")]
    if not errs:
        return 0, None
    return len(errs), round(max(r["t"] + r["d"] for r in errs) - min(r["t"] for r in errs), 3)


def figures(records: list[dict], event_at: float, stored: set[str], old_master=None) -> dict:
    """RTO, stall and loss figures of a write timeline around one event (a kill or a delete).
    RTO runs from the event to the first write acknowledged by a master other than the old one
    (`old_master`: a host, or a set of the old master's names and addresses)."""
    olds = {old_master} if isinstance(old_master, str) else set(old_master or ())
    ok = [r for r in records if r["ok"]]
    after = [r for r in ok if r["t"] >= event_at and r.get("m") not in olds]
    first_ok_after = min((r["t"] + r["d"] for r in after), default=None)
    times = sorted(r["t"] + r["d"] for r in ok)
    stall = max((b - a for a, b in zip(times, times[1:])), default=0.0)
    wait_acked = [r["k"] for r in ok if (r.get("wait") or 0) >= 1]
    async_acked = [r["k"] for r in ok if (r.get("wait") or 0) < 1]
    discoveries = [d for r in records for d in r.get("disc", ()) if d["t"] >= event_at and d.get("addr") and d["addr"] not in olds]
    first_disc = min((d["t"] + d["d"] for d in discoveries), default=None)
    readonly = _window(records, "READONLY"), _window(records, "now a slave")
    served = [r.get("m") for r in ok if r.get("m")]
    noreplicas = _window(records, "NOREPLICAS")
    return {
        "writes": len(records),
        "acknowledged": len(ok),
        "failed": len(records) - len(ok),
        "rto_s": round(first_ok_after - event_at, 3) if first_ok_after else None,
        "longest_stall_s": round(stall, 3),
        "wait_acked_lost": sorted(k for k in wait_acked if k not in stored),
        "async_acked_lost": len([k for k in async_acked if k not in stored]),
        "wait_acked": len(wait_acked),
        # Failovers the client went through: how often the master that acknowledged its writes changed.
        "master_changes": sum(1 for a, b in zip(served, served[1:]) if a != b),
        # When the client first heard the new master's address from a Sentinel; the rest of the
        # RTO (to the first acknowledged write) is the client's own share.
        "new_master_discovered_s": round(first_disc - event_at, 3) if first_disc else None,
        "client_share_s": round(first_ok_after - first_disc, 3) if first_ok_after and first_disc else None,
        "readonly_errors": readonly[0][0] + readonly[1][0],
        "readonly_window_s": max((w for _, w in readonly if w is not None), default=None),
        "noreplicas_errors": noreplicas[0],
        "noreplicas_window_s": noreplicas[1],
    }
