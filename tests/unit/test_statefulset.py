# SPDX-License-Identifier: Apache-2.0
"""templates/statefulset.yaml (Redis pods), templates/statefulset-sentinel.yaml (Sentinel pods) and
the pieces they share (_pod.tpl); the co-located layout (sentinel.colocated) where it differs."""
import pytest

from tests.helm import by_kind_name, container, env_of, render_chart, statefulset_of

COLOCATED = {"sentinel": {"colocated": True}}
LAYOUTS = [pytest.param({}, id="sentinel-pods"), pytest.param(COLOCATED, id="colocated")]


def sts(values=None, **kw):
    return by_kind_name(render_chart(values, **kw), "StatefulSet", "redis-ha")


def sentinel_sts(values=None, **kw):
    return by_kind_name(render_chart(values, **kw), "StatefulSet", "redis-ha-sentinel")


def holder(values, name, **kw):
    """The StatefulSet whose pods run container `name` with these values."""
    return statefulset_of(render_chart(values, **kw), name)


def pod(values=None):
    return sts(values)["spec"]["template"]


def with_layout(layout, values):
    return {**values, "sentinel": {**layout.get("sentinel", {}), **values.get("sentinel", {})}}


def container_names(s):
    return [c["name"] for c in s["spec"]["template"]["spec"]["containers"]]


def selector(component):
    return {"app.kubernetes.io/name": "redis-ha", "app.kubernetes.io/instance": "redis-ha", "app.kubernetes.io/component": component}


