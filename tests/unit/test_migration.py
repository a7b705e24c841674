# SPDX-License-Identifier: Apache-2.0
"""migration.*: the settings the pods read, the source's password as a Secret file, the cutover
hook, and the pods left untouched by the cutover (docs/design.md, "Migration"). What each of
configmap-migration.yaml, configmap-cutover.yaml and job-cutover.yaml renders is proven by its
suite in charts/redis-ha/tests/; here, what spans templates."""
import pytest

from tests.helm import CHART, HelmTemplateError, by_kind_name, container, env_of, of_kind, render_chart

SOURCE = {"host": "redis-master.old.svc.cluster.local", "existingSecret": "old-redis"}
FOLLOWING = {"auth": {"password": "fixed"}, "migration": {"enabled": True, "source": SOURCE}}
CUTOVER = {"auth": {"password": "fixed"}, "migration": {"enabled": False, "source": SOURCE}}


def volume(spec: dict, name: str) -> dict:
    return next(v for v in spec["volumes"] if v["name"] == name)


def pod_templates(docs: list[dict]) -> list[dict]:
    return [d["spec"]["template"] for d in of_kind(docs, "StatefulSet")]


class TestWithoutASource:
    def test_should_not_exist_without_a_source(self):
        """No migration.source.host: nothing of the migration is rendered."""
        docs = render_chart({})
        assert not [d for d in docs if "migration" in d["metadata"]["name"] or "cutover" in d["metadata"]["name"]]
        assert "MIGRATION_DIR" not in env_of(container(by_kind_name(docs, "StatefulSet", "redis-ha"), "redis"))


class TestPods:
    @pytest.mark.parametrize("name", ["redis-ha", "redis-ha-sentinel"])
    def test_should_mount_the_settings_and_the_source_password_file(self, name):
        """The settings ConfigMap at /migration and migration.source.existingSecret's key as a 0400 file."""
        sts = by_kind_name(render_chart(FOLLOWING), "StatefulSet", name)
        spec = sts["spec"]["template"]["spec"]
        assert volume(spec, "migration")["configMap"]["name"] == "redis-ha-migration"
        secret = volume(spec, "migration-secret")["secret"]
        assert secret == {"secretName": "old-redis", "defaultMode": 0o400, "items": [{"key": "password", "path": "password"}]}
        c = spec["containers"][0]
        env = env_of(c)
        assert (env["MIGRATION_DIR"], env["MIGRATION_PASSWORD_FILE"], env["MIGRATION_CA_FILE"]) == ("/migration", "/migration-secret/password", "/tls/ca.crt")
        assert {"name": "migration-secret", "mountPath": "/migration-secret", "readOnly": True} in c["volumeMounts"]

    def test_should_mount_the_source_ca_when_it_has_its_own(self):
        """migration.source.tls.existingSecret: its CA at /migration-tls/ca.crt, which the scripts trust for the source."""
        values = {"tls": {"enabled": True, "existingSecret": "redis-tls"},
                  "migration": {"enabled": True, "source": {**SOURCE, "tls": {"enabled": True, "existingSecret": "old-ca", "caKey": "root.pem"}}}}
        sts = by_kind_name(render_chart(values), "StatefulSet", "redis-ha")
        spec = sts["spec"]["template"]["spec"]
        assert volume(spec, "migration-tls")["secret"]["items"] == [{"key": "root.pem", "path": "ca.crt"}]
        assert env_of(container(sts, "redis"))["MIGRATION_CA_FILE"] == "/migration-tls/ca.crt"

    def test_cutover_should_leave_every_pod_template_unchanged(self):
        """migration.enabled true -> false changes no pod template (checksums included): the cutover restarts no pod."""
        assert pod_templates(render_chart(FOLLOWING)) == pod_templates(render_chart(CUTOVER))

    def test_source_password_is_never_a_value(self):
        """The source's password exists only in its Secret: no key for it in the values schema."""
        with pytest.raises(HelmTemplateError, match="password"):
            render_chart({"migration": {"enabled": True, "source": {**SOURCE, "password": "x"}}})


class TestCutoverHook:
    def test_should_create_the_scripts_before_the_job_and_only_for_the_cutover(self):
        """A source set and migration.enabled false: the scripts ConfigMap is a hook of the Job's
        event, weighted before it; while following, neither exists."""
        docs = render_chart(CUTOVER)
        job = by_kind_name(docs, "Job", "redis-ha-cutover")["metadata"]["annotations"]
        cm = by_kind_name(docs, "ConfigMap", "redis-ha-cutover")["metadata"]["annotations"]
        assert job["helm.sh/hook"] == cm["helm.sh/hook"]
        assert int(cm["helm.sh/hook-weight"]) < int(job["helm.sh/hook-weight"])
        assert not [d for d in render_chart(FOLLOWING) if d["metadata"]["name"] == "redis-ha-cutover"]

    def test_should_run_this_charts_scripts(self):
        """The Job mounts the hook ConfigMap, which holds files/scripts/cutover.sh and lib.sh byte for byte."""
        docs = render_chart(CUTOVER)
        cm = by_kind_name(docs, "ConfigMap", "redis-ha-cutover")
        for script in ("cutover.sh", "lib.sh"):
            assert cm["data"][script] == (CHART / "files" / "scripts" / script).read_text()
        spec = by_kind_name(docs, "Job", "redis-ha-cutover")["spec"]["template"]["spec"]
        assert volume(spec, "cutover")["configMap"]["name"] == cm["metadata"]["name"]


class TestNetworkPolicy:
    def test_should_allow_egress_to_the_source_port(self):
        """The pods (and the hook) reach the source on migration.source.port."""
        np = by_kind_name(render_chart({"migration": {"enabled": True, "source": {**SOURCE, "port": 6390}}}), "NetworkPolicy", "redis-ha")
        assert {"ports": [{"port": 6390, "protocol": "TCP"}]} in np["spec"]["egress"]
        assert {"ports": [{"port": 6390, "protocol": "TCP"}]} not in by_kind_name(render_chart({}), "NetworkPolicy", "redis-ha")["spec"]["egress"]
