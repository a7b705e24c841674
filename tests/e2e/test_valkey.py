# SPDX-License-Identifier: Apache-2.0
"""The failover scenarios of tests/e2e/test_scenarios.py (hard kill, graceful delete, helm
upgrade, delete every Redis pod) on Valkey: `engine: valkey` on the Valkey test image, the same
invariants and the same figures, recorded as valkey-<scenario> in build/e2e-report.json."""
from __future__ import annotations

import pytest

from tests.e2e.kube import images
from tests.e2e import test_scenarios as scenarios

NS = "e2e-valkey"
REL = "redis-ha"


@pytest.fixture(scope="module")
def rel(make_release):
    img = images()
    return make_release(REL, NS, {**scenarios.VALUES, "engine": "valkey", "image": {"repository": img["VALKEY_IMAGE_REPOSITORY"], "tag": img["VALKEY_IMAGE_TAG"]}})


class TestValkeyRuns:
    def test_every_pod_runs_valkey(self, rel):
        """The servers and Sentinels are Valkey: INFO server names the engine and its version."""
        for target in [str(i) for i in range(rel.replicas)] + [f"s{i}" for i in range(rel.sentinels)]:
            port = "6379" if target.isdigit() else "26379"
            info = rel.agent("cmd", target, port, "INFO", "server")
            assert f"valkey_version:{images()['VALKEY_IMAGE_TAG']}" in info, f"{target}: {info[:300]}"
        rel.invariants()


class TestValkeyFailover(scenarios.TestFailover):
    """Hard kill and graceful delete of the master, on Valkey."""


class TestValkeyDisruption(scenarios.TestDisruption):
    """helm upgrade and every Redis pod deleted at once, on Valkey."""
