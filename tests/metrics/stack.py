# SPDX-License-Identifier: Apache-2.0
"""Real processes on loopback for the metrics tests: redis-server, redis-sentinel and
redis_exporter laid out like the chart's pods (one 127.x.y.z address per pod, the chart's ports),
and one Prometheus scraping them every second with the chart's rendered rules.

Two "releases" are started:
  healthy (namespace `cache`): the chart's default topology - 3 pods, each with Redis (pod 0 the
    master), Sentinel (quorum 2) and the two exporters, auth on, maxmemory set, client traffic.
  broken (namespace `broken`): real faults - two masters, a failed RDB save (its directory
    deleted), a replica of a dead master, a lone Sentinel below quorum, two Sentinels naming
    different masters, an exporter whose Redis is gone, and a target with no exporter at all.
"""
from __future__ import annotations

import contextlib
import json
import os
import random
import shutil
import socket
import subprocess
import threading
import time
import urllib.parse
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

import redis
import yaml

from tests.metrics.rules import binary

PASSWORD = "metrics-pass-%&!"
REDIS_PORT, SENTINEL_PORT, METRICS_PORT, SENTINEL_METRICS_PORT = 6379, 26379, 9121, 9355
JOB = "redis-ha-headless"
EXPORTER = os.environ.get("REDIS_HA_EXPORTER", "prometheus-redis-exporter")


def wait_for(what: str, check, timeout: float = 30.0, interval: float = 0.2):
    """Poll `check` until it returns a truthy value; its last exception explains a timeout."""
    deadline, last = time.monotonic() + timeout, None
    while time.monotonic() < deadline:
        try:
            result = check()
            if result:
                return result
        except Exception as exc:  # noqa: BLE001 - reported below
            last = exc
        time.sleep(interval)
    raise TimeoutError(f"{what} not within {timeout:.0f}s (last error: {last!r})")


def port_free(host: str, port: int) -> bool:
    with socket.socket() as s:
        try:
            s.bind((host, port))
        except OSError:
            return False
    return True


@dataclass
class Target:
    """One scrape target: an exporter address with the labels the chart's ServiceMonitor gives it."""
    address: str
    labels: dict


