# SPDX-License-Identifier: Apache-2.0
"""The chaos tier (`tox -e chaos`, marker chaos): profiles from CHAOS_PROFILES (names under
tests/chaos/profiles or paths, comma-separated; default redis-ha), one release per profile in a
chaos-* namespace, the writer's client pod on the control-plane node, and one report directory
build/chaos/<run-id>/ for the whole run."""
from __future__ import annotations

import os
import time

import pytest
from kubernetes import client

from tests.chaos.profile import Profile
from tests.chaos.report import ChaosReport
from tests.e2e.conftest import core, fresh_namespace, kubeconfig  # noqa: F401  (session fixtures shared with e2e)
from tests.e2e.kube import ROOT

SETTINGS = ("CHAOS_REPEAT", "CHAOS_REPEAT_OTHER", "CHAOS_REPEAT_LARGE", "CHAOS_WRITE_SECONDS", "CHAOS_FREEZE_SECONDS",
            "CHAOS_PARTITION_SECONDS", "CHAOS_NODE_DOWN_SECONDS", "CHAOS_LARGE_MB", "CHAOS_NODE_STOP_GRACE")


def pytest_configure(config):
    config.addinivalue_line("markers", "chaos: fault injection on a real cluster, repeated, with figures (tox -e chaos)")


def pytest_collection_modifyitems(config, items):
    for item in items:
        if "tests/chaos" in str(item.fspath):
            item.add_marker(pytest.mark.chaos)


def profile_names() -> list[str]:
    return [p.strip() for p in os.environ.get("CHAOS_PROFILES", "redis-ha").split(",") if p.strip()]


def pytest_generate_tests(metafunc):
    if "profile" in metafunc.fixturenames:
        metafunc.parametrize("profile", [Profile.load(n) for n in profile_names()], ids=lambda p: p.name, indirect=True, scope="session")


@pytest.fixture(scope="session")
def profile(request) -> Profile:
    return request.param


@pytest.fixture(scope="session")
def report(core) -> ChaosReport:
    run_id = os.environ.get("CHAOS_RUN_ID") or time.strftime("%Y%m%dT%H%M%SZ", time.gmtime())
    nodes = core.list_node().items
    meta = {
        "profile": {"name": ",".join(profile_names())},
        "cluster": {"nodes": len(nodes), "version": nodes[0].status.node_info.kubelet_version if nodes else None,
                    "node_names": [n.metadata.name for n in nodes]},
        "settings": {k: os.environ[k] for k in SETTINGS if os.environ.get(k)},
    }
    rep = ChaosReport(ROOT / "build" / "chaos", run_id, meta)
    yield rep
    out = rep.finish()
    print(f"\nchaos report: {out}/report.json, {out}/summary.md")


def _exists(core, name: str) -> bool:
    try:
        return core.read_namespace(name).status.phase == "Active"
    except client.rest.ApiException:
        return False


@pytest.fixture(scope="session")
def target(core, profile, report):
    """The profile's release, installed once per run in its own namespace, with the client pod
    on the control-plane node."""
    rel = profile.make_release(core)
    reuse = os.environ.get("CHAOS_REUSE") and _exists(core, profile.namespace)
    if not reuse:
        fresh_namespace(core, profile.namespace, profile.pod_security)
    report.data.setdefault("profiles", {})[profile.name] = {
        "file": str(profile.file.relative_to(ROOT)) if profile.file.is_relative_to(ROOT) else str(profile.file),
        "chart": profile.chart, "namespace": rel.namespace, "replicas": rel.replicas, "sentinels": rel.sentinels,
        "colocated": rel.is_colocated}
    report.data["profile"]["file"] = report.data["profiles"][profile.name]["file"]
    rel.install_seconds = rel.install(action="upgrade" if reuse else "install")
    rel.start_client(on_control_plane=True)
    rel.profile = profile
    yield rel
    if not os.environ.get("CHAOS_KEEP"):
        core.delete_namespace(rel.namespace)
