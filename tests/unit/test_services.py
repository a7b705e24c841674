# SPDX-License-Identifier: Apache-2.0
"""templates/service-headless.yaml, service.yaml, serviceaccount.yaml, secret.yaml, pdb.yaml, servicemonitor.yaml"""
import base64

import pytest

from tests.helm import by_kind_name, of_kind, render_chart

RELEASE_PODS = {"app.kubernetes.io/name": "redis-ha", "app.kubernetes.io/instance": "redis-ha"}
LAYOUTS = [pytest.param({}, id="sentinel-pods"), pytest.param({"sentinel": {"colocated": True}}, id="colocated")]


@pytest.mark.parametrize("layout", LAYOUTS)
@pytest.mark.parametrize("service", ["redis-ha", "redis-ha-headless"])
def test_services_select_every_pod_of_the_release(service, layout):
    """Both Services select Redis and Sentinel pods (name and instance, no component); each port reaches the pods that have it."""
    docs = render_chart(layout)
    svc = by_kind_name(docs, "Service", service)["spec"]
    assert svc["selector"] == RELEASE_PODS
    named_ports = {p["name"] for sts in of_kind(docs, "StatefulSet") for c in sts["spec"]["template"]["spec"]["containers"] for p in c["ports"]}
    assert {p["targetPort"] for p in svc["ports"]} <= named_ports
    for sts in of_kind(docs, "StatefulSet"):
        assert RELEASE_PODS.items() <= sts["spec"]["template"]["metadata"]["labels"].items()


class TestHeadlessService:
    def test_publishes_not_ready_pods(self):
        """docs/design.md rule 1: pods resolve while starting."""
        svc = by_kind_name(render_chart(), "Service", "redis-ha-headless")["spec"]
        assert svc["clusterIP"] == "None"
        assert svc["publishNotReadyAddresses"] is True
        assert {p["name"]: p["port"] for p in svc["ports"]} == {"redis": 6379, "sentinel": 26379, "metrics": 9121, "sentinel-metrics": 9355}


class TestClientService:
    def test_exposes_sentinel_and_redis(self):
        """Sentinel-aware clients reach 26379; 6379 is there too."""
        svc = by_kind_name(render_chart({"service": {"type": "LoadBalancer"}}), "Service", "redis-ha")["spec"]
        assert svc["type"] == "LoadBalancer"
        assert {p["name"]: p["port"] for p in svc["ports"]} == {"redis": 6379, "sentinel": 26379}

    def test_single_mode_exposes_redis_only(self):
        """replicas: 1 runs no Sentinel."""
        svc = by_kind_name(render_chart({"replicas": 1}), "Service", "redis-ha")["spec"]
        assert [p["name"] for p in svc["ports"]] == ["redis"]


class TestSecret:
    def test_uses_auth_password(self):
        """auth.password lands in the chart Secret."""
        sec = by_kind_name(render_chart({"auth": {"password": "given"}}), "Secret", "redis-ha")
        assert base64.b64decode(sec["data"]["password"]).decode() == "given"
        assert sec["metadata"]["annotations"]["helm.sh/resource-policy"] == "keep"

    def test_generates_a_strong_password(self):
        """No password given: 32 random characters."""
        sec = by_kind_name(render_chart({"nameOverride": "gen"}), "Secret", "redis-ha-gen")
        assert len(base64.b64decode(sec["data"]["password"])) == 32

    def test_checksum_matches_the_rendered_secret(self):
        """The generated password is computed once, so the checksum is that of the Secret actually rendered."""
        docs = render_chart({"nameOverride": "once"})
        password = base64.b64decode(by_kind_name(docs, "Secret", "redis-ha-once")["data"]["password"]).decode()
        given = render_chart({"nameOverride": "once", "auth": {"password": password}})

        def checksum(d):
            return by_kind_name(d, "StatefulSet", "redis-ha-once")["spec"]["template"]["metadata"]["annotations"]["checksum/secret"]

        assert checksum(docs) == checksum(given)

    def test_existing_secret_is_mounted_with_its_key(self):
        """auth.existingSecret + existingSecretPasswordKey; no chart Secret."""
        docs = render_chart({"auth": {"existingSecret": "redis-password", "existingSecretPasswordKey": "pw"}})
        assert not [d for d in docs if d["kind"] == "Secret"]
        vol = next(v for v in by_kind_name(docs, "StatefulSet", "redis-ha")["spec"]["template"]["spec"]["volumes"] if v["name"] == "secret")
        assert vol["projected"]["defaultMode"] == 0o400
        assert vol["projected"]["sources"][0] == {"secret": {"name": "redis-password", "items": [{"key": "pw", "path": "password"}]}}


