# SPDX-License-Identifier: Apache-2.0
"""tls.*: config lines, listeners, the /tls mounts, the exporters over TLS, the cert-manager
Certificate (DNS SANs only) and the TLS failure messages."""
import ipaddress
import re

import pytest

from tests.helm import HelmTemplateError, by_kind_name, container, env_of, of_kind, render_chart, statefulset_of

SECRET = {"enabled": True, "existingSecret": "redis-tls"}
CERT_MANAGER = {"enabled": True, "certManager": {"enabled": True, "issuerRef": {"name": "cache-ca"}}}
TLS_LINES = ["tls-cert-file /tls/tls.crt", "tls-key-file /tls/tls.key", "tls-ca-cert-file /tls/ca.crt", "tls-replication yes"]
CHART_CONTAINERS = ("redis", "sentinel", "metrics", "sentinel-metrics")
COLOCATED = {"colocated": True}
LAYOUTS = [pytest.param({}, id="sentinel-pods"), pytest.param(COLOCATED, id="colocated")]


def render(tls=None, **values):
    return render_chart({"tls": tls or SECRET, **values})


def sts(docs):
    return by_kind_name(docs, "StatefulSet", "redis-ha")


def holder(docs, name):
    """The StatefulSet whose pods run container `name`."""
    return statefulset_of(docs, name)


def conf(docs, key):
    return by_kind_name(docs, "ConfigMap", "redis-ha-config")["data"][key].splitlines()


def certificate(docs):
    return by_kind_name(docs, "Certificate", "redis-ha")


class TestConfig:
    @pytest.mark.parametrize("key", ["redis.conf", "sentinel.conf"])
    @pytest.mark.parametrize(("auth_clients", "line"), [(False, "tls-auth-clients no"), (True, "tls-auth-clients yes")])
    def test_should_configure_tls_files_replication_and_client_auth(self, key, auth_clients, line):
        """tls.enabled and tls.authClients: the TLS lines of Redis and Sentinel (tls-replication also covers Sentinel's peers)."""
        lines = conf(render({**SECRET, "authClients": auth_clients}), key)
        for expected in TLS_LINES + [line]:
            assert lines.count(expected) == 1, expected

    def test_extra_config_comes_after_the_tls_lines(self):
        """redis.extraConfig can still override a TLS setting (e.g. tls-protocols)."""
        lines = conf(render(redis={"extraConfig": ["tls-protocols TLSv1.3"]}), "redis.conf")
        assert lines[-1] == "tls-protocols TLSv1.3"
        assert lines.index("tls-replication yes") < len(lines) - 1

    @pytest.mark.parametrize("key", ["redis.conf", "sentinel.conf"])
    def test_should_write_no_tls_line_when_off(self, key):
        """tls.enabled false (default): plain text only."""
        assert not [line for line in conf(render_chart(), key) if line.startswith("tls-")]