@dataclass
class Stack:
    workdir: Path
    net: str  # "127.a.b."
    procs: list = field(default_factory=list)
    targets: list = field(default_factory=list)
    stop_traffic: threading.Event = field(default_factory=threading.Event)

    def ip(self, host: int) -> str:
        return f"{self.net}{host}"

    def _spawn(self, name: str, cmd: list[str], env: dict | None = None) -> subprocess.Popen:
        log = open(self.workdir / f"{name}.log", "wb")  # noqa: SIM115 - closed with the process
        proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, env={**os.environ, **(env or {})}, cwd=self.workdir, start_new_session=True)
        self.procs.append((name, proc, log))
        return proc

    def redis(self, host: int, *args: str, datadir: Path | None = None) -> redis.Redis:
        datadir = datadir or self.workdir / f"data-{host}"
        datadir.mkdir(exist_ok=True)
        self._spawn(f"redis-{host}", [
            "redis-server", "--bind", self.ip(host), "--port", str(REDIS_PORT), "--dir", str(datadir),
            "--requirepass", PASSWORD, "--masterauth", PASSWORD, "--replica-announce-ip", self.ip(host),
            "--save", "", "--appendonly", "no", "--daemonize", "no", *args,
        ])
        client = redis.Redis(host=self.ip(host), port=REDIS_PORT, password=PASSWORD, socket_timeout=5)
        wait_for(f"redis on {self.ip(host)}", client.ping)
        return client

    def sentinel(self, host: int, master_host: int, quorum: int = 2) -> redis.Redis:
        conf = self.workdir / f"sentinel-{host}.conf"
        conf.write_text("\n".join([
            f"bind {self.ip(host)}", f"port {SENTINEL_PORT}", f"dir {self.workdir}", f'requirepass "{PASSWORD}"',
            f"sentinel announce-ip {self.ip(host)}",
            f"sentinel monitor mymaster {self.ip(master_host)} {REDIS_PORT} {quorum}",
            f'sentinel auth-pass mymaster "{PASSWORD}"',
            # Long enough that a stall of this busy test machine never fails the master over.
            "sentinel down-after-milliseconds mymaster 30000", "sentinel failover-timeout mymaster 60000", "",
        ]))
        self._spawn(f"sentinel-{host}", ["redis-sentinel", str(conf)])
        client = redis.Redis(host=self.ip(host), port=SENTINEL_PORT, password=PASSWORD, socket_timeout=5)
        wait_for(f"sentinel on {self.ip(host)}", client.ping)
        return client

    def exporter(self, host: int, port: int, target_port: int, labels: dict, target_host: int | None = None) -> None:
        """redis_exporter configured as the chart's `metrics`/`sentinel-metrics` containers are (env only)."""
        address = f"{self.ip(host)}:{port}"
        self._spawn(f"exporter-{host}-{port}", [binary(EXPORTER)], env={
            "REDIS_ADDR": f"redis://{self.ip(target_host or host)}:{target_port}",
            "REDIS_PASSWORD": PASSWORD,
            "REDIS_EXPORTER_WEB_LISTEN_ADDRESS": address,
        })
        wait_for(f"exporter on {address}", lambda: urllib.request.urlopen(f"http://{address}/metrics", timeout=5).status == 200)
        self.targets.append(Target(address, labels))

    def scrape(self, address: str) -> str:
        return urllib.request.urlopen(f"http://{address}/metrics", timeout=5).read().decode()

    def stop(self) -> None:
        self.stop_traffic.set()
        for _, proc, _ in reversed(self.procs):
            with contextlib.suppress(ProcessLookupError):
                proc.terminate()
        for _, proc, log in self.procs:
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
            log.close()


def pick_net() -> str:
    """A loopback /24 whose pod addresses have the chart's ports free (tests run in parallel)."""
    for _ in range(50):
        net = f"127.{random.randint(100, 254)}.{random.randint(0, 255)}."
        hosts = [1, 2, 3, 11, 12, 13, 14, 100]
        if all(port_free(net + str(h), p) for h in hosts for p in (REDIS_PORT, SENTINEL_PORT, METRICS_PORT, SENTINEL_METRICS_PORT, 9090)):
            return net
    raise RuntimeError("no free loopback /24 found")


def pod_labels(namespace: str, ordinal: int, container: str) -> dict:
    return {"namespace": namespace, "pod": f"redis-ha-{ordinal}", "container": container, "endpoint": container}


def start_healthy(stack: Stack) -> None:
    """namespace cache: 3 pods as the chart's defaults make them; pod 0 (host .1) is the master."""
    clients = [stack.redis(1, "--maxmemory", "64mb", "--maxmemory-policy", "allkeys-lru")]
    for host in (2, 3):
        clients.append(stack.redis(host, "--maxmemory", "64mb", "--replicaof", stack.ip(1), str(REDIS_PORT)))
    sentinels = [stack.sentinel(host, master_host=1) for host in (1, 2, 3)]

    def converged():
        links = all(c.info("replication").get("master_link_status") == "up" for c in clients[1:])
        # Raw reply: redis-py's SENTINEL MASTER parser is broken in 6.4 (unexpected return_responses).
        views = [s.execute_command("SENTINEL", "MASTER", "mymaster") for s in sentinels]
        views = [dict(zip(v[::2], v[1::2])) for v in views]
        return links and all(int(v[b"num-other-sentinels"]) == 2 and int(v[b"num-slaves"]) == 2 for v in views)

    wait_for("healthy replication and Sentinel discovery", converged, timeout=60, interval=0.5)
    for ordinal, host in enumerate((1, 2, 3)):
        stack.exporter(host, METRICS_PORT, REDIS_PORT, pod_labels("cache", ordinal, "metrics"))
        stack.exporter(host, SENTINEL_METRICS_PORT, SENTINEL_PORT, pod_labels("cache", ordinal, "sentinel-metrics"))
    master = clients[0]
    for i in range(100):
        master.set(f"key:{i}", "x" * 100)

    def traffic():
        # About 90% hits, so the default RedisCacheHitRateLow (70%) stays quiet on this release.
        n = 0
        while not stack.stop_traffic.wait(0.1):
            with contextlib.suppress(redis.RedisError):
                pipe = master.pipeline(transaction=False)
                for i in range(9):
                    pipe.get(f"key:{(n + i) % 100}")
                pipe.get(f"missing:{n}")
                pipe.set(f"key:{n % 100}", "y" * 100)
                pipe.execute()
            n += 1

    threading.Thread(target=traffic, daemon=True).start()