class TestStatefulSet:
    def test_defaults_three_pods_parallel_ordered(self):
        """replicas default 3, Parallel (pods elect by data, docs/operations.md), OnDelete (the ordered rollout, docs/design.md), headless serviceName."""
        spec = sts()["spec"]
        assert spec["replicas"] == 3
        assert spec["podManagementPolicy"] == "Parallel"
        assert spec["updateStrategy"] == {"type": "OnDelete"}
        assert spec["serviceName"] == "redis-ha-headless"

    @pytest.mark.parametrize(("layout", "expected"), [
        pytest.param({}, {"redis": [6379], "metrics": [9121]}, id="sentinel-pods"),
        pytest.param(COLOCATED, {"redis": [6379], "sentinel": [26379], "metrics": [9121], "sentinel-metrics": [9355]}, id="colocated"),
    ])
    def test_containers_and_ports(self, layout, expected):
        """Redis pods: redis 6379 and metrics 9121; co-located, also sentinel 26379 and sentinel-metrics 9355."""
        p = pod(layout)
        assert {c["name"]: [x["containerPort"] for x in c["ports"]] for c in p["spec"]["containers"] if c["name"] != "role-label"} == expected
        assert "ports" not in container(p, "role-label"), "role-label serves nothing"

    @pytest.mark.parametrize(("layout", "redis_pod", "sentinel_pod"), [
        pytest.param({}, ["redis", "role-label"], ["sentinel"], id="sentinel-pods"),
        pytest.param(COLOCATED, ["redis", "role-label", "sentinel"], None, id="colocated"),
    ])
    def test_metrics_can_be_switched_off(self, layout, redis_pod, sentinel_pod):
        """metrics.enabled=false drops both exporters, wherever they run."""
        docs = render_chart(with_layout(layout, {"metrics": {"enabled": False}}))
        assert container_names(by_kind_name(docs, "StatefulSet", "redis-ha")) == redis_pod
        if sentinel_pod:
            assert container_names(by_kind_name(docs, "StatefulSet", "redis-ha-sentinel")) == sentinel_pod

    def test_selector_labels_are_the_stable_three(self):
        """Selectors use name, instance, component only (docs/design.md rule 8: never change)."""
        s = sts()
        assert s["spec"]["selector"]["matchLabels"] == selector("server")
        assert s["spec"]["volumeClaimTemplates"][0]["metadata"]["labels"] == selector("server")

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

    @pytest.mark.parametrize(("name", "component"), [("redis-ha", "server"), ("redis-ha-sentinel", "sentinel")])
    @pytest.mark.parametrize(("mode", "key"), [("soft", "preferredDuringSchedulingIgnoredDuringExecution"), ("hard", "requiredDuringSchedulingIgnoredDuringExecution")])
    def test_pod_anti_affinity_modes(self, mode, key, name, component):
        """podAntiAffinity soft|hard spreads over kubernetes.io/hostname: Redis pods among themselves, Sentinel pods among themselves."""
        s = by_kind_name(render_chart({"podAntiAffinity": mode}), "StatefulSet", name)
        aff = s["spec"]["template"]["spec"]["affinity"]["podAntiAffinity"]
        assert list(aff) == [key]
        term = aff[key][0].get("podAffinityTerm", aff[key][0])
        assert term["topologyKey"] == "kubernetes.io/hostname"
        assert term["labelSelector"]["matchLabels"] == selector(component)

    def test_pod_anti_affinity_none_and_override(self):
        """podAntiAffinity none adds nothing; affinity replaces it, in both StatefulSets."""
        none = render_chart({"podAntiAffinity": "none"})
        custom = {"nodeAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": {"nodeSelectorTerms": [{"matchExpressions": [{"key": "a", "operator": "Exists"}]}]}}}
        overridden = render_chart({"affinity": custom})
        for name in ("redis-ha", "redis-ha-sentinel"):
            assert "affinity" not in by_kind_name(none, "StatefulSet", name)["spec"]["template"]["spec"]
            assert by_kind_name(overridden, "StatefulSet", name)["spec"]["template"]["spec"]["affinity"] == custom

    @pytest.mark.parametrize(("name", "component"), [("redis-ha", "server"), ("redis-ha-sentinel", "sentinel")])
    def test_topology_spread_gets_the_selector(self, name, component):
        """topologySpreadConstraints without labelSelector get the selector of the pods' own component."""
        s = by_kind_name(render_chart({"topologySpreadConstraints": [{"maxSkew": 1, "topologyKey": "zone", "whenUnsatisfiable": "DoNotSchedule"}]}), "StatefulSet", name)
        tsc = s["spec"]["template"]["spec"]["topologySpreadConstraints"]
        assert tsc == [{"maxSkew": 1, "topologyKey": "zone", "whenUnsatisfiable": "DoNotSchedule", "labelSelector": {"matchLabels": selector(component)}}]

    @pytest.mark.parametrize("name", ["redis-ha", "redis-ha-sentinel"])
    def test_scheduling_passthrough(self, name):
        """nodeSelector, tolerations, priorityClassName, pullSecrets, dnsConfig reach the Redis and the Sentinel pods."""
        dns = {"options": [{"name": "no-aaaa"}]}
        docs = render_chart({"nodeSelector": {"disk": "ssd"}, "tolerations": [{"key": "k", "operator": "Exists"}], "priorityClassName": "high", "image": {"pullSecrets": ["reg"]}, "dnsConfig": dns})
        spec = by_kind_name(docs, "StatefulSet", name)["spec"]["template"]["spec"]
        assert spec["nodeSelector"] == {"disk": "ssd"}
        assert spec["tolerations"] == [{"key": "k", "operator": "Exists"}]
        assert spec["priorityClassName"] == "high"
        assert spec["imagePullSecrets"] == [{"name": "reg"}]
        assert spec["dnsConfig"] == dns

    @pytest.mark.parametrize("layout", LAYOUTS)
    def test_image_digest_overrides_tag(self, layout):
        """image.digest pins the image of redis and sentinel."""
        values = with_layout(layout, {"image": {"digest": "sha256:" + "a" * 64}})
        for name in ("redis", "sentinel"):
            assert container(holder(values, name), name)["image"] == "docker.io/library/redis@sha256:" + "a" * 64
            assert container(holder(layout, name), name)["image"] == "docker.io/library/redis:7.2.7"

    @pytest.mark.parametrize(("values", "image"), [
        pytest.param({}, "docker.io/library/redis:7.2.7", id="redis-default"),
        pytest.param({"engine": "valkey"}, "docker.io/valkey/valkey:8.1.1", id="valkey-default"),
        pytest.param({"engine": "valkey", "image": {"tag": "8.1.4"}}, "docker.io/valkey/valkey:8.1.4", id="valkey-own-tag"),
        pytest.param({"engine": "valkey", "image": {"registry": "", "repository": "mirror/valkey"}}, "mirror/valkey:8.1.1", id="valkey-own-repository"),
        pytest.param({"engine": "redis", "image": {"repository": "library/redis", "tag": "8.0.2"}}, "docker.io/library/redis:8.0.2", id="redis-own-tag"),
    ])
    def test_engine_picks_the_default_image(self, values, image):
        """engine: an empty image.repository or image.tag comes from the engine; Redis, Sentinel and the helm test pod run it."""
        docs = render_chart(values)
        assert container(by_kind_name(docs, "StatefulSet", "redis-ha"), "redis")["image"] == image
        assert container(by_kind_name(docs, "StatefulSet", "redis-ha-sentinel"), "sentinel")["image"] == image
        assert {c["image"] for d in docs if d["kind"] == "Pod" for c in d["spec"]["containers"]} == {image}

    @pytest.mark.parametrize("layout", LAYOUTS)
    def test_extras_reach_the_pod(self, layout):
        """extraEnv, extraVolumes, extraVolumeMounts, podLabels, podAnnotations reach redis and sentinel; sidecars and initContainers the Redis pods."""
        docs = render_chart(with_layout(layout, {
            "extraEnv": [{"name": "X", "value": "1"}],
            "extraVolumes": [{"name": "extra", "emptyDir": {}}],
            "extraVolumeMounts": [{"name": "extra", "mountPath": "/extra"}],
            "sidecars": [{"name": "side", "image": "busybox"}],
            "initContainers": [{"name": "init", "image": "busybox"}],
            "podLabels": {"team": "cache"},
            "podAnnotations": {"a": "b"},
        }))
        for name in ("redis", "sentinel"):
            s = statefulset_of(docs, name)
            tpl = s["spec"]["template"]
            assert env_of(container(s, name))["X"] == "1"
            assert {"name": "extra", "mountPath": "/extra"} in container(s, name)["volumeMounts"]
            assert {"name": "extra", "emptyDir": {}} in tpl["spec"]["volumes"]
            assert tpl["metadata"]["labels"]["team"] == "cache"
            assert tpl["metadata"]["annotations"]["a"] == "b"
        redis = by_kind_name(docs, "StatefulSet", "redis-ha")
        assert container(redis, "side")["image"] == "busybox"
        assert [c["name"] for c in redis["spec"]["template"]["spec"]["initContainers"]] == ["exporter-auth", "init"]

    @pytest.mark.parametrize("name", ["redis-ha", "redis-ha-sentinel"])
    def test_service_account_token_not_mounted(self, name):
        """The scripts need no API access, in Redis or Sentinel pods."""
        spec = by_kind_name(render_chart(), "StatefulSet", name)["spec"]["template"]["spec"]
        assert spec["automountServiceAccountToken"] is False
        assert spec["serviceAccountName"] == "redis-ha"
        assert spec["enableServiceLinks"] is False