class TestPods:
    @pytest.mark.parametrize("layout", LAYOUTS)
    @pytest.mark.parametrize("name", CHART_CONTAINERS)
    def test_should_mount_the_tls_files_read_only_in_every_chart_container(self, name, layout):
        """Redis, Sentinel and both exporters read /tls, in the Sentinel pods as in the Redis pods."""
        mounts = container(holder(render(sentinel=layout), name), name)["volumeMounts"]
        assert {"name": "tls", "mountPath": "/tls", "readOnly": True} in mounts

    @pytest.mark.parametrize(("tls", "secret", "keys"), [
        pytest.param({**SECRET, "certKey": "cert.pem", "keyKey": "key.pem", "caKey": "ca.pem"}, "redis-tls", ["cert.pem", "key.pem", "ca.pem"], id="existing-secret"),
        pytest.param({**CERT_MANAGER, "certKey": "ignored"}, "redis-ha-tls", ["tls.crt", "tls.key", "ca.crt"], id="cert-manager"),
    ])
    def test_should_map_the_secret_keys_to_owner_read_only_files(self, tls, secret, keys):
        """tls.existingSecret with tls.certKey/keyKey/caKey, or cert-manager's fixed keys: files tls.crt, tls.key, ca.crt, mode 0400, in Redis and Sentinel pods."""
        for s in of_kind(render(tls), "StatefulSet"):
            volume = next(v for v in s["spec"]["template"]["spec"]["volumes"] if v["name"] == "tls")
            assert volume["secret"] == {"secretName": secret, "defaultMode": 0o400,
                                        "items": [{"key": k, "path": p} for k, p in zip(keys, ["tls.crt", "tls.key", "ca.crt"])]}, s["metadata"]["name"]

    @pytest.mark.parametrize("layout", LAYOUTS)
    @pytest.mark.parametrize("name", ["redis", "sentinel"])
    def test_should_tell_the_scripts_about_tls(self, name, layout):
        """The start scripts, probes and hooks read TLS_* from the env (lib.sh)."""
        env = env_of(container(holder(render(sentinel=layout), name), name))
        assert {k: env[k] for k in ("TLS_ENABLED", "TLS_CERT_FILE", "TLS_KEY_FILE", "TLS_CA_FILE")} == {
            "TLS_ENABLED": "true", "TLS_CERT_FILE": "/tls/tls.crt", "TLS_KEY_FILE": "/tls/tls.key", "TLS_CA_FILE": "/tls/ca.crt"}
        assert "PLAIN_REDIS_PORT" not in env and "PLAIN_SENTINEL_PORT" not in env

    def test_should_keep_pods_unchanged_without_tls(self, default_docs):
        """Default render: no TLS env, volume or mount in the Redis or the Sentinel pods."""
        sets = of_kind(default_docs, "StatefulSet")
        assert len(sets) == 2
        for s in sets:
            spec = s["spec"]["template"]["spec"]
            assert "tls" not in [v["name"] for v in spec["volumes"]]
            for c in spec["containers"]:
                assert not [e for e in c.get("env", []) if e["name"].startswith("TLS_")], c["name"]
                assert "tls" not in [m["name"] for m in c.get("volumeMounts", [])], c["name"]

    @pytest.mark.parametrize("layout", LAYOUTS)
    def test_tls_only_serves_tls_on_the_usual_ports(self, layout):
        """TLS-only mode: the pods expose redis.port and sentinel.port and nothing plain."""
        docs = render(sentinel=layout)
        assert container(holder(docs, "redis"), "redis")["ports"] == [{"name": "redis", "containerPort": 6379}]
        assert container(holder(docs, "sentinel"), "sentinel")["ports"] == [{"name": "sentinel", "containerPort": 26379}]

    @pytest.mark.parametrize("layout", LAYOUTS)
    def test_plain_ports_add_listeners_for_legacy_clients(self, layout):
        """tls.plainPorts: extra named container ports and the env the start scripts turn into `port`."""
        docs = render({**SECRET, "plainPorts": {"enabled": True, "redis": 7380, "sentinel": 27380}}, sentinel=layout)
        assert {"name": "redis-plain", "containerPort": 7380} in container(holder(docs, "redis"), "redis")["ports"]
        assert {"name": "sentinel-plain", "containerPort": 27380} in container(holder(docs, "sentinel"), "sentinel")["ports"]
        for name in ("redis", "sentinel"):
            env = env_of(container(holder(docs, name), name))
            assert (env["PLAIN_REDIS_PORT"], env["PLAIN_SENTINEL_PORT"]) == ("7380", "27380"), name

    def test_helm_test_pod_speaks_tls(self):
        """helm test runs the same lib.sh, so it gets the TLS env and files."""
        pod = by_kind_name(render(), "Pod", "redis-ha-test")
        test = container(pod, "test")
        assert env_of(test)["TLS_ENABLED"] == "true"
        assert {"name": "tls", "mountPath": "/tls", "readOnly": True} in test["volumeMounts"]
        assert next(v for v in pod["spec"]["volumes"] if v["name"] == "tls")["secret"]["defaultMode"] == 0o400


