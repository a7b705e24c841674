# SPDX-License-Identifier: Apache-2.0
"""The rendered PrometheusRule through promtool: `check rules` on the extracted groups, and
`test rules` for every alert: it fires on bad series only once its `for` has passed, with the
labels and annotations it promises, and stays silent on healthy series and on the bad series of
another release (another namespace or another scrape job)."""
from __future__ import annotations

import subprocess
from dataclasses import dataclass, field

import pytest
import yaml

from tests.metrics.rules import alerts, binary, expand, rule_groups, seconds, write_rules

NS, JOB = "default", "redis-ha-headless"
STEP = 60  # seconds between samples and between rule evaluations
POINTS = 45


def pod(i: int, port: int = 9121, container: str = "metrics") -> dict:
    """Target labels the chart's ServiceMonitor gives pod i's exporter."""
    return {"namespace": NS, "job": JOB, "pod": f"redis-ha-{i}", "instance": f"10.0.0.{i + 1}:{port}", "container": container, "endpoint": container}


def sentinel(i: int) -> dict:
    return pod(i, 9355, "sentinel-metrics")


def series(name: str, labels: dict, values) -> dict:
    """One input series; `values` is a number (constant), a (start, per-step increase) counter, or a
    list with None for a missing sample and "stale" for a staleness marker."""
    if isinstance(values, tuple):
        start, step = values
        values = [start + step * i for i in range(POINTS)]
    elif not isinstance(values, list):
        values = [values] * POINTS
    text = " ".join("_" if v is None else str(v) for v in values)
    inner = ",".join(f'{k}="{v}"' for k, v in sorted(labels.items()))
    return {"series": f"{name}{{{inner}}}", "values": text}


@dataclass
class Bad:
    """Series on which the alert must fire, and the alerts (labels, $value) it must give."""
    series: list[dict]
    fired: list[tuple[dict, float]]
    at: str | None = None  # eval time; default: the alert's `for` plus 5m
    quiet_before: str | None = None  # eval time at which it must not fire yet; default: `for` minus 1m


# How a bad series set is made another release's: another namespace or another scrape job for
# the exporters' series; another namespace or another backup CronJob for kube-state-metrics'.
OTHER_RELEASES = ((f'namespace="{NS}"', 'namespace="other"'), (f'job="{JOB}"', 'job="other-headless"'))
OTHER_BACKUPS = ((f'namespace="{NS}"', 'namespace="other"'), ('redis-ha-backup"', 'other-backup"'))


@dataclass
class Case:
    bad: list[Bad]
    healthy: list[dict] = field(default_factory=list)
    others: tuple = OTHER_RELEASES


MASTER = {"role": "master", "redis_mode": "standalone"}
REPLICA = {"role": "slave", "redis_mode": "standalone"}
SENTINEL_SET = {"master_name": "mymaster"}


def ksm(**labels) -> dict:
    """Labels of a kube-state-metrics series about an object in the release's namespace."""
    return {"namespace": NS, "job": "kube-state-metrics", "instance": "10.0.9.9:8080", **labels}


def backup_job(name: str, owner: str = "redis-ha-backup", failed: int = 1, started: int = 1000) -> list[dict]:
    """A Job of a CronJob as kube-state-metrics reports it."""
    return [series("kube_job_status_failed", ksm(job_name=name, reason="BackoffLimitExceeded"), failed),
            series("kube_job_owner", ksm(job_name=name, owner_kind="CronJob", owner_name=owner, owner_is_controller="true"), 1),
            series("kube_job_status_start_time", ksm(job_name=name), started)]


def last_success(t: int) -> dict:
    return series("kube_cronjob_status_last_successful_time", ksm(cronjob="redis-ha-backup"), t)


