# SPDX-License-Identifier: Apache-2.0
"""The co-located layout (sentinel.colocated: true, the AIKernel deployment's): a sentinel
container in every Redis pod, as many Sentinels as Redis pods. One hard kill of the master pod
under writes: a new master takes writes, every surviving and restarted Sentinel agrees, no
WAIT-acknowledged write is lost. (Repetitions and RTO distributions: tests/chaos.)"""
from __future__ import annotations

import re

import pytest

from tests.e2e.kube import kill_master, run_with_writes

NS = "e2e-colocated"
REL = "redis-ha"
VALUES = {"sentinel": {"colocated": True}}


@pytest.fixture(scope="module")
def rel(make_release):
    return make_release(REL, NS, VALUES)


def test_sentinels_live_in_the_redis_pods(rel):
    assert rel.is_colocated and rel.sentinels == rel.replicas == 3
    assert rel.sentinel_host(1) == rel.host(1)
    for p in rel.pods():
        assert {"redis", "metrics", "sentinel", "sentinel-metrics"} <= {c.name for c in p.spec.containers}, p.metadata.name
    master = rel.invariants()
    assert master == rel.host(0)
    assert re.search(r"^redis_up 1$", rel.scrape(rel.sentinel_host(0), 9355), re.M)


def test_hard_kill_of_the_master_pod_under_writes(rel, record):
    figs = run_with_writes(rel, "colocated-hard-kill", record, lambda: kill_master(rel, 0))
    assert figs["new_master"] != figs["old_master"]
    assert figs["wait_acked"] > 10
    assert figs["wait_acked_lost"] == []
    assert figs["rto_s"] is not None
