# SPDX-License-Identifier: Apache-2.0
"""Session fixtures of the e2e tier: a cluster (kind from ci/e2e/cluster-up.sh, or any cluster
named by REDIS_HA_KUBECONFIG), the packaged chart, and on failure a dump of what happened."""
from __future__ import annotations

import json
import os
import subprocess
import time
from pathlib import Path

import pytest
import yaml
from kubernetes import client, config

from tests.e2e.kube import ARTIFACTS, ROOT, Release, helm

REPORT = ROOT / "build" / "e2e-report.json"
_namespaces: set[str] = set()
_figures: dict[str, dict] = {}


def pytest_collection_modifyitems(items):
    for item in items:
        if "tests/e2e" in str(item.fspath):
            item.add_marker(pytest.mark.e2e)


@pytest.fixture(scope="session")
def kubeconfig() -> str:
    given = os.environ.get("REDIS_HA_KUBECONFIG")
    if given:
        return given
    started = time.monotonic()
    proc = subprocess.run(["bash", str(ROOT / "ci" / "e2e" / "cluster-up.sh")], capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        pytest.fail(f"the e2e cluster did not come up (ci/e2e/cluster-up.sh exit {proc.returncode}):\n{proc.stderr[-4000:]}", pytrace=False)
    path = proc.stdout.strip().splitlines()[-1]
    print(f"\ncluster ready in {time.monotonic() - started:.0f}s, kubeconfig {path}")
    return path


@pytest.fixture(scope="session")
def core(kubeconfig) -> client.CoreV1Api:
    os.environ["KUBECONFIG"] = kubeconfig
    config.load_kube_config(config_file=kubeconfig)
    api = client.CoreV1Api()
    nodes = api.list_node().items
    ready = [n.metadata.name for n in nodes if any(c.type == "Ready" and c.status == "True" for c in n.status.conditions)]
    if len(ready) < 1:
        pytest.fail(f"no Ready node in the cluster: {[n.metadata.name for n in nodes]}", pytrace=False)
    return api


@pytest.fixture(scope="session")
def chart(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("chart")
    helm("package", str(ROOT / "charts" / "redis-ha"), "--destination", str(out))
    return next(out.glob("redis-ha-*.tgz"))


@pytest.fixture(scope="session")
def make_release(core, chart):
    """Installs a release in a fresh namespace (an old one of the same name is deleted first)."""
    made: list[Release] = []

    def make(name: str, namespace: str, values: dict | None = None, replicas: int | None = None,
             secrets: dict[str, dict[str, str]] | None = None, prepare=None) -> Release:
        """`secrets`: Secrets (name: {key: value}) created in the namespace before the install;
        `prepare()`: runs after them, before the install (e.g. starts what the release needs)."""
        fresh_namespace(core, namespace)
        for secret, data in (secrets or {}).items():
            core.create_namespaced_secret(namespace, client.V1Secret(metadata=client.V1ObjectMeta(name=secret), string_data=data))
        if prepare:
            prepare()
        values = values or {}
        rel = Release(core, chart, name, namespace, values, replicas or values.get("replicas", 3))
        rel.install_seconds = rel.install()
        rel.start_client()
        made.append(rel)
        return rel

    yield make
    if not os.environ.get("REDIS_HA_E2E_KEEP"):
        for rel in made:
            delete_namespace(core, rel.namespace)


def delete_namespace(core, namespace: str) -> None:
    """Deletes a namespace (already gone is fine) and forgets it for the failure dumps."""
    _namespaces.discard(namespace)
    try:
        core.delete_namespace(namespace)
    except client.rest.ApiException as exc:
        if exc.status != 404:
            raise


@pytest.fixture(scope="module", autouse=True)
def _module_namespaces(request):
    """Deletes the namespaces a test module made once the module is done (after any failure dump).
    Releases left running would load this 2-core machine (every pod's exec probes) during the next
    modules' failovers; their figures would then measure the leftovers."""
    before = set(_namespaces)
    yield
    made = set(_namespaces) - before
    if made and not os.environ.get("REDIS_HA_E2E_KEEP"):
        core = request.getfixturevalue("core")
        for namespace in sorted(made):
            delete_namespace(core, namespace)


def fresh_namespace(core, namespace: str, pod_security: str = "restricted") -> None:
    """A new namespace enforcing `pod_security` (an old one of the same name is deleted first).
    Every e2e namespace enforces the restricted Pod Security Standard, so the chart's pods, its
    helm test pod and the harness' own pods are proven to comply."""
    delete_namespace(core, namespace)
    _namespaces.add(namespace)
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline:
        try:
            core.read_namespace(namespace)
            time.sleep(2)
        except client.rest.ApiException as exc:
            if exc.status == 404:
                break
            raise
    labels = {f"pod-security.kubernetes.io/{mode}": pod_security for mode in ("enforce", "warn", "audit")}
    core.create_namespace(client.V1Namespace(metadata=client.V1ObjectMeta(name=namespace, labels=labels)))


@pytest.fixture
def record():
    """record(name, figures, timeline): adds one scenario's figures to build/e2e-report.json."""

    def add(name: str, figs: dict, timeline: list[dict]) -> None:
        _figures[name] = figs
        REPORT.parent.mkdir(parents=True, exist_ok=True)
        report = json.loads(REPORT.read_text()) if REPORT.exists() else {}
        report[name] = {"figures": figs, "timeline": timeline}
        REPORT.write_text(json.dumps(report, indent=1))

    return add


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    rep = outcome.get_result()
    if rep.when == "call" and rep.failed and _namespaces and "core" in item.funcargs:
        dump(item.funcargs["core"], item.name)


def dump(core, test_name: str) -> None:
    """Events, pod descriptions and current + previous logs of every e2e namespace."""
    out = ARTIFACTS / test_name
    out.mkdir(parents=True, exist_ok=True)
    for ns in sorted(_namespaces):
        try:
            events = core.list_namespaced_event(ns).items
            (out / f"{ns}-events.txt").write_text("\n".join(
                f"{e.last_timestamp or e.event_time} {e.type} {e.involved_object.kind}/{e.involved_object.name} {e.reason}: {e.message}" for e in events))
            pods = core.list_namespaced_pod(ns).items
            (out / f"{ns}-pods.yaml").write_text(yaml.safe_dump([client.ApiClient().sanitize_for_serialization(p) for p in pods]))
            for p in pods:
                for c in p.spec.containers:
                    for previous in (False, True):
                        try:
                            text = core.read_namespaced_pod_log(p.metadata.name, ns, container=c.name, previous=previous, tail_lines=400)
                        except client.rest.ApiException:
                            continue
                        (out / f"{ns}-{p.metadata.name}-{c.name}{'-previous' if previous else ''}.log").write_text(text)
        except client.rest.ApiException as exc:
            (out / f"{ns}-error.txt").write_text(str(exc))
    print(f"\ne2e artifacts for {test_name}: {out}")


def pytest_terminal_summary(terminalreporter):
    if not _figures:
        return
    tr = terminalreporter
    tr.section("failover figures (build/e2e-report.json)")
    tr.write_line(f"{'scenario':40} {'RTO s':>7} {'stall s':>8} {'failed':>7} {'acked':>7} {'WAIT lost':>9} {'async lost':>10}")
    for name, f in _figures.items():
        tr.write_line(f"{name:40} {str(f['rto_s']):>7} {f['longest_stall_s']:>8} {f['failed']:>7} {f['acknowledged']:>7} {len(f['wait_acked_lost']):>9} {f['async_acked_lost']:>10}")
