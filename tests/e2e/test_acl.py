# SPDX-License-Identifier: Apache-2.0
"""ACL users on a real cluster: the application writes as `app` through Sentinel, every
component logs in as its own least-privilege user, and a hard kill of the master still fails
over with no WAIT-acknowledged write lost. Afterwards no Redis or Sentinel has refused any
component a command (`ACL LOG` empty), so the users' rules are wide enough; the exporters
(the e2e image's redis_exporter) report redis_up 1 as the `exporter` user."""
from __future__ import annotations

import re

import pytest

from tests.e2e.kube import helm, kill_master, run_with_writes

NS = "e2e-acl"
REL = "redis-ha"
ROLES = ("app", "replication", "sentinel", "sentinel-peer", "exporter", "probe")
VALUES = {"acl": {"enabled": True, "existingSecret": "redis-ha-acl"}}
SECRET = {f"{role}-password": f"{role} %#&$'\"/\\ pw" for role in ROLES}


@pytest.fixture(scope="module")
def rel(make_release):
    return make_release(REL, NS, VALUES, secrets={"redis-ha-acl": SECRET})


def acl_log(rel) -> list[str]:
    """Every ACL LOG entry of every Redis and Sentinel, as readable strings."""
    out = []
    targets = [(str(i), 6379) for i in range(rel.replicas)] + [(f"s{i}", 26379) for i in range(rel.sentinels)]
    for target, port in targets:
        entries = rel.agent("cmd", target, str(port), "ACL", "LOG")
        assert isinstance(entries, list), f"ACL LOG on {target}:{port}: {entries}"
        out += [f"{target}:{port}: {dict(zip(e[::2], e[1::2]))}" for e in entries]
    assert len(targets) == rel.replicas + rel.sentinels
    return out


def test_hard_kill_with_acl_users(rel, record):
    figs = run_with_writes(rel, "acl-hard-kill", record, lambda: kill_master(rel, 0))
    assert figs["new_master"] != figs["old_master"]
    assert figs["wait_acked"] > 10
    assert figs["wait_acked_lost"] == []


@pytest.mark.parametrize("port", [9121, 9355])
def test_exporters_read_metrics_as_the_exporter_user(rel, port):
    hosts = [rel.host(i) for i in range(rel.replicas)] if port == 9121 else [rel.sentinel_host(i) for i in range(rel.sentinels)]
    assert hosts
    for host in hosts:
        out = rel.scrape(host, port)
        assert re.search(r"^redis_up 1$", out, re.M), f"{host}:{port}: {[line for line in out.splitlines() if line.startswith('redis_up')]}"


def test_helm_test_passes(rel):
    out = helm("test", REL, "--namespace", NS, "--timeout", "5m")
    assert "Succeeded" in out


def test_no_component_was_refused_a_command(rel):
    """Runs last: the failover, the scrapes and the probes have all happened by now."""
    assert acl_log(rel) == []
