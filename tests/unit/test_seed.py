# SPDX-License-Identifier: Apache-2.0
"""The AIKernel reference deployment: examples/aikernel-values.yaml, installed as release `redis`
in namespace aikernel, must give every item examples/README.md lists ("Item by item")."""
import re

import pytest

from tests.helm import ROOT, by_kind_name, container, env_of, load_values_file, of_kind, render_chart

RELEASE, NAMESPACE = "redis", "aikernel"
SELECTOR = {"app.kubernetes.io/name": "redis-ha", "app.kubernetes.io/instance": RELEASE, "app.kubernetes.io/component": "server"}
# The NetworkPolicy selects, and admits as peers, every pod of the release (no component).
RELEASE_PODS = {"app.kubernetes.io/name": "redis-ha", "app.kubernetes.io/instance": RELEASE}
PEERS = {"podSelector": {"matchLabels": RELEASE_PODS}}
CATALOG_API = {"podSelector": {"matchLabels": {"app": "catalog-api"}}}
PROMETHEUS = {
    "namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "monitoring"}},
    "podSelector": {"matchLabels": {"app.kubernetes.io/name": "prometheus"}},
}
# The chart's own opt-in client label (`<fullname>-client: "true"`), worn by the helm test pod.
CHART_CLIENT = {"podSelector": {"matchLabels": {"redis-client": "true"}}}
# The hosts of the reference deployment's appsettings.json ConnectionString, verbatim.
REFERENCE_CONNECTION_STRING = (
    "redis-0.redis-headless.aikernel.svc.cluster.local:6379,"
    "redis-1.redis-headless.aikernel.svc.cluster.local:6379,"
    "redis-2.redis-headless.aikernel.svc.cluster.local:6379,"
    "password=YOUR_PASSWORD,ssl=false,abortConnect=false"
)


@pytest.fixture(scope="module")
def docs():
    return render_chart(load_values_file(ROOT / "examples" / "aikernel-values.yaml"), release=RELEASE, namespace=NAMESPACE)


@pytest.fixture(scope="module")
def sts(docs):
    return by_kind_name(docs, "StatefulSet", "redis")


@pytest.fixture(scope="module")
def netpol(docs):
    return by_kind_name(docs, "NetworkPolicy", "redis")["spec"]


def conf_lines(docs, key="redis.conf"):
    return by_kind_name(docs, "ConfigMap", "redis-config")["data"][key].splitlines()


def rule_ports(rule):
    return sorted((p["port"], p["protocol"]) for p in rule["ports"])