class TestExporters:
    @pytest.mark.parametrize("layout", LAYOUTS)
    @pytest.mark.parametrize(("name", "port"), [("metrics", 6379), ("sentinel-metrics", 26379)])
    def test_should_scrape_over_tls_by_the_pods_own_name(self, name, port, layout):
        """The certificate has DNS SANs only, so each exporter dials its pod's FQDN with rediss://,
        the CA and the pod's client certificate; POD_NAME is defined before REDIS_ADDR uses it."""
        c = container(holder(render(sentinel=layout), name), name)
        env = env_of(c)
        assert env["POD_NAME"] == {"fieldRef": {"fieldPath": "metadata.name"}}
        assert env["REDIS_ADDR"] == f"rediss://$(POD_NAME).redis-ha-headless.default.svc.cluster.local:{port}"
        assert env["REDIS_EXPORTER_TLS_CA_CERT_FILE"] == "/tls/ca.crt"
        assert env["REDIS_EXPORTER_TLS_CLIENT_CERT_FILE"] == "/tls/tls.crt"
        assert env["REDIS_EXPORTER_TLS_CLIENT_KEY_FILE"] == "/tls/tls.key"
        assert "REDIS_EXPORTER_SKIP_TLS_VERIFICATION" not in env
        names = [e["name"] for e in c["env"]]
        assert names.index("POD_NAME") < names.index("REDIS_ADDR")

    def test_should_scrape_loopback_in_plain_text_without_tls(self, default_docs):
        """TLS off: redis://127.0.0.1 as before."""
        assert env_of(container(sts(default_docs), "metrics"))["REDIS_ADDR"] == "redis://127.0.0.1:6379"


class TestServicesAndPolicy:
    @pytest.mark.parametrize("service", ["redis-ha", "redis-ha-headless"])
    def test_tls_only_services_keep_their_ports(self, service):
        """TLS-only: the Services expose the usual (now TLS) ports and no plain one."""
        ports = {p["name"] for p in by_kind_name(render(), "Service", service)["spec"]["ports"]}
        assert {"redis", "sentinel"} <= ports and not {"redis-plain", "sentinel-plain"} & ports

    @pytest.mark.parametrize("service", ["redis-ha", "redis-ha-headless"])
    def test_plain_ports_are_exposed_by_the_services(self, service):
        """tls.plainPorts: both Services publish the plain listeners too."""
        ports = by_kind_name(render({**SECRET, "plainPorts": {"enabled": True}}), "Service", service)["spec"]["ports"]
        assert {"name": "redis-plain", "port": 6380, "targetPort": "redis-plain"} in ports
        assert {"name": "sentinel-plain", "port": 26380, "targetPort": "sentinel-plain"} in ports

    @pytest.mark.parametrize(("plain", "ports"), [(False, {6379, 26379}), (True, {6379, 26379, 6380, 26380})])
    def test_network_policy_admits_clients_on_the_listening_ports(self, plain, ports):
        """Clients reach the TLS ports, and the plain ones only when they exist; peers use TLS only."""
        policy = by_kind_name(render({**SECRET, "plainPorts": {"enabled": plain}}), "NetworkPolicy", "redis-ha")
        peers, clients = policy["spec"]["ingress"][:2]
        assert {p["port"] for p in clients["ports"]} == ports
        assert {p["port"] for p in peers["ports"]} == {6379, 26379, 16379}