class TestPodDisruptionBudget:
    @pytest.mark.parametrize(("replicas", "min_available"), [(3, 2), (5, 3), (7, 4)])
    def test_min_available_keeps_quorum(self, replicas, min_available):
        """pdb.minAvailable empty: floor(N/2)+1."""
        pdb = by_kind_name(render_chart({"replicas": replicas}), "PodDisruptionBudget", "redis-ha")
        assert pdb["spec"]["minAvailable"] == min_available
        assert pdb["spec"]["selector"]["matchLabels"]["app.kubernetes.io/component"] == "server"

    def test_explicit_min_available(self):
        """pdb.minAvailable as a percentage."""
        pdb = by_kind_name(render_chart({"pdb": {"minAvailable": "60%"}}), "PodDisruptionBudget", "redis-ha")
        assert pdb["spec"]["minAvailable"] == "60%"

    def test_disabled(self):
        """pdb.enabled=false: neither the Redis nor the Sentinel budget."""
        assert not [d for d in render_chart({"pdb": {"enabled": False}}) if d["kind"] == "PodDisruptionBudget"]


class TestSentinelPodDisruptionBudget:
    @pytest.mark.parametrize(("sentinels", "min_available"), [(3, 2), (5, 3), (7, 4)])
    def test_min_available_keeps_a_majority_of_sentinels(self, sentinels, min_available):
        """templates/pdb-sentinel.yaml: floor(sentinel.replicas/2)+1 over the Sentinel pods."""
        pdb = by_kind_name(render_chart({"sentinel": {"replicas": sentinels}}), "PodDisruptionBudget", "redis-ha-sentinel")
        assert pdb["spec"] == {"minAvailable": min_available, "selector": {"matchLabels": {**RELEASE_PODS, "app.kubernetes.io/component": "sentinel"}}}
        assert pdb["metadata"]["labels"]["app.kubernetes.io/component"] == "sentinel"

    def test_pdb_min_available_is_for_redis_pods_only(self):
        """pdb.minAvailable sets the Redis budget; the Sentinel budget stays a majority of the Sentinels."""
        docs = render_chart({"replicas": 5, "pdb": {"minAvailable": 4}})
        assert by_kind_name(docs, "PodDisruptionBudget", "redis-ha")["spec"]["minAvailable"] == 4
        assert by_kind_name(docs, "PodDisruptionBudget", "redis-ha-sentinel")["spec"]["minAvailable"] == 2

    def test_selects_exactly_the_sentinel_statefulset_pods(self):
        """The budget's selector is the Sentinel StatefulSet's, not the Redis pods'."""
        docs = render_chart()
        pdb = by_kind_name(docs, "PodDisruptionBudget", "redis-ha-sentinel")
        assert pdb["spec"]["selector"] == by_kind_name(docs, "StatefulSet", "redis-ha-sentinel")["spec"]["selector"]
        assert pdb["spec"]["selector"] != by_kind_name(docs, "StatefulSet", "redis-ha")["spec"]["selector"]

    @pytest.mark.parametrize("values", [
        pytest.param({"sentinel": {"colocated": True}}, id="colocated"),
        pytest.param({"replicas": 1}, id="single"),
        pytest.param({"pdb": {"enabled": False}}, id="disabled"),
    ])
    def test_absent(self, values):
        """No Sentinel pods, or pdb.enabled=false: no Sentinel budget."""
        assert "redis-ha-sentinel" not in [d["metadata"]["name"] for d in render_chart(values) if d["kind"] == "PodDisruptionBudget"]


class TestServiceMonitor:
    def test_scrapes_the_metrics_port(self):
        """metrics.serviceMonitor: interval, timeout, labels, relabelings."""
        sm = by_kind_name(render_chart({"metrics": {"serviceMonitor": {"enabled": True, "interval": "15s", "labels": {"release": "prom"}, "relabelings": [{"action": "keep"}]}}}), "ServiceMonitor", "redis-ha")
        assert sm["metadata"]["labels"]["release"] == "prom"
        ep = sm["spec"]["endpoints"][0]
        assert (ep["port"], ep["interval"], ep["scrapeTimeout"], ep["relabelings"]) == ("metrics", "15s", "10s", [{"action": "keep"}])