def flapping_series() -> list[dict]:
    """pod 0 master for 0-9m, pod 1 for 10-19m, pod 0 again from 20m: two changes of master."""
    def role(i, ranges):
        return [1 if any(a <= t < b for a, b in ranges) else ("stale" if any(t == b for _, b in ranges) else None) for t in range(POINTS)]
    return [
        series("redis_start_time_seconds", pod(0), 1000),
        series("redis_start_time_seconds", pod(1), 2000),
        series("redis_instance_info", {**pod(0), **MASTER}, role(0, [(0, 10), (20, POINTS)])),
        series("redis_instance_info", {**pod(1), **MASTER}, role(1, [(10, 20)])),
    ]


CASES: dict[str, Case] = {
    "RedisDown": Case(
        [Bad([series("redis_up", pod(0), 0)], [(pod(0), 0)])],
        [series("redis_up", pod(0), 1), series("redis_up", sentinel(0), 1)],
    ),
    "RedisExporterDown": Case(
        [Bad([series("up", sentinel(1), 0)], [(sentinel(1), 0)])],
        [series("up", pod(1), 1), series("up", sentinel(1), 1)],
    ),
    "RedisMemoryHigh": Case(
        [Bad([series("redis_memory_used_bytes", pod(0), 95), series("redis_memory_max_bytes", pod(0), 100)], [(pod(0), 95)])],
        # 50% of maxmemory, and no maxmemory at all (max 0): both quiet.
        [series("redis_memory_used_bytes", pod(0), 50), series("redis_memory_max_bytes", pod(0), 100),
         series("redis_memory_used_bytes", pod(1), 10**9), series("redis_memory_max_bytes", pod(1), 0)],
    ),
    "RedisLatencyHigh": Case(
        # get: 60 calls taking 60 s per minute, set: 60 calls taking nothing: 0.5 s per command.
        [Bad([series("redis_commands_duration_seconds_total", {**pod(0), "cmd": "get"}, (0, 60)),
              series("redis_commands_total", {**pod(0), "cmd": "get"}, (0, 60)),
              series("redis_commands_duration_seconds_total", {**pod(0), "cmd": "set"}, (0, 0)),
              series("redis_commands_total", {**pod(0), "cmd": "set"}, (0, 60))], [(pod(0), 500)])],
        [series("redis_commands_duration_seconds_total", {**pod(0), "cmd": "get"}, (0, 0.06)),
         series("redis_commands_total", {**pod(0), "cmd": "get"}, (0, 60))],
    ),
    "RedisTooManyConnections": Case(
        [Bad([series("redis_connected_clients", pod(2), 6000)], [(pod(2), 6000)])],
        [series("redis_connected_clients", pod(2), 4999)],
    ),
    "RedisRejectedConnections": Case(
        [Bad([series("redis_rejected_connections_total", pod(0), [0] * 10 + [3 + i for i in range(POINTS - 10)])], [(pod(0), 5)], at="15m")],
        [series("redis_rejected_connections_total", pod(0), 7)],
    ),
    "RedisMasterLinkDown": Case(
        [Bad([series("redis_master_link_up", {**pod(1), "master_host": "redis-ha-0.redis-ha-headless.default.svc.cluster.local", "master_port": "6379"}, 0)],
             [({**pod(1), "master_host": "redis-ha-0.redis-ha-headless.default.svc.cluster.local", "master_port": "6379"}, 0)])],
        [series("redis_master_link_up", {**pod(1), "master_host": "redis-ha-0.redis-ha-headless.default.svc.cluster.local", "master_port": "6379"}, 1)],
    ),
    "RedisEvictionsHigh": Case(
        [Bad([series("redis_evicted_keys_total", pod(0), (0, 12000))], [(pod(0), 200)])],
        [series("redis_evicted_keys_total", pod(0), (0, 60))],
    ),
    "RedisReplicationLag": Case(
        [Bad([series("redis_master_repl_offset", pod(0), 20_000_000),
              series("redis_connected_slave_offset_bytes", {**pod(0), "slave_ip": "10.0.0.2", "slave_port": "6379", "slave_state": "online"}, 1_000_000),
              series("redis_connected_slave_offset_bytes", {**pod(0), "slave_ip": "10.0.0.3", "slave_port": "6379", "slave_state": "online"}, 20_000_000),
              series("redis_master_repl_offset", pod(1), 20_000_000)],
             [({**pod(0), "slave_ip": "10.0.0.2", "slave_port": "6379", "slave_state": "online"}, 19_000_000)])],
        [series("redis_master_repl_offset", pod(0), 20_000_000),
         series("redis_connected_slave_offset_bytes", {**pod(0), "slave_ip": "10.0.0.2", "slave_port": "6379", "slave_state": "online"}, 19_999_000)],
    ),
    "RedisCacheHitRateLow": Case(
        [Bad([series("redis_keyspace_hits_total", pod(0), (0, 600)), series("redis_keyspace_misses_total", pod(0), (0, 600))], [(pod(0), 50)], at="20m")],
        # 90% hits at 100 lookups/s; and 10% hits at 1 lookup/s, below minLookupsPerSecond.
        [series("redis_keyspace_hits_total", pod(0), (0, 5400)), series("redis_keyspace_misses_total", pod(0), (0, 600)),
         series("redis_keyspace_hits_total", pod(1), (0, 6)), series("redis_keyspace_misses_total", pod(1), (0, 54))],
    ),
    "RedisPersistenceFailing": Case(
        [Bad([series("redis_rdb_last_bgsave_status", pod(0), 0), series("redis_aof_last_write_status", pod(0), 1), series("redis_aof_last_bgrewrite_status", pod(0), 1),
              series("redis_rdb_last_bgsave_status", pod(1), 1), series("redis_aof_last_write_status", pod(1), 0), series("redis_aof_last_bgrewrite_status", pod(1), 1),
              series("redis_rdb_last_bgsave_status", pod(2), 1), series("redis_aof_last_write_status", pod(2), 1), series("redis_aof_last_bgrewrite_status", pod(2), 0)],
             [(pod(0), 0), (pod(1), 0), (pod(2), 0)])],
        [series(m, pod(0), 1) for m in ("redis_rdb_last_bgsave_status", "redis_aof_last_write_status", "redis_aof_last_bgrewrite_status")],
    ),
    "RedisNotExactlyOneMaster": Case(
        [
            # Split brain: two masters.
            Bad([series("redis_instance_info", {**pod(0), **MASTER}, 1), series("redis_instance_info", {**pod(1), **MASTER}, 1),
                 series("redis_up", pod(0), 1), series("redis_up", pod(1), 1)], [({"namespace": NS}, 2)]),
            # No master: every Redis a replica, Sentinel not promoting.
            Bad([series("redis_instance_info", {**pod(0), **REPLICA}, 1), series("redis_instance_info", {**pod(1), **REPLICA}, 1),
                 series("redis_up", pod(0), 1), series("redis_up", pod(1), 1), series("redis_up", sentinel(0), 1)], [({"namespace": NS}, 0)]),
        ],
        [series("redis_instance_info", {**pod(0), **MASTER}, 1), series("redis_instance_info", {**pod(1), **REPLICA}, 1),
         series("redis_instance_info", {**sentinel(0), "role": "", "redis_mode": "sentinel"}, 1),
         series("redis_up", pod(0), 1), series("redis_up", pod(1), 1), series("redis_up", sentinel(0), 1)],
    ),
    "RedisSentinelsDisagree": Case(
        [Bad([series("redis_sentinel_master_status", {**sentinel(0), **SENTINEL_SET, "master_address": "redis-ha-0:6379", "master_status": "ok"}, 1),
              series("redis_sentinel_master_status", {**sentinel(1), **SENTINEL_SET, "master_address": "redis-ha-0:6379", "master_status": "ok"}, 1),
              series("redis_sentinel_master_status", {**sentinel(2), **SENTINEL_SET, "master_address": "redis-ha-2:6379", "master_status": "ok"}, 1)],
             [({"namespace": NS, **SENTINEL_SET}, 2)])],
        [series("redis_sentinel_master_status", {**sentinel(i), **SENTINEL_SET, "master_address": "redis-ha-0:6379", "master_status": "ok"}, 1) for i in range(3)],
    ),
    "RedisSentinelQuorumAtRisk": Case(
        [
            # Sentinel 0 sees only itself (quorum 2).
            Bad([series("redis_sentinel_master_ok_sentinels", {**sentinel(0), **SENTINEL_SET, "master_address": "redis-ha-0:6379"}, 1),
                 series("redis_sentinel_master_ckquorum_status", {**sentinel(0), **SENTINEL_SET, "message": "NOQUORUM 1 usable Sentinels"}, 0)],
                [({**sentinel(0), **SENTINEL_SET, "master_address": "redis-ha-0:6379"}, 1)]),
            # Enough Sentinels are "ok" but CKQUORUM fails (no majority for failover authorisation).
            Bad([series("redis_sentinel_master_ok_sentinels", {**sentinel(1), **SENTINEL_SET, "master_address": "redis-ha-0:6379"}, 3),
                 series("redis_sentinel_master_ckquorum_status", {**sentinel(1), **SENTINEL_SET, "message": "NOQUORUM 3 usable Sentinels"}, 0)],
                [({**sentinel(1), **SENTINEL_SET}, 0)]),
        ],
        [series("redis_sentinel_master_ok_sentinels", {**sentinel(0), **SENTINEL_SET, "master_address": "redis-ha-0:6379"}, 2),
         series("redis_sentinel_master_ckquorum_status", {**sentinel(0), **SENTINEL_SET, "message": "OK 2 usable Sentinels"}, 1)],
    ),
    "RedisReplicasMissing": Case(
        [Bad([series("redis_connected_slaves", pod(0), 1), series("redis_instance_info", {**pod(0), **MASTER}, 1),
              series("redis_connected_slaves", pod(1), 0), series("redis_instance_info", {**pod(1), **REPLICA}, 1)], [(pod(0), 1)])],
        [series("redis_connected_slaves", pod(0), 2), series("redis_instance_info", {**pod(0), **MASTER}, 1),
         series("redis_connected_slaves", pod(1), 0), series("redis_instance_info", {**pod(1), **REPLICA}, 1)],
    ),
    "RedisMasterFlapping": Case(
        [Bad(flapping_series(), [({"namespace": NS}, 2)], at="30m", quiet_before="15m")],
        [series("redis_start_time_seconds", pod(0), 1000), series("redis_instance_info", {**pod(0), **MASTER}, 1)],
    ),
    "RedisBackupFailed": Case(
        [
            # The newest run failed; the last success is older than its start.
            Bad(backup_job("redis-ha-backup-29400000", started=2000) + [last_success(1000)], [({"namespace": NS, "job_name": "redis-ha-backup-29400000"}, 1)]),
            # No backup ever succeeded.
            Bad(backup_job("redis-ha-backup-29400000"), [({"namespace": NS, "job_name": "redis-ha-backup-29400000"}, 1)]),
        ],
        # A failure followed by a success; a failed Job of another CronJob; a run that did not fail.
        backup_job("redis-ha-backup-29400000", started=1000) + [last_success(2000)]
        + backup_job("nightly-report-1", owner="nightly-report") + backup_job("redis-ha-backup-29400001", failed=0, started=3000),
        OTHER_BACKUPS,
    ),
    "RedisBackupMissing": Case(
        [
            # Last success 100000 s before time 0; evaluated at 5m.
            Bad([last_success(-100_000), series("kube_cronjob_created", ksm(cronjob="redis-ha-backup"), -200_000)], [({"namespace": NS}, 100_300)]),
            # Created long ago, never succeeded.
            Bad([series("kube_cronjob_created", ksm(cronjob="redis-ha-backup"), -100_000)], [({"namespace": NS}, 100_300)]),
        ],
        # A recent success; a CronJob created recently that has not run yet.
        [last_success(0), series("kube_cronjob_created", ksm(cronjob="redis-ha-backup"), -1_000)],
        OTHER_BACKUPS,
    ),
}

