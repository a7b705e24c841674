# SPDX-License-Identifier: Apache-2.0
"""templates/statefulset.yaml"""
import pytest

from tests.helm import by_kind_name, container, env_of, render_chart


def sts(values=None, **kw):
    return by_kind_name(render_chart(values, **kw), "StatefulSet", "redis-ha")


def pod(values=None):
    return sts(values)["spec"]["template"]


class TestStatefulSet:
    def test_defaults_three_pods_ordered_rolling(self):
        """replicas default 3, OrderedReady, RollingUpdate, headless serviceName."""
        spec = sts()["spec"]
        assert spec["replicas"] == 3
        assert spec["podManagementPolicy"] == "OrderedReady"
        assert spec["updateStrategy"] == {"type": "RollingUpdate"}
        assert spec["serviceName"] == "redis-ha-headless"

    def test_containers_and_ports(self):
        """redis 6379, sentinel 26379, metrics 9121, sentinel-metrics 9355."""
        p = pod()
        ports = {c["name"]: [x["containerPort"] for x in c["ports"]] for c in p["spec"]["containers"]}
        assert ports == {"redis": [6379], "sentinel": [26379], "metrics": [9121], "sentinel-metrics": [9355]}

    def test_metrics_can_be_switched_off(self):
        """metrics.enabled=false drops the exporter."""
        names = [c["name"] for c in pod({"metrics": {"enabled": False}})["spec"]["containers"]]
        assert names == ["redis", "sentinel"]

    def test_selector_labels_are_the_stable_three(self):
        """Selectors use name, instance, component only (rule 8: never change)."""
        s = sts()
        expected = {"app.kubernetes.io/name": "redis-ha", "app.kubernetes.io/instance": "redis-ha", "app.kubernetes.io/component": "server"}
        assert s["spec"]["selector"]["matchLabels"] == expected
        assert s["spec"]["volumeClaimTemplates"][0]["metadata"]["labels"] == expected

    def test_claim_template_labels_do_not_follow_chart_version(self):
        """volumeClaimTemplate labels carry no version, so upgrades never touch them."""
        labels = sts()["spec"]["volumeClaimTemplates"][0]["metadata"]["labels"]
        assert not {"helm.sh/chart", "app.kubernetes.io/version"} & set(labels)

    def test_volume_claim_defaults(self):
        """persistence: 10Gi ReadWriteOnce, retention policy Retain."""
        s = sts({"persistence": {"storageClass": "fast-ssd"}})
        claim = s["spec"]["volumeClaimTemplates"][0]["spec"]
        assert claim == {"accessModes": ["ReadWriteOnce"], "storageClassName": "fast-ssd", "resources": {"requests": {"storage": "10Gi"}}}
        assert s["spec"]["persistentVolumeClaimRetentionPolicy"] == {"whenDeleted": "Retain", "whenScaled": "Retain"}

    def test_without_persistence_data_is_an_empty_dir(self):
        """persistence.enabled=false: /data is an emptyDir, no claims."""
        s = sts({"persistence": {"enabled": False}})
        assert "volumeClaimTemplates" not in s["spec"]
        vols = {v["name"]: v for v in s["spec"]["template"]["spec"]["volumes"]}
        assert vols["data"] == {"name": "data", "emptyDir": {}}

    @pytest.mark.parametrize(("mode", "key"), [("soft", "preferredDuringSchedulingIgnoredDuringExecution"), ("hard", "requiredDuringSchedulingIgnoredDuringExecution")])
    def test_pod_anti_affinity_modes(self, mode, key):
        """podAntiAffinity soft|hard spreads over kubernetes.io/hostname."""
        aff = pod({"podAntiAffinity": mode})["spec"]["affinity"]["podAntiAffinity"]
        assert list(aff) == [key]
        term = aff[key][0].get("podAffinityTerm", aff[key][0])
        assert term["topologyKey"] == "kubernetes.io/hostname"
        assert term["labelSelector"]["matchLabels"]["app.kubernetes.io/component"] == "server"

    def test_pod_anti_affinity_none_and_override(self):
        """podAntiAffinity none adds nothing; affinity replaces it."""
        assert "affinity" not in pod({"podAntiAffinity": "none"})["spec"]
        custom = {"nodeAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": {"nodeSelectorTerms": [{"matchExpressions": [{"key": "a", "operator": "Exists"}]}]}}}
        assert pod({"affinity": custom})["spec"]["affinity"] == custom

    def test_topology_spread_gets_the_selector(self):
        """topologySpreadConstraints without labelSelector get the chart's."""
        tsc = pod({"topologySpreadConstraints": [{"maxSkew": 1, "topologyKey": "zone", "whenUnsatisfiable": "DoNotSchedule"}]})["spec"]["topologySpreadConstraints"]
        assert tsc[0]["labelSelector"]["matchLabels"]["app.kubernetes.io/instance"] == "redis-ha"
        assert tsc[0]["topologyKey"] == "zone"

    def test_scheduling_passthrough(self):
        """nodeSelector, tolerations, priorityClassName, pullSecrets reach the pod."""
        spec = pod({"nodeSelector": {"disk": "ssd"}, "tolerations": [{"key": "k", "operator": "Exists"}], "priorityClassName": "high", "image": {"pullSecrets": ["reg"]}})["spec"]
        assert spec["nodeSelector"] == {"disk": "ssd"}
        assert spec["tolerations"] == [{"key": "k", "operator": "Exists"}]
        assert spec["priorityClassName"] == "high"
        assert spec["imagePullSecrets"] == [{"name": "reg"}]

    def test_image_digest_overrides_tag(self):
        """image.digest pins the image."""
        c = container(sts({"image": {"digest": "sha256:" + "a" * 64}}), "redis")
        assert c["image"] == "docker.io/library/redis@sha256:" + "a" * 64
        assert container(sts(), "redis")["image"] == "docker.io/library/redis:7.2.7"

    def test_extras_reach_the_pod(self):
        """extraEnv, extraVolumes, extraVolumeMounts, sidecars, initContainers, podLabels, podAnnotations."""
        s = sts({
            "extraEnv": [{"name": "X", "value": "1"}],
            "extraVolumes": [{"name": "extra", "emptyDir": {}}],
            "extraVolumeMounts": [{"name": "extra", "mountPath": "/extra"}],
            "sidecars": [{"name": "side", "image": "busybox"}],
            "initContainers": [{"name": "init", "image": "busybox"}],
            "podLabels": {"team": "cache"},
            "podAnnotations": {"a": "b"},
        })
        tpl = s["spec"]["template"]
        assert env_of(container(s, "redis"))["X"] == "1"
        assert {"name": "extra", "mountPath": "/extra"} in container(s, "sentinel")["volumeMounts"]
        assert {"name": "extra", "emptyDir": {}} in tpl["spec"]["volumes"]
        assert container(s, "side")["image"] == "busybox"
        assert tpl["spec"]["initContainers"][0]["name"] == "init"
        assert tpl["metadata"]["labels"]["team"] == "cache"
        assert tpl["metadata"]["annotations"]["a"] == "b"

    def test_service_account_token_not_mounted(self):
        """The scripts need no API access."""
        spec = pod()["spec"]
        assert spec["automountServiceAccountToken"] is False
        assert spec["serviceAccountName"] == "redis-ha"


