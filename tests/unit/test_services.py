# SPDX-License-Identifier: Apache-2.0
"""templates/service-headless.yaml, service.yaml, serviceaccount.yaml, secret.yaml, pdb.yaml, servicemonitor.yaml"""
import base64

import pytest

from tests.helm import by_kind_name, render_chart


class TestHeadlessService:
    def test_publishes_not_ready_pods(self):
        """Rule 1/A7: pods resolve while starting."""
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
        """pdb.enabled=false."""
        assert not [d for d in render_chart({"pdb": {"enabled": False}}) if d["kind"] == "PodDisruptionBudget"]


class TestServiceMonitor:
    def test_scrapes_the_metrics_port(self):
        """metrics.serviceMonitor: interval, timeout, labels, relabelings."""
        sm = by_kind_name(render_chart({"metrics": {"serviceMonitor": {"enabled": True, "interval": "15s", "labels": {"release": "prom"}, "relabelings": [{"action": "keep"}]}}}), "ServiceMonitor", "redis-ha")
        assert sm["metadata"]["labels"]["release"] == "prom"
        ep = sm["spec"]["endpoints"][0]
        assert (ep["port"], ep["interval"], ep["scrapeTimeout"], ep["relabelings"]) == ("metrics", "15s", "10s", [{"action": "keep"}])
