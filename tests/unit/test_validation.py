# SPDX-License-Identifier: Apache-2.0
"""Bad values fail at render time with a message naming the value; each has a passing twin."""
import pytest

from tests.helm import HelmTemplateError, render_chart

BAD = [
    pytest.param({"replicas": 4}, r"replicas: must be odd .* got 4", id="even-replicas"),
    pytest.param({"replicas": 2}, r"replicas: must be odd .* got 2", id="two-replicas"),
    pytest.param({"sentinel": {"replicas": 4}}, r"sentinel.replicas: must be odd and at least 3 \(3, 5, 7, ...\) so a majority of Sentinels can elect a leader; got 4", id="even-sentinel-replicas"),
    pytest.param({"sentinel": {"replicas": 1}}, r"sentinel.replicas: must be odd and at least 3 \(3, 5, 7, ...\) so a majority of Sentinels can elect a leader; got 1", id="one-sentinel"),
    pytest.param({"sentinel": {"quorum": 1}}, r"sentinel.quorum: must be between 2 \(a majority of the 3 Sentinels\) and 3; got 1\. Leave it empty to derive it", id="quorum-below-majority"),
    pytest.param({"sentinel": {"quorum": 4}}, r"sentinel.quorum: must be between 2 \(a majority of the 3 Sentinels\) and 3; got 4", id="quorum-above-sentinels"),
    pytest.param({"replicas": 5, "sentinel": {"quorum": 4}}, r"sentinel.quorum: must be between 2 \(a majority of the 3 Sentinels\) and 3; got 4", id="quorum-counts-sentinels-not-redis-pods"),
    pytest.param({"sentinel": {"replicas": 5, "quorum": 6}}, r"sentinel.quorum: must be between 3 \(a majority of the 5 Sentinels\) and 5; got 6", id="quorum-above-sentinel-replicas"),
    pytest.param({"sentinel": {"colocated": True, "quorum": 4}}, r"sentinel.quorum: must be between 2 \(a majority of the 3 Sentinels\) and 3; got 4", id="colocated-quorum-above-replicas"),
    pytest.param({"boot": {"port": 6379}}, r"redis.port and boot.port: both are 6379; every port the pods and Services open needs a number of its own", id="boot-port-is-redis-port"),
    pytest.param({"boot": {"port": 26379}}, r"sentinel.port and boot.port: both are 26379;", id="boot-port-is-sentinel-port"),
    pytest.param({"boot": {"port": 9355}}, r"boot.port and metrics.sentinelPort: both are 9355;", id="boot-port-is-exporter-port"),
    pytest.param({"redis": {"port": 16379}}, r"redis.port and boot.port: both are 16379;", id="redis-port-moved-onto-boot-port"),
    pytest.param({"redis": {"port": 26379}}, r"redis.port and sentinel.port: both are 26379;", id="redis-port-is-sentinel-port"),
    pytest.param({"metrics": {"port": 6379}}, r"redis.port and metrics.port: both are 6379;", id="exporter-port-is-redis-port"),
    pytest.param({"sentinel": {"port": 9355}}, r"sentinel.port and metrics.sentinelPort: both are 9355;", id="sentinel-port-is-sentinel-exporter-port"),
    pytest.param({"redis": {"port": 9121}, "sentinel": {"port": 9121}}, r"redis.port, sentinel.port and metrics.port: all are 9121;", id="three-values-one-port"),
    pytest.param({"auth": {"enabled": False, "password": "p"}}, r"auth.password: needs auth.enabled=true; with auth off Redis and Sentinel ask for no password", id="password-without-auth"),
    pytest.param({"auth": {"enabled": False, "existingSecret": "s"}}, r"auth.existingSecret: needs auth.enabled=true", id="existing-secret-without-auth"),
    pytest.param({"auth": {"password": "p", "existingSecret": "s"}}, r"auth.password: set either auth.password or auth.existingSecret", id="password-and-existing-secret"),
    pytest.param({"pdb": {"minAvailable": 3}}, r"pdb.minAvailable: must be lower than replicas \(3\).* got 3", id="pdb-blocks-every-drain"),
    pytest.param({"persistence": {"size": "ten gigs"}}, r'persistence.size: must be a Kubernetes quantity such as 10Gi; got "ten gigs"', id="size-not-quantity"),
    pytest.param({"metrics": {"podMonitor": {"enabled": True}, "serviceMonitor": {"enabled": True}}}, r"metrics.podMonitor.enabled: enable either metrics.podMonitor or metrics.serviceMonitor, not both", id="both-monitors"),
    pytest.param({"metrics": {"enabled": False, "podMonitor": {"enabled": True}}}, r"metrics.podMonitor.enabled: needs metrics.enabled=true", id="pod-monitor-without-exporter"),
    pytest.param({"metrics": {"enabled": False, "grafanaDashboard": {"enabled": True}}}, r"metrics.grafanaDashboard.enabled: needs metrics.enabled=true", id="dashboard-without-exporter"),
    pytest.param({"metrics": {"sentinelPort": 9121}}, r"metrics.port and metrics.sentinelPort: both are 9121;", id="sentinel-exporter-port-clash"),
    pytest.param({"metrics": {"enabled": False, "serviceMonitor": {"enabled": True}}}, r"metrics.serviceMonitor.enabled: needs metrics.enabled=true", id="monitor-without-exporter"),
    pytest.param({"migration": {"enabled": True}}, r"migration.source.host: migration.enabled needs the host name or address of the running master to follow", id="migration-without-source"),
    pytest.param({"migration": {"enabled": True, "source": {"host": "redis-master.old"}}},
                 r"migration.source.existingSecret: name the Secret holding the source's password under the key password \(migration.source.passwordKey\)", id="migration-without-secret"),
    pytest.param({"migration": {"source": {"host": "redis-master.old", "passwordKey": "redis-password"}}}, r"migration.source.existingSecret: .* under the key redis-password", id="cutover-without-secret"),
    pytest.param({"migration": {"enabled": True, "source": {"host": "redis-master.old", "existingSecret": "s", "tls": {"enabled": True}}}},
                 r"migration.source.tls.enabled: needs tls.enabled=true; Redis replicates over TLS with the pods' own certificate", id="migration-tls-without-own-tls"),
    pytest.param({"migration": {"enabled": True, "source": {"host": "redis-ha-headless", "existingSecret": "s"}}},
                 r"migration.source.host: redis-ha-headless is a pod or Service of this release; name the master of the Redis you migrate from", id="migration-from-itself"),
    pytest.param({"migration": {"enabled": True, "source": {"host": "redis-ha-1.redis-ha-headless.default.svc.cluster.local", "existingSecret": "s"}}},
                 r"migration.source.host: redis-ha-1.redis-ha-headless.default.svc.cluster.local is a pod", id="migration-from-own-pod"),
    pytest.param({"migration": {"enabled": True, "source": {"host": "old-redis", "existingSecret": "s"}}, "backup": {"enabled": True, "restore": {"file": "latest"}}},
                 r"backup.restore.file: a release that follows an external master \(migration.enabled\) takes its data from that master", id="migration-with-restore"),
    pytest.param({"redis": {"config": {"disableCommands": ["FLUSHALL", "config"]}}},
                 r"redis.config.disableCommands: CONFIG is needed by Sentinel or the chart's scripts \(CONFIG, REPLICAOF, .*\); remove it", id="disable-config"),
    pytest.param({"redis": {"config": {"renameCommands": {"CLIENT": "c1"}}}},
                 r"redis.config.renameCommands: CLIENT is needed by Sentinel or the chart's scripts", id="rename-client"),
]