# Every alert the chart has: the backup alerts are rendered with backup.enabled only.
GROUPS = rule_groups({"backup": {"enabled": True}})
ALERTS = alerts(GROUPS)


def test_every_alert_has_a_promtool_case():
    """The cases below cover exactly the alerts the chart renders: by default, and with backups."""
    assert sorted(CASES) == sorted(ALERTS)
    assert sorted(alerts(rule_groups())) == sorted(set(ALERTS) - {"RedisBackupFailed", "RedisBackupMissing"})


def test_promtool_check_rules(tmp_path):
    """`promtool check rules` accepts the groups extracted from the rendered PrometheusRule."""
    rules = write_rules(GROUPS, tmp_path / "rules.yaml")
    proc = subprocess.run([binary("promtool"), "check", "rules", str(rules)], capture_output=True, text=True, check=False)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert f"SUCCESS: {len(ALERTS)} rules found" in proc.stdout


def minutes(s: int) -> str:
    return f"{s // 60}m"


def other_release(items: list[dict], old: str, new: str) -> list[dict]:
    return [{**s, "series": s["series"].replace(old, new)} for s in items]


def promtool_tests(name: str) -> list[dict]:
    """promtool test groups for one alert: fires on each bad set after `for`, quiet before it, quiet
    on healthy series, quiet on the bad series of another namespace or another scrape job."""
    rule, case = ALERTS[name], CASES[name]
    hold = seconds(rule["for"])
    tests = []
    for n, bad in enumerate(case.bad):
        at = bad.at or minutes(hold + 300)
        fired = []
        for labels, value in bad.fired:
            out = {**labels, **rule["labels"]}
            fired.append({"exp_labels": out, "exp_annotations": {k: expand(v, out, value) for k, v in rule["annotations"].items()}})
        checks = [{"eval_time": at, "alertname": name, "exp_alerts": fired}]
        before = bad.quiet_before or (minutes(hold - STEP) if hold >= STEP else None)
        if before:
            checks.append({"eval_time": before, "alertname": name, "exp_alerts": []})
        tests.append({"name": f"{name} fires on bad series {n}", "interval": "1m", "input_series": bad.series, "alert_rule_test": checks})
        for old, new in case.others:
            tests.append({"name": f"{name} ignores bad series {n} of another release ({new})", "interval": "1m",
                          "input_series": other_release(bad.series, old, new), "alert_rule_test": [{"eval_time": at, "alertname": name, "exp_alerts": []}]})
    tests.append({"name": f"{name} stays quiet on healthy series", "interval": "1m", "input_series": case.healthy,
                  "alert_rule_test": [{"eval_time": minutes(t), "alertname": name, "exp_alerts": []} for t in (hold + 300, (POINTS - 1) * STEP)]})
    return tests


@pytest.mark.parametrize("name", sorted(CASES))
def test_promtool_alert(name, tmp_path):
    """`promtool test rules`: the alert fires after its `for` on bad series, and only there."""
    rules = write_rules(GROUPS, tmp_path / "rules.yaml")
    spec = {"rule_files": [rules.name], "evaluation_interval": "1m", "tests": promtool_tests(name)}
    (tmp_path / "test.yaml").write_text(yaml.safe_dump(spec, sort_keys=False))
    proc = subprocess.run([binary("promtool"), "test", "rules", "test.yaml"], cwd=tmp_path, capture_output=True, text=True, check=False)
    assert proc.returncode == 0, proc.stdout + proc.stderr