class TestSentinelStatefulSet:
    def test_defaults_three_parallel_pods_behind_the_headless_service(self):
        """sentinel.replicas default 3, Parallel, RollingUpdate, the shared headless Service, no claims."""
        spec = sentinel_sts()["spec"]
        assert spec["replicas"] == 3
        assert spec["podManagementPolicy"] == "Parallel"
        assert spec["updateStrategy"] == {"type": "RollingUpdate"}
        assert spec["serviceName"] == "redis-ha-headless"
        assert "volumeClaimTemplates" not in spec and "persistentVolumeClaimRetentionPolicy" not in spec

    def test_replicas_follow_sentinel_replicas(self):
        """sentinel.replicas 5: five Sentinel pods, still three Redis pods."""
        docs = render_chart({"sentinel": {"replicas": 5}})
        assert by_kind_name(docs, "StatefulSet", "redis-ha-sentinel")["spec"]["replicas"] == 5
        assert by_kind_name(docs, "StatefulSet", "redis-ha")["spec"]["replicas"] == 3

    def test_selects_the_sentinel_component_only(self):
        """Selector and pod labels carry component sentinel, so the two StatefulSets never adopt each other's pods."""
        s = sentinel_sts()
        assert s["spec"]["selector"]["matchLabels"] == selector("sentinel")
        assert selector("sentinel").items() <= s["spec"]["template"]["metadata"]["labels"].items()
        assert s["metadata"]["labels"]["app.kubernetes.io/component"] == "sentinel"

    def test_containers_and_ports(self):
        """Sentinel pods: sentinel 26379 and sentinel-metrics 9355, no Redis and no data volume."""
        s = sentinel_sts()
        assert {c["name"]: [x["containerPort"] for x in c["ports"]] for c in s["spec"]["template"]["spec"]["containers"]} == {"sentinel": [26379], "sentinel-metrics": [9355]}
        volumes = [v["name"] for v in s["spec"]["template"]["spec"]["volumes"]]
        assert volumes == ["config", "scripts", "secret", "run", "exporter-auth", "tmp"]
        assert "data" not in [m["name"] for m in container(s, "sentinel")["volumeMounts"]]

    def test_shares_the_redis_pods_hardening(self):
        """Pod security context and grace period are the Redis pods' own."""
        docs = render_chart()
        redis, sentinel = (by_kind_name(docs, "StatefulSet", n)["spec"]["template"]["spec"] for n in ("redis-ha", "redis-ha-sentinel"))
        assert sentinel["securityContext"] == redis["securityContext"]
        assert sentinel["terminationGracePeriodSeconds"] == redis["terminationGracePeriodSeconds"] == 60
        assert container(by_kind_name(docs, "StatefulSet", "redis-ha-sentinel"), "sentinel")["resources"] == {"requests": {"cpu": "50m", "memory": "32Mi"}, "limits": {"memory": "128Mi"}}

    @pytest.mark.parametrize("values", [pytest.param(COLOCATED, id="colocated"), pytest.param({"replicas": 1}, id="single")])
    def test_absent_when_colocated_or_single(self, values):
        """sentinel.colocated or replicas: 1: no Sentinel StatefulSet."""
        assert [d["metadata"]["name"] for d in render_chart(values) if d["kind"] == "StatefulSet"] == ["redis-ha"]