GOOD = [
    pytest.param({"redis": {"config": {"disableCommands": ["FLUSHALL", "KEYS"], "renameCommands": {"DEBUG": ""}}}}, id="disable-commands-nobody-needs"),
    pytest.param({"replicas": 5}, id="odd-replicas"),
    pytest.param({"replicas": 1}, id="single"),
    pytest.param({"sentinel": {"replicas": 5}}, id="odd-sentinel-replicas"),
    pytest.param({"sentinel": {"colocated": True, "replicas": 4}}, id="sentinel-replicas-ignored-when-colocated"),
    pytest.param({"replicas": 1, "sentinel": {"replicas": 4}}, id="sentinel-replicas-ignored-when-single"),
    pytest.param({"sentinel": {"quorum": 2}}, id="quorum-majority"),
    pytest.param({"sentinel": {"quorum": 3}}, id="quorum-all"),
    pytest.param({"replicas": 5, "sentinel": {"quorum": 3}}, id="quorum-all-sentinels-of-five-redis-pods"),
    pytest.param({"sentinel": {"replicas": 5, "quorum": 5}}, id="quorum-all-of-five-sentinels"),
    pytest.param({"replicas": 5, "sentinel": {"colocated": True, "quorum": 4}}, id="colocated-quorum-within-replicas"),
    pytest.param({"boot": {"port": 16380}}, id="boot-port-free"),
    pytest.param({"replicas": 1, "boot": {"port": 6379}}, id="boot-port-unused-when-single"),
    pytest.param({"boot": {"port": 6380}}, id="boot-port-on-the-plain-port-with-tls-off"),
    pytest.param({"boot": {"port": 9121}, "metrics": {"enabled": False}}, id="boot-port-on-the-exporter-port-with-metrics-off"),
    pytest.param({"replicas": 1, "sentinel": {"port": 6379}, "metrics": {"sentinelPort": 9121}}, id="sentinel-ports-unused-when-single"),
    pytest.param({"auth": {"enabled": False}}, id="auth-off-without-password"),
    pytest.param({"auth": {"existingSecret": "s"}}, id="existing-secret-alone"),
    pytest.param({"pdb": {"minAvailable": 2}}, id="pdb-two"),
    pytest.param({"pdb": {"minAvailable": "50%"}}, id="pdb-percent"),
    pytest.param({"persistence": {"size": "1.5Gi"}}, id="size-quantity"),
    pytest.param({"persistence": {"enabled": False, "size": "whatever"}}, id="size-ignored-without-persistence"),
    pytest.param({"metrics": {"podMonitor": {"enabled": True}}}, id="pod-monitor-alone"),
    pytest.param({"metrics": {"grafanaDashboard": {"enabled": True}, "prometheusRule": {"enabled": True}}}, id="dashboard-and-rule"),
    pytest.param({"metrics": {"enabled": False, "prometheusRule": {"enabled": True}}}, id="rule-skipped-without-exporter"),
    pytest.param({"replicas": 1, "metrics": {"sentinelPort": 9121}}, id="sentinel-exporter-port-unused-when-single"),
    pytest.param({"migration": {"enabled": True, "source": {"host": "redis-master.old", "existingSecret": "s"}}}, id="migration-with-source-and-secret"),
    pytest.param({"replicas": 1, "migration": {"enabled": True, "source": {"host": "redis-master.old", "existingSecret": "s"}}}, id="migration-single"),
    pytest.param({"migration": {"enabled": True, "source": {"host": "redis-ha-announce-0.old-ns.svc.cluster.local", "existingSecret": "s"}}}, id="migration-from-a-namesake-in-another-namespace"),
    pytest.param({"tls": {"enabled": True, "existingSecret": "t"}, "migration": {"enabled": True, "source": {"host": "redis-master.old", "existingSecret": "s", "tls": {"enabled": True}}}}, id="migration-tls"),
    pytest.param({"migration": {"source": {"tls": {"enabled": False}}}}, id="migration-settings-without-source"),
]


