# SPDX-License-Identifier: Apache-2.0
"""templates/configmap.yaml and configmap-scripts.yaml"""
from pathlib import Path

from tests.helm import CHART, by_kind_name, render_chart


def conf(values=None, key="redis.conf"):
    return by_kind_name(render_chart(values), "ConfigMap", "redis-ha-config")["data"][key].splitlines()


class TestRedisConf:
    def test_defaults(self):
        """Persistence defaults: RDB rules, AOF everysec, noeviction."""
        lines = conf()
        assert 'save "3600 1 300 100 60 10000"' in lines
        assert "appendonly yes" in lines
        assert "appendfsync everysec" in lines
        assert "maxmemory-policy noeviction" in lines
        assert not [line for line in lines if line.startswith("maxmemory ")]

    def test_settings_as_values(self):
        """maxmemory, policy, save, AOF, min-replicas, disabled and renamed commands, extra lines (repeating keys)."""
        lines = conf({"redis": {
            "config": {"maxmemory": "2gb", "maxmemoryPolicy": "allkeys-lru", "save": "60 10000", "appendonly": False, "appendfsync": "always",
                       "minReplicasToWrite": 1, "minReplicasMaxLag": 5, "disableCommands": ["FLUSHALL"], "renameCommands": {"KEYS": "hidden-keys"}},
            "extraConfig": ["save 900 1", "save 300 10"],
        }})
        for expected in ("maxmemory 2gb", "maxmemory-policy allkeys-lru", 'save "60 10000"', "appendonly no", "appendfsync always",
                         "min-replicas-to-write 1", "min-replicas-max-lag 5", 'rename-command FLUSHALL ""', 'rename-command KEYS "hidden-keys"',
                         "save 900 1", "save 300 10"):
            assert expected in lines
        assert lines[-2:] == ["save 900 1", "save 300 10"]

    def test_no_secret_in_config(self):
        """docs/design.md rule 4: the password never lands in a ConfigMap."""
        docs = render_chart({"auth": {"password": "s3cr3t-in-values"}})
        for cm in (d for d in docs if d["kind"] == "ConfigMap"):
            assert "s3cr3t-in-values" not in str(cm)


class TestSentinelConf:
    def test_settings_as_values(self):
        """down-after, failover-timeout, parallel-syncs per master set, extra lines last."""
        lines = conf({"sentinel": {"masterSet": "cache", "downAfterMilliseconds": 2500, "failoverTimeout": 20000, "parallelSyncs": 2, "extraConfig": ["sentinel deny-scripts-reconfig yes"]}}, "sentinel.conf")
        assert lines[:3] == ["sentinel down-after-milliseconds cache 2500", "sentinel failover-timeout cache 20000", "sentinel parallel-syncs cache 2"]
        assert lines[-1] == "sentinel deny-scripts-reconfig yes"

    def test_default_down_after_meets_the_rto_budget(self):
        """The AIKernel reference deployment's 5 s budget asks for the lowest down-after that stays clear of false failovers: 2 s."""
        assert "sentinel down-after-milliseconds mymaster 2000" in conf(key="sentinel.conf")


class TestScripts:
    def test_every_script_is_shipped(self):
        """All files/scripts/*.sh are in the scripts ConfigMap, byte for byte."""
        data = by_kind_name(render_chart(), "ConfigMap", "redis-ha-scripts")["data"]
        scripts = {p.name: p.read_text() for p in (CHART / "files" / "scripts").glob("*.sh")}
        assert data == scripts

    def test_scripts_have_no_template_actions(self):
        """The scripts are plain POSIX sh, not templates (CONTRIBUTING.md, "Add script behaviour")."""
        for p in Path(CHART / "files" / "scripts").glob("*.sh"):
            assert "{{" not in p.read_text(), p.name
