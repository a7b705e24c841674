# SPDX-License-Identifier: Apache-2.0
"""templates/networkpolicy.yaml"""
import pytest

from tests.helm import by_kind_name, render_chart

# Every pod of the release, Redis and Sentinel alike (no component).
RELEASE_PODS = {"app.kubernetes.io/name": "redis-ha", "app.kubernetes.io/instance": "redis-ha"}
SELF = {"podSelector": {"matchLabels": RELEASE_PODS}}
PEER_PORTS = [{"port": 6379, "protocol": "TCP"}, {"port": 26379, "protocol": "TCP"}, {"port": 16379, "protocol": "TCP"}]


def policy(values=None):
    return by_kind_name(render_chart(values), "NetworkPolicy", "redis-ha")["spec"]


def ports(rule):
    return sorted(p["port"] for p in rule["ports"])


class TestNetworkPolicy:
    def test_on_by_default_with_both_directions(self):
        """networkPolicy.enabled default true, Ingress and Egress."""
        assert policy()["policyTypes"] == ["Ingress", "Egress"]

    @pytest.mark.parametrize("layout", [{}, {"sentinel": {"colocated": True}}], ids=["sentinel-pods", "colocated"])
    def test_applies_to_every_pod_of_the_release(self, layout):
        """The policy selects Redis and Sentinel pods: name and instance, no component."""
        docs = render_chart(layout)
        assert by_kind_name(docs, "NetworkPolicy", "redis-ha")["spec"]["podSelector"] == {"matchLabels": RELEASE_PODS}
        for sts in (d for d in docs if d["kind"] == "StatefulSet"):
            assert RELEASE_PODS.items() <= sts["spec"]["template"]["metadata"]["labels"].items(), sts["metadata"]["name"]

    def test_peer_traffic(self):
        """The chart's pods reach each other on 6379, 26379 and the boot port 16379, both ways."""
        spec = policy()
        assert spec["ingress"][0] == {"from": [SELF], "ports": PEER_PORTS}
        assert spec["egress"][0] == {"to": [SELF], "ports": PEER_PORTS}

    @pytest.mark.parametrize("network_policy", [{}, {"allowExternal": False, "metricsFrom": [{"namespaceSelector": {}}]}], ids=["open", "restricted"])
    def test_boot_port_only_from_chart_pods(self, network_policy):
        """boot.port (16400 here) is admitted from the release's own pods only: no client, metrics or egress rule opens it to others."""
        spec = policy({"boot": {"port": 16400}, "networkPolicy": network_policy})
        with_boot = [rule for rule in spec["ingress"] if {"port": 16400, "protocol": "TCP"} in rule["ports"]]
        assert with_boot == [{"from": [SELF], "ports": [{"port": 6379, "protocol": "TCP"}, {"port": 26379, "protocol": "TCP"}, {"port": 16400, "protocol": "TCP"}]}]
        assert [rule["to"] for rule in spec["egress"] if {"port": 16400, "protocol": "TCP"} in rule.get("ports", [])] == [[SELF]]
        assert not [rule for rule in spec["ingress"] + spec["egress"] if {"port": 16379, "protocol": "TCP"} in rule.get("ports", [])]

    def test_clients_open_by_default(self):
        """allowExternal: any pod may reach 6379/26379."""
        client = policy()["ingress"][1]
        assert ports(client) == [6379, 26379] and "from" not in client

    def test_clients_restricted(self):
        """allowExternal false: only the client label and networkPolicy.clients."""
        client = policy({"networkPolicy": {"allowExternal": False, "clients": [{"podSelector": {"matchLabels": {"app": "catalog-api"}}}]}})["ingress"][1]
        assert client["from"] == [{"podSelector": {"matchLabels": {"redis-ha-client": "true"}}}, {"podSelector": {"matchLabels": {"app": "catalog-api"}}}]

    def test_metrics_from_prometheus(self):
        """metricsFrom limits the exporter ports (Redis 9121, Sentinel 9355)."""
        prom = [{"namespaceSelector": {"matchLabels": {"name": "monitoring"}}}]
        rule = policy({"networkPolicy": {"metricsFrom": prom}})["ingress"][2]
        assert ports(rule) == [9121, 9355] and rule["from"] == prom

    def test_dns_egress_configurable(self):
        """DNS ports and selectors are values."""
        dns = {"ports": [53, 1053], "to": [{"namespaceSelector": {}}]}
        rule = policy({"networkPolicy": {"dns": dns}})["egress"][1]
        assert rule["to"] == [{"namespaceSelector": {}}]
        assert rule["ports"] == [{"port": 53, "protocol": "UDP"}, {"port": 53, "protocol": "TCP"}, {"port": 1053, "protocol": "UDP"}, {"port": 1053, "protocol": "TCP"}]

    def test_egress_only_peers_dns_and_the_api_server(self):
        """No other egress unless extraEgress; the API server's ports only with roleServices.enabled."""
        assert len(policy()["egress"]) == 3
        assert len(policy({"roleServices": {"enabled": False}})["egress"]) == 2
        assert len(policy({"networkPolicy": {"extraEgress": [{"to": [{"ipBlock": {"cidr": "10.0.0.0/8"}}]}]}})["egress"]) == 4

    def test_egress_to_the_api_server_follows_values(self):
        """networkPolicy.kubeAPI.ports and .to shape the rule the role-label container needs."""
        assert policy()["egress"][2] == {"ports": [{"port": 443, "protocol": "TCP"}, {"port": 6443, "protocol": "TCP"}]}
        to = [{"ipBlock": {"cidr": "172.18.0.0/16"}}]
        rule = policy({"networkPolicy": {"kubeAPI": {"ports": [8443], "to": to}}})["egress"][2]
        assert rule == {"ports": [{"port": 8443, "protocol": "TCP"}], "to": to}

    def test_disabled(self):
        """networkPolicy.enabled=false."""
        assert not [d for d in render_chart({"networkPolicy": {"enabled": False}}) if d["kind"] == "NetworkPolicy"]