class TestIdentity:
    def test_node_host_template_is_the_pod_fqdn(self):
        """docs/design.md rule 1: pods know each other by <pod>.<headless>.<ns>.svc.<clusterDomain>."""
        env = env_of(container(sts({"clusterDomain": "corp.local"}, namespace="aikernel"), "redis"))
        assert env["NODE_HOST_TEMPLATE"] == "redis-ha-%s.redis-ha-headless.aikernel.svc.corp.local"

    @pytest.mark.parametrize(("layout", "template", "sentinels"), [
        pytest.param({"sentinel": {"replicas": 5}}, "redis-ha-sentinel-%s.redis-ha-headless.aikernel.svc.corp.local", "5", id="sentinel-pods"),
        pytest.param({"sentinel": {"colocated": True, "replicas": 5}}, "redis-ha-%s.redis-ha-headless.aikernel.svc.corp.local", "3", id="colocated"),
    ])
    def test_scripts_know_every_sentinel(self, layout, template, sentinels):
        """SENTINEL_HOST_TEMPLATE and SENTINELS: the Sentinel pods' FQDNs, or the Redis pods' when co-located; the same in redis and sentinel."""
        docs = render_chart({"clusterDomain": "corp.local", **layout}, namespace="aikernel")
        for name in ("redis", "sentinel"):
            env = env_of(container(statefulset_of(docs, name), name))
            assert (env["SENTINEL_HOST_TEMPLATE"], env["SENTINELS"]) == (template, sentinels), name

    @pytest.mark.parametrize("layout", LAYOUTS)
    def test_sentinel_id_prefix_is_stable_and_per_release(self, layout):
        """docs/design.md rule 5: myid derives from namespace and name, not from chance."""
        def prefix(**kw):
            return env_of(container(holder(layout, "sentinel", **kw), "sentinel"))["SENTINEL_ID_PREFIX"]
        a, b, c = prefix(), prefix(), prefix(namespace="other")
        assert a == b != c
        assert len(a) == 32 and int(a, 16) >= 0

    def test_sentinel_id_prefix_differs_between_layouts(self):
        """A release moving between layouts never has two Sentinels with one id."""
        ids = {env_of(container(holder(layout, "sentinel"), "sentinel"))["SENTINEL_ID_PREFIX"] for layout in ({}, COLOCATED)}
        assert len(ids) == 2

    @pytest.mark.parametrize(("values", "quorum", "sentinel_pods"), [
        pytest.param({}, "2", 3, id="defaults"),
        pytest.param({"replicas": 5}, "2", 3, id="replicas-5-three-sentinels"),
        pytest.param({"sentinel": {"replicas": 5}}, "3", 5, id="sentinel-replicas-5"),
        pytest.param({"replicas": 7, "sentinel": {"replicas": 7}}, "4", 7, id="sentinel-replicas-7"),
        pytest.param({"replicas": 5, "sentinel": {"colocated": True}}, "3", 0, id="colocated-replicas-5"),
        pytest.param({"replicas": 7, "sentinel": {"colocated": True, "replicas": 3}}, "4", 0, id="colocated-ignores-sentinel-replicas"),
    ])
    def test_quorum_derived_from_the_sentinels(self, values, quorum, sentinel_pods):
        """sentinel.quorum empty: floor(S/2)+1 for S Sentinels (sentinel.replicas, or replicas when co-located)."""
        docs = render_chart(values)
        for name in ("redis", "sentinel"):
            assert env_of(container(statefulset_of(docs, name), name))["QUORUM"] == quorum, name
        sentinel_sets = [d for d in docs if d["kind"] == "StatefulSet" and d["metadata"]["name"] == "redis-ha-sentinel"]
        assert [d["spec"]["replicas"] for d in sentinel_sets] == ([sentinel_pods] if sentinel_pods else [])

    @pytest.mark.parametrize("layout", LAYOUTS)
    def test_boot_beacon_port_reaches_the_scripts(self, layout):
        """boot.port becomes BOOT_PORT; boot.attempts is gone."""
        env = env_of(container(sts(with_layout(layout, {"boot": {"port": 16400}})), "redis"))
        assert env["BOOT_PORT"] == "16400"
        assert "BOOT_ATTEMPTS" not in env
        assert env_of(container(sts(layout), "redis"))["BOOT_PORT"] == "16379"