@pytest.mark.parametrize(("values", "message"), BAD)
def test_should_fail_with_message_naming_the_value(values, message):
    """Each bad combination names the value to fix."""
    with pytest.raises(HelmTemplateError, match=message):
        render_chart(values)


@pytest.mark.parametrize("values", GOOD)
def test_should_render_the_passing_twin(values):
    """The nearby valid values render."""
    assert any(d["kind"] == "StatefulSet" for d in render_chart(values))


def test_should_name_each_port_clash_once():
    """Two values on one port give one message naming both, not one per direction."""
    with pytest.raises(HelmTemplateError) as err:
        render_chart({"boot": {"port": 6379}})
    assert str(err.value).count("boot.port") == 1


def test_should_report_every_problem_at_once():
    """One failure lists all problems, not only the first."""
    with pytest.raises(HelmTemplateError) as err:
        render_chart({"replicas": 4, "sentinel": {"replicas": 4}, "boot": {"port": 6379}, "auth": {"password": "p", "existingSecret": "s"}, "persistence": {"size": "x"}})
    for field in ("replicas:", "sentinel.replicas:", "redis.port and boot.port:", "auth.password:", "persistence.size:"):
        assert field in str(err.value)


@pytest.mark.parametrize("monitor", ["serviceMonitor", "podMonitor"])
def test_should_fail_when_monitor_api_is_missing(monitor):
    """metrics.serviceMonitor/podMonitor.enabled without the Prometheus Operator API fails clearly."""
    with pytest.raises(HelmTemplateError, match=rf"metrics.{monitor}.enabled: the cluster has no monitoring.coreos.com/v1"):
        render_chart({"metrics": {monitor: {"enabled": True}}}, api_versions=())