def start_broken(stack: Stack) -> None:
    """namespace broken: each fault a Redis alert exists for, made with real processes."""
    doomed = stack.workdir / "data-11"
    doomed.mkdir()
    b0 = stack.redis(11, datadir=doomed)  # master whose RDB save fails
    stack.redis(12)  # a second master: split brain
    stack.redis(13, "--replicaof", stack.ip(14), str(REDIS_PORT))  # replica of a dead master (.14)
    stack.sentinel(11, master_host=11)  # alone: 1 ok Sentinel, quorum 2
    stack.sentinel(12, master_host=12)  # names .12 as master while the other names .11
    shutil.rmtree(doomed)
    b0.bgsave()
    wait_for("failed RDB save on the broken master", lambda: b0.info("persistence")["rdb_last_bgsave_status"] == "err")
    for ordinal, host in ((0, 11), (1, 12), (2, 13)):
        stack.exporter(host, METRICS_PORT, REDIS_PORT, pod_labels("broken", ordinal, "metrics"))
    for ordinal, host in ((0, 11), (1, 12)):
        stack.exporter(host, SENTINEL_METRICS_PORT, SENTINEL_PORT, pod_labels("broken", ordinal, "sentinel-metrics"))
    stack.exporter(14, METRICS_PORT, REDIS_PORT, pod_labels("broken", 3, "metrics"))  # its Redis never started
    stack.targets.append(Target(f"{stack.ip(15)}:{METRICS_PORT}", pod_labels("broken", 4, "metrics")))  # no exporter


@dataclass
class Prometheus:
    url: str

    def get(self, path: str, **params) -> dict:
        query = urllib.parse.urlencode(params, doseq=True)
        with urllib.request.urlopen(f"{self.url}{path}?{query}", timeout=10) as resp:
            body = json.loads(resp.read())
        if body.get("status") != "success":
            raise RuntimeError(f"{path} {params}: {body}")
        return body["data"]

    def query(self, expr: str) -> list[dict]:
        return self.get("/api/v1/query", query=expr)["result"]


def start_prometheus(stack: Stack, rule_files: list[Path]) -> Prometheus:
    """One Prometheus for every test: 1 s scrapes and rule evaluations."""
    address = f"{stack.ip(100)}:9090"
    config = {
        "global": {"scrape_interval": "1s", "scrape_timeout": "1s", "evaluation_interval": "1s"},
        "rule_files": [str(f) for f in rule_files],
        "scrape_configs": [{
            "job_name": JOB,
            "static_configs": [{"targets": [t.address], "labels": t.labels} for t in stack.targets],
        }],
    }
    (stack.workdir / "prometheus.yml").write_text(yaml.safe_dump(config))
    stack._spawn("prometheus", [
        binary("prometheus"), f"--config.file={stack.workdir / 'prometheus.yml'}",
        f"--storage.tsdb.path={stack.workdir / 'tsdb'}", f"--web.listen-address={address}",
        "--log.level=warn",
    ])
    prom = Prometheus(f"http://{address}")
    wait_for("prometheus ready", lambda: urllib.request.urlopen(f"{prom.url}/-/ready", timeout=5).status == 200, timeout=60)
    return prom
