# SPDX-License-Identifier: Apache-2.0
"""One live stack (Redis, Sentinel, exporters, Prometheus on loopback) per test session; the tests
using it share an xdist group so a parallel run starts it once."""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.metrics import stack as live_stack
from tests.metrics.rules import alerts, rule_groups, write_rules

# Thresholds that make every threshold alert fire on the healthy release's real data.
LOWERED = {
    "RedisMemoryHigh": {"threshold": 0},
    "RedisLatencyHigh": {"threshold": -1},
    "RedisTooManyConnections": {"threshold": -1},
    "RedisRejectedConnections": {"threshold": -1},
    "RedisEvictionsHigh": {"threshold": -1},
    "RedisReplicationLag": {"threshold": -1},
    "RedisCacheHitRateLow": {"threshold": 101, "minLookupsPerSecond": 0},
    "RedisSentinelQuorumAtRisk": {"threshold": 4},
    "RedisReplicasMissing": {"threshold": 3},
    "RedisMasterFlapping": {"threshold": -1},
}
# Alerts the broken release's real faults raise with the default thresholds.
FAULTS = {
    "RedisDown", "RedisExporterDown", "RedisMasterLinkDown", "RedisPersistenceFailing", "RedisNotExactlyOneMaster",
    "RedisSentinelsDisagree", "RedisSentinelQuorumAtRisk", "RedisReplicasMissing",
}
# (rule set, namespace it selects, thresholds) -> the alerts that must fire there.
VARIANTS = {
    "default": ("cache", {}, set()),
    "lowered": ("cache", LOWERED, set(LOWERED)),
    "broken": ("broken", {}, FAULTS),
}


def rule_values(variant: str, overrides: dict) -> dict:
    """Values rendering one rule set: every `for` 0s so the test need not wait, a `variant` label."""
    names = alerts(rule_groups())
    return {"metrics": {"prometheusRule": {
        "alertLabels": {"variant": variant},
        "alerts": {name: {"for": "0s", **overrides.get(name, {})} for name in names},
    }}}


@dataclass
class Live:
    stack: live_stack.Stack
    prometheus: live_stack.Prometheus
    rules: dict  # variant -> {alertname: rule}


@pytest.fixture(scope="session")
def live(tmp_path_factory) -> Live:
    workdir: Path = tmp_path_factory.mktemp("metrics-live")
    stack = live_stack.Stack(workdir, live_stack.pick_net())
    try:
        live_stack.start_healthy(stack)
        live_stack.start_broken(stack)
        rules, files = {}, []
        for variant, (namespace, overrides, _) in VARIANTS.items():
            groups = rule_groups(rule_values(variant, overrides), namespace=namespace)
            rules[variant] = alerts(groups)
            files.append(write_rules(groups, workdir / f"rules-{variant}.yaml"))
        prometheus = live_stack.start_prometheus(stack, files)
        yield Live(stack, prometheus, rules)
    finally:
        stack.stop()