class TestCertificate:
    def test_should_render_only_with_cert_manager(self):
        """tls.existingSecret: no Certificate; tls.certManager.enabled: one."""
        assert not [d for d in render() if d["kind"] == "Certificate"]
        assert certificate(render(CERT_MANAGER))["apiVersion"] == "cert-manager.io/v1"

    @pytest.mark.parametrize(("values", "redis_pods", "sentinel_pods"), [
        pytest.param({"replicas": 1}, 1, 0, id="single"),
        pytest.param({"replicas": 1, "sentinel": COLOCATED}, 1, 0, id="single-colocated"),
        pytest.param({"replicas": 3}, 3, 3, id="three"),
        pytest.param({"replicas": 5}, 5, 3, id="five-three-sentinels"),
        pytest.param({"replicas": 3, "sentinel": {"replicas": 5}}, 3, 5, id="three-five-sentinels"),
        pytest.param({"replicas": 3, "sentinel": COLOCATED}, 3, 0, id="three-colocated"),
        pytest.param({"replicas": 5, "sentinel": COLOCATED}, 5, 0, id="five-colocated"),
    ])
    def test_sans_are_every_pod_and_both_services_and_dns_only(self, values, redis_pods, sentinel_pods):
        """DNS SANs: each Redis pod FQDN, each Sentinel pod FQDN (Sentinels in pods of their own), the headless and
        client Services and the -master and -replicas Services in short/ns/svc/FQDN form, the extra names; no IPs."""
        cert = certificate(render_chart({**values, "tls": {**CERT_MANAGER, "certManager": {**CERT_MANAGER["certManager"], "extraDnsNames": ["redis.example.com"]}}},
                                        namespace="cache"))
        names = cert["spec"]["dnsNames"]
        pods = [f"redis-ha-{i}.redis-ha-headless.cache.svc.cluster.local" for i in range(redis_pods)]
        sentinels = [f"redis-ha-sentinel-{i}.redis-ha-headless.cache.svc.cluster.local" for i in range(sentinel_pods)]
        services = [form.format(svc) for svc in ("redis-ha-headless", "redis-ha", "redis-ha-master", "redis-ha-replicas") for form in ("{}", "{}.cache", "{}.cache.svc", "{}.cache.svc.cluster.local")]
        assert names == pods + sentinels + services + ["redis.example.com"]
        assert "ipAddresses" not in cert["spec"]
        for name in names:
            with pytest.raises(ValueError):
                ipaddress.ip_address(name)

    def test_certificate_serves_as_server_and_client(self):
        """Pods present it to clients and to each other (authClients), so both usages; issuerRef, lifetime from values."""
        spec = certificate(render({**CERT_MANAGER, "certManager": {"enabled": True, "issuerRef": {"name": "corp", "kind": "ClusterIssuer"}, "duration": "720h", "renewBefore": "240h"}}))["spec"]
        assert {"server auth", "client auth"} <= set(spec["usages"])
        assert spec["secretName"] == "redis-ha-tls"
        assert spec["issuerRef"] == {"name": "corp", "kind": "ClusterIssuer", "group": "cert-manager.io"}
        assert (spec["duration"], spec["renewBefore"]) == ("720h", "240h")

    @pytest.mark.parametrize("sentinel", [pytest.param({"replicas": 5}, id="five-sentinel-pods"), pytest.param(COLOCATED, id="colocated")])
    def test_sans_cover_every_name_the_chart_dials(self, sentinel):
        """The hosts the scripts (NODE_HOST_TEMPLATE, SENTINEL_HOST_TEMPLATE), the exporters (REDIS_ADDR of every pod) and helm test (SENTINEL_SERVICE) connect to are all SANs."""
        docs = render_chart({"replicas": 5, "sentinel": sentinel, "tls": CERT_MANAGER}, namespace="cache")
        names = set(certificate(docs)["spec"]["dnsNames"])
        env = env_of(container(holder(docs, "redis"), "redis"))
        for i in range(5):
            assert env["NODE_HOST_TEMPLATE"] % i in names
        for i in range(int(env["SENTINELS"])):
            assert env["SENTINEL_HOST_TEMPLATE"] % i in names
        for s in of_kind(docs, "StatefulSet"):
            pod_names = [f"{s['metadata']['name']}-{i}" for i in range(s["spec"]["replicas"])]
            for c in s["spec"]["template"]["spec"]["containers"]:
                if "REDIS_ADDR" in env_of(c):
                    for pod_name in pod_names:
                        addr = env_of(c)["REDIS_ADDR"].replace("$(POD_NAME)", pod_name)
                        assert re.match(r"rediss://([^:]+):", addr).group(1) in names, (c["name"], pod_name)
        assert env_of(container(by_kind_name(docs, "Pod", "redis-ha-test"), "test"))["SENTINEL_SERVICE"] in names

    @pytest.mark.parametrize("name", ["redis-ha", "redis-ha-sentinel"])
    def test_a_changed_certificate_rolls_the_pods(self, name):
        """checksum/tls follows the rendered Certificate (e.g. new SANs after scaling Redis or Sentinel pods)."""
        def checksum(values):
            return by_kind_name(render_chart(values), "StatefulSet", name)["spec"]["template"]["metadata"]["annotations"]["checksum/tls"]

        base = {"tls": CERT_MANAGER}
        assert checksum(base) == checksum(base)
        assert checksum(base) != checksum({**base, "replicas": 5})
        assert checksum(base) != checksum({**base, "sentinel": {"replicas": 5}})
        assert "checksum/tls" not in by_kind_name(render(), "StatefulSet", name)["spec"]["template"]["metadata"]["annotations"]


