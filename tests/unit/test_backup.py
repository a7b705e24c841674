# SPDX-License-Identifier: Apache-2.0
"""templates/cronjob-backup.yaml, pvc-backup.yaml and job-restore.yaml: scheduled backups and the
restore of a chosen backup at install (docs/operations.md, "Backups"). What each template renders
is proven by its suite in charts/redis-ha/tests/; here, what spans templates and the validation."""
from __future__ import annotations

import pytest

from tests.helm import CHART, HelmTemplateError, by_kind_name, of_kind, render_chart

BACKUP = {"backup": {"enabled": True}}
ACL = {"acl": {"enabled": True, "existingSecret": "acl"}}


def pod_spec(owner: dict) -> dict:
    spec = owner["spec"]
    return (spec.get("jobTemplate", {}).get("spec") or spec)["template"]["spec"]


def volumes(spec: dict) -> dict:
    return {v["name"]: v for v in spec["volumes"]}


class TestCronJob:
    def test_off_by_default(self, default_docs):
        """backup.enabled defaults to false: no CronJob, claim or Job but the ordered rollout's."""
        assert not [d for d in default_docs if d["kind"] in ("CronJob", "Job", "PersistentVolumeClaim") and d["metadata"]["name"] != "redis-ha-rollout"]

    def test_reaches_redis_through_a_restricted_network_policy(self):
        """networkPolicy.allowExternal=false: the backup pod's labels match the NetworkPolicy's client rule on the Redis port."""
        docs = render_chart({**BACKUP, "networkPolicy": {"allowExternal": False}})
        labels = by_kind_name(docs, "CronJob", "redis-ha-backup")["spec"]["jobTemplate"]["spec"]["template"]["metadata"]["labels"]
        ingress = by_kind_name(docs, "NetworkPolicy", "redis-ha")["spec"]["ingress"]
        admitted = [rule for rule in ingress if {"port": 6379, "protocol": "TCP"} in rule["ports"]
                    and any(peer["podSelector"]["matchLabels"].items() <= labels.items() for peer in rule.get("from", []))]
        assert admitted, (labels, ingress)

    def test_backup_acl_user_is_allowed_only_a_snapshot(self):
        """The backup user may PING, ROLE, REPLCONF and SYNC; it exists only with backups."""
        acl = by_kind_name(render_chart({**BACKUP, **ACL}), "ConfigMap", "redis-ha-config")["data"]["redis-users.acl"]
        assert "backup backup -@all +auth +hello +ping +role +replconf +sync" in acl.splitlines()
        assert "backup" not in by_kind_name(render_chart(ACL), "ConfigMap", "redis-ha-config")["data"]["redis-users.acl"]

    @pytest.mark.parametrize(("values", "present"), [pytest.param(ACL, False, id="backup-off"), pytest.param({**BACKUP, **ACL}, True, id="backup-on")])
    def test_pods_load_the_backup_password_only_with_backups(self, values, present):
        """The Redis pods need the backup user's password file only when the user exists, so an
        acl.existingSecret without that key keeps working with backups off."""
        sts = by_kind_name(render_chart(values), "StatefulSet", "redis-ha")
        sources = volumes(sts["spec"]["template"]["spec"])["secret"]["projected"]["sources"]
        paths = [i["path"] for s in sources for i in s["secret"].get("items", [])]
        assert ("acl/backup" in paths) is present


class TestClaim:
    @pytest.mark.parametrize(("persistence", "claim"), [
        pytest.param({}, "redis-ha-backup", id="chart-claim"),
        pytest.param({"existingClaim": "old-backups"}, "old-backups", id="existing-claim"),
    ])
    def test_backup_writes_to_the_claim_the_chart_makes_or_the_one_named(self, persistence, claim):
        """The CronJob mounts the chart's claim, or backup.persistence.existingClaim when no claim of the chart's is made."""
        docs = render_chart({"backup": {"enabled": True, "persistence": persistence}})
        made = [d["metadata"]["name"] for d in of_kind(docs, "PersistentVolumeClaim")]
        assert made == ([] if persistence else [claim])
        assert volumes(pod_spec(by_kind_name(docs, "CronJob", "redis-ha-backup")))["backups"]["persistentVolumeClaim"]["claimName"] == claim


class TestRestore:
    def test_restore_job_puts_the_chosen_backup_on_the_claim_pod_0_uses(self):
        """backup.restore.file: the claim the restore Job writes is the one the StatefulSet's pod 0
        will use (same name, same spec and labels), and its scripts are this chart's."""
        docs = render_chart({"backup": {"restore": {"file": "20261203T030000Z.rdb"}}})
        job = by_kind_name(docs, "Job", "redis-ha-restore")
        claim = by_kind_name(docs, "PersistentVolumeClaim", "data-redis-ha-0")
        assert volumes(job["spec"]["template"]["spec"])["data"]["persistentVolumeClaim"]["claimName"] == claim["metadata"]["name"]
        sts = by_kind_name(docs, "StatefulSet", "redis-ha")
        template = sts["spec"]["volumeClaimTemplates"][0]
        assert f'{template["metadata"]["name"]}-{sts["metadata"]["name"]}-0' == claim["metadata"]["name"]
        assert (template["spec"], template["metadata"]["labels"].items() <= claim["metadata"]["labels"].items()) == (claim["spec"], True)
        scripts = by_kind_name(docs, "ConfigMap", "redis-ha-restore-scripts")
        assert scripts["data"] == {n: (CHART / "files" / "scripts" / n).read_text() for n in ("lib.sh", "restore-backup.sh")}

    def test_restore_needs_persistence(self):
        """Without persistence there is no claim to restore onto."""
        with pytest.raises(HelmTemplateError, match=r"backup.restore.file: needs persistence.enabled=true"):
            render_chart({"persistence": {"enabled": False}, "backup": {"restore": {"file": "latest"}}})

    def test_restore_file_is_a_name_not_a_path(self):
        """The schema refuses a path: the file is looked up in the backup volume."""
        with pytest.raises(HelmTemplateError, match=r"/backup/restore/file"):
            render_chart({"backup": {"restore": {"file": "../etc/passwd"}}})