class TestIdentity:
    def test_node_host_template_is_the_pod_fqdn(self):
        """Rule 1: pods know each other by <pod>.<headless>.<ns>.svc.<clusterDomain>."""
        env = env_of(container(sts({"clusterDomain": "corp.local"}, namespace="aikernel"), "redis"))
        assert env["NODE_HOST_TEMPLATE"] == "redis-ha-%s.redis-ha-headless.aikernel.svc.corp.local"

    def test_sentinel_id_prefix_is_stable_and_per_release(self):
        """Rule 5: myid derives from namespace and name, not from chance."""
        a = env_of(container(sts(), "sentinel"))["SENTINEL_ID_PREFIX"]
        b = env_of(container(sts(), "sentinel"))["SENTINEL_ID_PREFIX"]
        c = env_of(container(sts(namespace="other"), "sentinel"))["SENTINEL_ID_PREFIX"]
        assert a == b != c
        assert len(a) == 32 and int(a, 16) >= 0

    @pytest.mark.parametrize(("replicas", "quorum"), [(3, "2"), (5, "3"), (7, "4")])
    def test_quorum_derived_from_replicas(self, replicas, quorum):
        """sentinel.quorum empty: floor(N/2)+1."""
        assert env_of(container(sts({"replicas": replicas}), "sentinel"))["QUORUM"] == quorum


class TestHandoverAndProbes:
    def test_prestop_on_both_containers(self):
        """Rule 6: the redis hook hands over, the sentinel hook waits for it."""
        s = sts()
        assert container(s, "redis")["lifecycle"]["preStop"]["exec"]["command"] == ["sh", "/scripts/prestop-redis.sh"]
        assert container(s, "sentinel")["lifecycle"]["preStop"]["exec"]["command"] == ["sh", "/scripts/prestop-sentinel.sh"]

    def test_prestop_timeout_fits_grace_period(self):
        """Rule 6: the handover deadline is inside terminationGracePeriodSeconds."""
        s = sts()
        grace = s["spec"]["template"]["spec"]["terminationGracePeriodSeconds"]
        assert int(env_of(container(s, "redis"))["PRESTOP_TIMEOUT"]) < grace

    def test_probes(self):
        """Rule 7: liveness accepts recovery, readiness needs a synced node, a startup probe exists."""
        r = container(sts(), "redis")
        assert r["livenessProbe"]["exec"]["command"][-1] == "redis-liveness"
        assert r["readinessProbe"]["exec"]["command"][-1] == "redis-readiness"
        assert r["startupProbe"]["exec"]["command"][-1] == "redis-liveness"
        assert r["startupProbe"]["failureThreshold"] * r["startupProbe"]["periodSeconds"] >= 300

    def test_single_mode_has_no_prestop(self):
        """replicas: 1 has nobody to hand over to."""
        assert "lifecycle" not in container(sts({"replicas": 1}), "redis")


class TestChecksums:
    def test_config_change_rolls_pods(self):
        """Rule 8: a config value changes checksum/config."""
        a = pod()["metadata"]["annotations"]
        b = pod({"redis": {"config": {"maxmemory": "1gb"}}})["metadata"]["annotations"]
        assert a["checksum/config"] != b["checksum/config"]
        assert a["checksum/scripts"] == b["checksum/scripts"]

    def test_secret_change_rolls_pods(self):
        """Rule 8: a new password changes checksum/secret."""
        a = pod({"auth": {"password": "one"}})["metadata"]["annotations"]["checksum/secret"]
        b = pod({"auth": {"password": "two"}})["metadata"]["annotations"]["checksum/secret"]
        assert a != b