class TestAIKernelReferenceDeployment:
    def test_three_pods_each_run_redis_and_sentinel(self, sts):
        """replicas: 3 with sentinel.colocated gives three pods with redis and sentinel, quorum 2 on master set mymaster."""
        assert sts["spec"]["replicas"] == 3
        names = [c["name"] for c in sts["spec"]["template"]["spec"]["containers"]]
        assert names == ["redis", "role-label", "sentinel", "metrics", "sentinel-metrics"]
        env = env_of(container(sts, "sentinel"))
        assert (env["QUORUM"], env["MASTER_SET"], env["SENTINELS"]) == ("2", "mymaster", "3")
        assert env["SENTINEL_HOST_TEMPLATE"] == env["NODE_HOST_TEMPLATE"] == "redis-%s.redis-headless.aikernel.svc.cluster.local"
        assert container(sts, "sentinel")["ports"] == [{"name": "sentinel", "containerPort": 26379}]

    def test_colocated_layout_has_no_sentinel_pods(self, docs):
        """sentinel.colocated: the deployment's `kubectl exec redis-0 -c sentinel` works; no redis-sentinel StatefulSet or PodDisruptionBudget."""
        assert [d["metadata"]["name"] for d in of_kind(docs, "StatefulSet")] == ["redis"]
        assert [d["metadata"]["name"] for d in of_kind(docs, "PodDisruptionBudget")] == ["redis"]

    def test_image_is_redis_7_2(self, sts):
        """image.tag 7.2.7: the reference deployment asks for Redis 7.2+."""
        assert container(sts, "redis")["image"] == "docker.io/library/redis:7.2.7"

    def test_pods_require_distinct_nodes(self, sts):
        """podAntiAffinity: hard puts each pod on its own node (required, hostname)."""
        anti = sts["spec"]["template"]["spec"]["affinity"]["podAntiAffinity"]
        assert "preferredDuringSchedulingIgnoredDuringExecution" not in anti
        assert anti["requiredDuringSchedulingIgnoredDuringExecution"] == [
            {"labelSelector": {"matchLabels": SELECTOR}, "topologyKey": "kubernetes.io/hostname"}
        ]

    def test_pdb_keeps_two_pods(self, docs):
        """pdb.minAvailable: 2 over the StatefulSet's pods."""
        spec = by_kind_name(docs, "PodDisruptionBudget", "redis")["spec"]
        assert spec == {"minAvailable": 2, "selector": {"matchLabels": SELECTOR}}

    def test_claims_are_10gi_on_fast_ssd(self, sts):
        """persistence.size 10Gi and storageClass fast-ssd on every pod's /data claim."""
        (claim,) = sts["spec"]["volumeClaimTemplates"]
        assert claim["metadata"]["name"] == "data"
        assert claim["spec"]["storageClassName"] == "fast-ssd"
        assert claim["spec"]["resources"]["requests"]["storage"] == "10Gi"
        mounts = {m["name"]: m["mountPath"] for m in container(sts, "redis")["volumeMounts"]}
        assert mounts["data"] == "/data"

    def test_exporter_on_9121_scraped_by_a_servicemonitor(self, docs, sts):
        """metrics.port 9121 and metrics.serviceMonitor.enabled: the ServiceMonitor selects a Service port serving 9121."""
        assert container(sts, "metrics")["ports"] == [{"name": "metrics", "containerPort": 9121}]
        (monitor,) = of_kind(docs, "ServiceMonitor")
        assert monitor["spec"]["namespaceSelector"] == {"matchNames": [NAMESPACE]}
        endpoint = next(e for e in monitor["spec"]["endpoints"] if e["port"] == "metrics")
        wanted = monitor["spec"]["selector"]["matchLabels"]
        scraped = [
            p for svc in of_kind(docs, "Service")
            if wanted.items() <= svc["metadata"]["labels"].items()
            for p in svc["spec"]["ports"] if p["name"] == endpoint["port"]
        ]
        assert scraped and all(p["port"] == 9121 and p["targetPort"] == "metrics" for p in scraped)

    def test_ingress_only_from_catalog_api_prometheus_and_peers(self, netpol):
        """networkPolicy.allowExternal false + clients + metricsFrom: no rule admits other sources."""
        assert netpol["podSelector"] == {"matchLabels": RELEASE_PODS}
        assert netpol["policyTypes"] == ["Ingress", "Egress"]
        assert all(rule.get("from") for rule in netpol["ingress"]), "a rule without `from` admits every source"
        sources = {}
        for rule in netpol["ingress"]:
            for peer in rule["from"]:
                sources.setdefault(repr(peer), set()).update(rule_ports(rule))
        redis_ports = {(6379, "TCP"), (26379, "TCP")}
        assert sources == {
            repr(PEERS): redis_ports | {(16379, "TCP")},
            repr(CHART_CLIENT): redis_ports,
            repr(CATALOG_API): redis_ports,
            repr(PROMETHEUS): {(9121, "TCP"), (9355, "TCP")},
        }

    def test_egress_only_to_peers_and_dns(self, netpol):
        """Egress: the chart's pods on 6379/26379 and the boot port 16379, DNS on 53, and the API server for the role labels; nothing else."""
        peers, dns, api = netpol["egress"]
        assert rule_ports(api) == [(443, "TCP"), (6443, "TCP")]
        assert peers["to"] == [PEERS]
        assert rule_ports(peers) == [(6379, "TCP"), (16379, "TCP"), (26379, "TCP")]
        assert rule_ports(dns) == [(53, "TCP"), (53, "UDP")]

    def test_password_from_existing_secret_as_a_0400_file(self, docs, sts):
        """auth.existingSecret redis-password, key password: mounted read-only with mode 0400, no Secret rendered."""
        assert not of_kind(docs, "Secret")
        volumes = {v["name"]: v for v in sts["spec"]["template"]["spec"]["volumes"]}
        projected = volumes["secret"]["projected"]
        assert projected["defaultMode"] == 0o400
        assert projected["sources"][0] == {"secret": {"name": "redis-password", "items": [{"key": "password", "path": "password"}]}}
        for name in ("redis", "sentinel"):
            c = container(sts, name)
            assert {"name": "secret", "mountPath": "/secrets", "readOnly": True} in c["volumeMounts"]
            assert env_of(c)["PASSWORD_FILE"] == "/secrets/password"
            assert not any("password" in str(a).lower() for a in c.get("args", []) + c.get("command", []))

    def test_rdb_every_60s_after_10000_changes_plus_aof(self, docs):
        """redis.config.save "60 10000" and appendonly true in the redis.conf ConfigMap."""
        lines = conf_lines(docs)
        assert [line for line in lines if line.startswith("save ")] == ['save "60 10000"']
        assert "appendonly yes" in lines
        assert "appendfsync everysec" in lines

    def test_maxmemory_with_its_policy(self, docs):
        """redis.config.maxmemory 3gb and maxmemoryPolicy allkeys-lru in the redis.conf ConfigMap."""
        lines = conf_lines(docs)
        assert "maxmemory 3gb" in lines
        assert "maxmemory-policy allkeys-lru" in lines

    def test_pod_names_match_the_reference_connection_string(self, docs, sts):
        """fullnameOverride redis: NODE_HOST_TEMPLATE gives the reference deployment's appsettings.json hosts."""
        reference_hosts = re.findall(r"([a-z0-9.-]+\.local):6379", REFERENCE_CONNECTION_STRING)
        template = env_of(container(sts, "redis"))["NODE_HOST_TEMPLATE"]
        assert [template % i for i in range(3)] == reference_hosts
        assert sts["spec"]["serviceName"] == "redis-headless"
        assert by_kind_name(docs, "Service", "redis-headless")["spec"]["clusterIP"] == "None"
