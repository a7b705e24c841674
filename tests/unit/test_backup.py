# SPDX-License-Identifier: Apache-2.0
"""templates/cronjob-backup.yaml, pvc-backup.yaml and job-restore.yaml: scheduled backups and the
restore of a chosen backup at install (docs/operations.md, "Backups")."""
from __future__ import annotations

import pytest

from tests.helm import CHART, HelmTemplateError, by_kind_name, container, env_of, of_kind, render_chart

BACKUP = {"backup": {"enabled": True}}
ACL = {"acl": {"enabled": True, "existingSecret": "acl"}}


def cronjob(values: dict) -> dict:
    return by_kind_name(render_chart(values), "CronJob", "redis-ha-backup")


def pod_spec(owner: dict) -> dict:
    spec = owner["spec"]
    return (spec.get("jobTemplate", {}).get("spec") or spec)["template"]["spec"]


def volumes(spec: dict) -> dict:
    return {v["name"]: v for v in spec["volumes"]}


class TestCronJob:
    def test_off_by_default(self, default_docs):
        """backup.enabled defaults to false: no CronJob, claim or Job."""
        assert not [d for d in default_docs if d["kind"] in ("CronJob", "Job", "PersistentVolumeClaim")]

    @pytest.mark.parametrize(("values", "image"), [
        pytest.param({}, "docker.io/library/redis:7.2.7", id="redis"),
        pytest.param({"engine": "valkey"}, "docker.io/valkey/valkey:8.1.1", id="valkey"),
    ])
    def test_runs_the_backup_script_with_the_engine_image(self, values, image):
        """The Job runs files/scripts/backup.sh with the server image, keep and timeout from values."""
        cj = cronjob({**values, "backup": {"enabled": True, "keep": 3, "timeoutSeconds": 600, "schedule": "*/30 * * * *"}})
        assert cj["spec"]["schedule"] == "*/30 * * * *"
        assert cj["spec"]["concurrencyPolicy"] == "Forbid"
        assert cj["spec"]["jobTemplate"]["spec"]["activeDeadlineSeconds"] == 900
        c = container(cj["spec"]["jobTemplate"]["spec"]["template"], "backup")
        assert c["image"] == image and c["command"] == ["sh", "/scripts/backup.sh"]
        env = env_of(c)
        assert env["BACKUP_KEEP"] == "3" and env["BACKUP_TIMEOUT"] == "600"
        assert {m["mountPath"] for m in c["volumeMounts"]} == {"/backups", "/config", "/scripts", "/tmp", "/secrets"}
        assert pod_spec(cj)["restartPolicy"] == "Never" and pod_spec(cj)["automountServiceAccountToken"] is False

    def test_reaches_redis_through_a_restricted_network_policy(self):
        """The backup pod carries the client label and the release's labels, which the NetworkPolicy admits."""
        labels = cronjob({**BACKUP, "networkPolicy": {"allowExternal": False}})["spec"]["jobTemplate"]["spec"]["template"]["metadata"]["labels"]
        assert labels["redis-ha-client"] == "true"
        assert labels["app.kubernetes.io/instance"] == "redis-ha" and labels["app.kubernetes.io/component"] == "backup"

    @pytest.mark.parametrize(("values", "items"), [
        pytest.param(BACKUP, [{"key": "password", "path": "password"}], id="password"),
        pytest.param({**BACKUP, **ACL}, [{"key": "backup-password", "path": "acl/backup"}], id="acl-backup-user-only"),
    ])
    def test_mounts_only_the_login_it_needs(self, values, items):
        """Without ACL users the password; with them only the backup user's password, not the others'."""
        secret = volumes(pod_spec(cronjob(values)))["secret"]["secret"]
        assert secret["items"] == items and secret["defaultMode"] == 0o400

    def test_no_secret_without_auth(self):
        """auth.enabled=false: nothing to mount."""
        assert "secret" not in volumes(pod_spec(cronjob({**BACKUP, "auth": {"enabled": False}})))

    def test_tls_files_reach_the_backup(self):
        """tls.enabled: the backup speaks TLS with the pods' certificate and CA."""
        spec = pod_spec(cronjob({**BACKUP, "tls": {"enabled": True, "existingSecret": "t"}}))
        assert volumes(spec)["tls"]["secret"]["secretName"] == "t"
        assert env_of(container({"spec": {"containers": spec["containers"]}}, "backup"))["TLS_ENABLED"] == "true"

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

    def test_upload_container_runs_after_the_backup(self):
        """backup.upload: the backup becomes an init container and the upload container gets the
        volume and the path of the file naming the new backup."""
        upload = {"name": "upload", "image": "example/up:1", "command": ["sh", "-c", "up \"$(cat \"$BACKUP_LATEST\")\""]}
        spec = pod_spec(cronjob({"backup": {"enabled": True, "upload": upload}}))
        assert [c["name"] for c in spec["initContainers"]] == ["backup"]
        (up,) = spec["containers"]
        assert up["name"] == "upload" and up["image"] == "example/up:1"
        assert {"name": "BACKUP_LATEST", "value": "/backups/.latest"} in up["env"]
        assert {"name": "backups", "mountPath": "/backups"} in up["volumeMounts"]
        assert up["securityContext"]["readOnlyRootFilesystem"] is True