SCHEMA_BAD = [
    pytest.param({"engine": "memcached"}, r"at '/engine': value must be one of 'redis', 'valkey'", id="engine-unknown"),
    pytest.param({"engine": "Valkey"}, r"at '/engine': value must be one of 'redis', 'valkey'", id="engine-capitalised"),
    pytest.param({"replicas": "three"}, "replicas", id="replicas-string"),
    pytest.param({"replicas": 0}, "replicas", id="replicas-zero"),
    pytest.param({"podAntiAffinity": "sometimes"}, "podAntiAffinity", id="anti-affinity-enum"),
    pytest.param({"sentinel": {"quorum": "two"}}, "quorum", id="quorum-word"),
    pytest.param({"redis": {"config": {"maxmemoryPolicy": "lru"}}}, "maxmemoryPolicy", id="policy-enum"),
    pytest.param({"redis": {"prot": 6380}}, "prot", id="unknown-redis-key"),
    pytest.param({"sentinel": {"downAfterMs": 1000}}, "downAfterMs", id="unknown-sentinel-key"),
    pytest.param({"sentinel": {"colocated": "yes"}}, "/sentinel/colocated", id="colocated-string"),
    pytest.param({"sentinel": {"failoverTimeout": 2999}}, r"at '/sentinel/failoverTimeout': minimum: got 2,?999, want 3,?000", id="failover-timeout-below-3000"),
    pytest.param({"redis": {"config": {"replDisklessSyncDelay": -1}}}, r"at '/redis/config/replDisklessSyncDelay': minimum: got -1, want 0", id="diskless-sync-delay-negative"),
    pytest.param({"boot": {"attempts": 30}}, r"at '/boot': additional properties 'attempts' not allowed", id="boot-attempts-removed"),
    pytest.param({"boot": {"port": 70000}}, "/boot/port", id="boot-port-range"),
    pytest.param({"auth": {"enabled": "yes"}}, "enabled", id="auth-enabled-string"),
    pytest.param({"persistence": {"retentionPolicy": {"whenDeleted": "Keep"}}}, "whenDeleted", id="retention-enum"),
    pytest.param({"unknownTopLevel": 1}, "unknownTopLevel", id="unknown-top-level"),
    pytest.param({"pdb": {"minAvailable": "half"}}, r"at '/pdb/minAvailable'", id="pdb-min-available-word"),
    pytest.param({"sentinel": {"masterSet": "my master"}}, r"at '/sentinel/masterSet'", id="master-set-with-space"),
    pytest.param({"podAntiAffinity": "maybe"}, r"at '/podAntiAffinity': value must be one of 'soft', 'hard', 'none'", id="anti-affinity-message"),
    pytest.param({"metrics": {"prometheusRule": {"alerts": {"RedisDown": {"fro": "5m"}}}}}, "fro", id="alert-key-misspelt"),
    pytest.param({"metrics": {"prometheusRule": {"alerts": {"RedisDwn": {"enabled": False}}}}}, "RedisDwn", id="alert-name-unknown"),
    pytest.param({"metrics": {"prometheusRule": {"alerts": {"RedisMemoryHigh": {"threshold": "ninety"}}}}}, "RedisMemoryHigh/threshold", id="alert-threshold-word"),
    pytest.param({"metrics": {"prometheusRule": {"alerts": {"RedisDown": {"for": "5 minutes"}}}}}, "5 minutes", id="alert-for-not-duration"),
    pytest.param({"metrics": {"prometheusRule": {"selector": '{job="x"}'}}}, "selector", id="selector-with-braces"),
]


@pytest.mark.parametrize(("values", "field"), SCHEMA_BAD)
def test_schema_should_reject_wrong_types_and_unknown_keys(values, field):
    """values.schema.json names the offending field."""
    with pytest.raises(HelmTemplateError, match=field):
        render_chart(values)


@pytest.mark.parametrize("values", [
    pytest.param({"sentinel": {"failoverTimeout": 3000}}, id="failover-timeout-3000"),
    pytest.param({"sentinel": {"replicas": 3}}, id="three-sentinels"),
    pytest.param({"boot": {"port": 65535}}, id="boot-port-max"),
    pytest.param({"engine": "valkey"}, id="engine-valkey"),
])
def test_schema_accepts_the_passing_twins(values):
    """The schema's bounds are inclusive (failoverTimeout 3000, three Sentinels, port 65535); valkey is an engine."""
    assert render_chart(values)


def test_schema_accepts_free_form_sections():
    """Kubernetes-owned objects (resources, affinity, podLabels) stay open."""
    values = {
        "redis": {"resources": {"limits": {"memory": "1Gi"}}},
        "affinity": {"nodeAffinity": {}},
        "podLabels": {"team": "cache"},
        "global": {"imageRegistry": "x"},
    }
    assert render_chart(values)