class TestHandoverAndProbes:
    @pytest.mark.parametrize("layout", LAYOUTS)
    def test_prestop_on_both_containers(self, layout):
        """docs/design.md rule 6: the redis hook hands over, the sentinel hook waits for it, in either layout."""
        docs = render_chart(layout)
        assert container(statefulset_of(docs, "redis"), "redis")["lifecycle"]["preStop"]["exec"]["command"] == ["sh", "/scripts/prestop-redis.sh"]
        assert container(statefulset_of(docs, "sentinel"), "sentinel")["lifecycle"]["preStop"]["exec"]["command"] == ["sh", "/scripts/prestop-sentinel.sh"]

    @pytest.mark.parametrize("layout", LAYOUTS)
    def test_prestop_disabled(self, layout):
        """preStop.enabled=false: no hook on redis or sentinel."""
        docs = render_chart(with_layout(layout, {"preStop": {"enabled": False}}))
        for name in ("redis", "sentinel"):
            assert "lifecycle" not in container(statefulset_of(docs, name), name), name

    @pytest.mark.parametrize("name", ["redis-ha", "redis-ha-sentinel"])
    def test_prestop_timeout_fits_grace_period(self, name):
        """docs/design.md rule 6: the handover deadline is inside terminationGracePeriodSeconds of every pod that runs a hook."""
        s = by_kind_name(render_chart(), "StatefulSet", name)
        grace = s["spec"]["template"]["spec"]["terminationGracePeriodSeconds"]
        first = s["spec"]["template"]["spec"]["containers"][0]
        assert int(env_of(first)["PRESTOP_TIMEOUT"]) < grace

    def test_probes(self):
        """docs/design.md rule 7: liveness accepts recovery, readiness needs a synced node, a startup probe exists."""
        r = container(sts(), "redis")
        assert r["livenessProbe"]["exec"]["command"][-1] == "redis-liveness"
        assert r["readinessProbe"]["exec"]["command"][-1] == "redis-readiness"
        assert r["startupProbe"]["exec"]["command"][-1] == "redis-startup"
        assert r["startupProbe"]["failureThreshold"] * r["startupProbe"]["periodSeconds"] >= 300

    @pytest.mark.parametrize("layout", LAYOUTS)
    def test_sentinel_probes(self, layout):
        """The sentinel container is probed by the scripts wherever it runs."""
        s = container(holder(layout, "sentinel"), "sentinel")
        assert s["livenessProbe"]["exec"]["command"] == ["sh", "/scripts/probe.sh", "sentinel-liveness"]
        assert s["readinessProbe"]["exec"]["command"] == ["sh", "/scripts/probe.sh", "sentinel-readiness"]
        assert s["startupProbe"]["exec"]["command"] == ["sh", "/scripts/probe.sh", "sentinel-readiness"]

    @pytest.mark.parametrize("layout", LAYOUTS)
    def test_sentinel_probe_timings_come_from_sentinel_values(self, layout):
        """sentinel.*Probe set the sentinel container's probes; redis.*Probe only the redis container's."""
        values = with_layout(layout, {
            "sentinel": {"livenessProbe": {"periodSeconds": 7}, "readinessProbe": {"failureThreshold": 9}, "startupProbe": {"failureThreshold": 11}},
            "redis": {"livenessProbe": {"periodSeconds": 30}, "readinessProbe": {"failureThreshold": 2}, "startupProbe": {"failureThreshold": 200}},
        })
        docs = render_chart(values)
        s = container(statefulset_of(docs, "sentinel"), "sentinel")
        r = container(statefulset_of(docs, "redis"), "redis")
        assert (s["livenessProbe"]["periodSeconds"], s["readinessProbe"]["failureThreshold"], s["startupProbe"]["failureThreshold"]) == (7, 9, 11)
        assert (r["livenessProbe"]["periodSeconds"], r["readinessProbe"]["failureThreshold"], r["startupProbe"]["failureThreshold"]) == (30, 2, 200)

    @pytest.mark.parametrize("layout", LAYOUTS)
    def test_sentinel_probe_defaults_match_the_redis_ones(self, layout):
        """The sentinel probes' defaults are the timings they had when they followed redis.*Probe."""
        docs = render_chart(layout)
        s = container(statefulset_of(docs, "sentinel"), "sentinel")
        r = container(statefulset_of(docs, "redis"), "redis")
        for probe in ("startupProbe", "livenessProbe", "readinessProbe"):
            assert {k: v for k, v in s[probe].items() if k != "exec"} == {k: v for k, v in r[probe].items() if k != "exec"}, probe

    def test_single_mode_has_no_prestop(self):
        """replicas: 1 has nobody to hand over to."""
        assert "lifecycle" not in container(sts({"replicas": 1}), "redis")


class TestChecksums:
    @pytest.mark.parametrize("name", ["redis-ha", "redis-ha-sentinel"])
    def test_config_change_rolls_pods(self, name):
        """docs/design.md rule 8: a config value changes checksum/config of the Redis and the Sentinel pods."""
        def annotations(values):
            return by_kind_name(render_chart(values), "StatefulSet", name)["spec"]["template"]["metadata"]["annotations"]
        a, b = annotations({}), annotations({"sentinel": {"downAfterMilliseconds": 3000}})
        assert a["checksum/config"] != b["checksum/config"]
        assert a["checksum/scripts"] == b["checksum/scripts"]

    @pytest.mark.parametrize("name", ["redis-ha", "redis-ha-sentinel"])
    def test_secret_change_rolls_pods(self, name):
        """docs/design.md rule 8: a new password changes checksum/secret of the Redis and the Sentinel pods."""
        def checksum(password):
            return by_kind_name(render_chart({"auth": {"password": password}}), "StatefulSet", name)["spec"]["template"]["metadata"]["annotations"]["checksum/secret"]
        assert checksum("one") != checksum("two")