class TestClaim:
    def test_claim_is_made_once_and_kept(self):
        """The chart's claim is a pre-install/pre-upgrade hook kept by helm uninstall, so the
        backups outlive the release and helm --wait never waits for it to bind."""
        pvc = by_kind_name(render_chart({"backup": {"enabled": True, "persistence": {"size": "5Gi", "storageClass": "slow"}}}), "PersistentVolumeClaim", "redis-ha-backup")
        assert pvc["metadata"]["annotations"]["helm.sh/hook"] == "pre-install,pre-upgrade"
        assert pvc["metadata"]["annotations"]["helm.sh/resource-policy"] == "keep"
        assert pvc["spec"]["resources"]["requests"]["storage"] == "5Gi" and pvc["spec"]["storageClassName"] == "slow"
        assert volumes(pod_spec(cronjob(BACKUP)))["backups"]["persistentVolumeClaim"]["claimName"] == "redis-ha-backup"

    def test_existing_claim_replaces_it(self):
        """backup.persistence.existingClaim: no claim of the chart's, the Job mounts the given one."""
        docs = render_chart({"backup": {"enabled": True, "persistence": {"existingClaim": "old-backups"}}})
        assert not of_kind(docs, "PersistentVolumeClaim")
        assert volumes(pod_spec(by_kind_name(docs, "CronJob", "redis-ha-backup")))["backups"]["persistentVolumeClaim"]["claimName"] == "old-backups"


class TestRestore:
    def test_restore_job_puts_the_chosen_backup_on_pod_0s_claim(self):
        """backup.restore.file: a pre-install Job runs restore-backup.sh with the backup volume and
        the claim pod 0 will use, made by a pre-install hook before it."""
        docs = render_chart({"backup": {"restore": {"file": "20261203T030000Z.rdb"}, "persistence": {"existingClaim": "old-backups"}}})
        job = by_kind_name(docs, "Job", "redis-ha-restore")
        assert job["metadata"]["annotations"]["helm.sh/hook"] == "pre-install"
        c = container(job["spec"]["template"], "restore-backup")
        assert c["command"] == ["sh", "/scripts/restore-backup.sh"] and env_of(c)["RESTORE_FILE"] == "20261203T030000Z.rdb"
        vols = volumes(job["spec"]["template"]["spec"])
        assert vols["data"]["persistentVolumeClaim"]["claimName"] == "data-redis-ha-0"
        assert vols["backups"]["persistentVolumeClaim"]["claimName"] == "old-backups"
        # A pre-install hook: nothing the release creates later (ServiceAccount, Secret, TLS, config).
        assert set(vols) == {"backups", "data", "scripts", "tmp"}, "the restore copies a file and logs in nowhere"
        assert "serviceAccountName" not in job["spec"]["template"]["spec"]
        scripts = by_kind_name(docs, "ConfigMap", "redis-ha-restore-scripts")
        assert vols["scripts"]["configMap"]["name"] == "redis-ha-restore-scripts"
        assert scripts["metadata"]["annotations"]["helm.sh/hook"] == "pre-install"
        assert int(scripts["metadata"]["annotations"]["helm.sh/hook-weight"]) < int(job["metadata"]["annotations"]["helm.sh/hook-weight"])
        assert scripts["data"] == {n: (CHART / "files" / "scripts" / n).read_text() for n in ("lib.sh", "restore-backup.sh")}
        claim = by_kind_name(docs, "PersistentVolumeClaim", "data-redis-ha-0")
        assert claim["metadata"]["annotations"]["helm.sh/hook"] == "pre-install"
        assert int(claim["metadata"]["annotations"]["helm.sh/hook-weight"]) < int(job["metadata"]["annotations"]["helm.sh/hook-weight"])
        sts = by_kind_name(docs, "StatefulSet", "redis-ha")
        template = sts["spec"]["volumeClaimTemplates"][0]
        assert (template["spec"], template["metadata"]["labels"].items() <= claim["metadata"]["labels"].items()) == (claim["spec"], True)

    def test_restore_needs_persistence(self):
        """Without persistence there is no claim to restore onto."""
        with pytest.raises(HelmTemplateError, match=r"backup.restore.file: needs persistence.enabled=true"):
            render_chart({"persistence": {"enabled": False}, "backup": {"restore": {"file": "latest"}}})

    def test_restore_file_is_a_name_not_a_path(self):
        """The schema refuses a path: the file is looked up in the backup volume."""
        with pytest.raises(HelmTemplateError, match=r"/backup/restore/file"):
            render_chart({"backup": {"restore": {"file": "../etc/passwd"}}})