BAD = [
    pytest.param({"tls": {"enabled": True}}, r"tls.enabled: needs a certificate source; set tls.existingSecret or tls.certManager.enabled", id="no-source"),
    pytest.param({"tls": {**SECRET, "certManager": {"enabled": True, "issuerRef": {"name": "ca"}}}}, r"tls.existingSecret: set either tls.existingSecret or tls.certManager.enabled, not both", id="both-sources"),
    pytest.param({"tls": {"enabled": True, "certManager": {"enabled": True}}}, r"tls.certManager.issuerRef.name: name the Issuer or ClusterIssuer that signs the certificate", id="no-issuer"),
    pytest.param({"tls": {"certManager": {"enabled": True, "issuerRef": {"name": "ca"}}}}, r"tls.certManager.enabled: needs tls.enabled=true", id="cert-manager-without-tls"),
    pytest.param({"tls": {**SECRET, "plainPorts": {"enabled": True, "redis": 6379}}}, r"redis.port and tls.plainPorts.redis: both are 6379; every port the pods and Services open needs a number of its own", id="plain-port-is-tls-port"),
    pytest.param({"tls": {**SECRET, "plainPorts": {"enabled": True, "sentinel": 9355}}}, r"tls.plainPorts.sentinel and metrics.sentinelPort: both are 9355;", id="plain-port-is-exporter-port"),
    pytest.param({"tls": {**SECRET, "plainPorts": {"enabled": True, "redis": 7000, "sentinel": 7000}}}, r"tls.plainPorts.redis and tls.plainPorts.sentinel: both are 7000;", id="plain-ports-equal"),
    pytest.param({"tls": {"plainPorts": {"enabled": True}}}, r"tls.plainPorts.enabled: needs tls.enabled=true; with TLS off every port is plain already", id="plain-ports-without-tls"),
]

GOOD = [
    pytest.param({"tls": SECRET}, id="existing-secret"),
    pytest.param({"tls": CERT_MANAGER}, id="cert-manager"),
    pytest.param({"tls": {"existingSecret": "unused-while-off"}}, id="secret-named-while-off"),
    pytest.param({"tls": {**SECRET, "plainPorts": {"enabled": True}}}, id="plain-ports"),
    pytest.param({"metrics": {"enabled": False}, "tls": {**SECRET, "plainPorts": {"enabled": True, "sentinel": 9355}}}, id="exporter-port-free-without-metrics"),
]


class TestValidation:
    @pytest.mark.parametrize(("values", "message"), BAD)
    def test_should_fail_with_message_naming_the_value(self, values, message):
        """Each bad TLS combination names the value to fix."""
        with pytest.raises(HelmTemplateError, match=message):
            render_chart(values)

    @pytest.mark.parametrize("values", GOOD)
    def test_should_render_the_passing_twin(self, values):
        """The nearby valid TLS values render."""
        assert any(d["kind"] == "StatefulSet" for d in render_chart(values))

    def test_should_fail_when_the_cert_manager_api_is_missing(self):
        """tls.certManager.enabled on a cluster without cert-manager names the value."""
        with pytest.raises(HelmTemplateError, match=r"tls.certManager.enabled: the cluster has no cert-manager.io/v1 Certificate API; install cert-manager or use tls.existingSecret"):
            render_chart({"tls": CERT_MANAGER}, api_versions=())

    @pytest.mark.parametrize(("values", "field"), [
        pytest.param({"tls": {"plainPorts": {"redis": 70000}}}, "redis", id="plain-port-range"),
        pytest.param({"tls": {"certManager": {"duration": "90 days"}}}, "duration", id="duration-not-go"),
        pytest.param({"tls": {"certManager": {"extraDnsNames": ["10.0.0.1:6379"]}}}, "extraDnsNames", id="extra-name-not-dns"),
        pytest.param({"tls": {"certKey": ""}}, "certKey", id="empty-key"),
        pytest.param({"tls": {"sni": "x"}}, "sni", id="unknown-key"),
    ])
    def test_schema_rejects_bad_tls_values(self, values, field):
        """values.schema.json names the bad field."""
        with pytest.raises(HelmTemplateError, match=field):
            render_chart(values)
