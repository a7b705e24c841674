# SPDX-License-Identifier: Apache-2.0
"""The scripts with tls.enabled on real redis-server/redis-sentinel processes: TLS only, one
certificate whose SANs are the node names only (no IPs), every redis-cli call, probe and hook
over TLS. The hard-kill failover and the planned handover run in TLS-only mode as the [tls]
cases of test_boot.py::TestRestart and test_handover.py::TestPreStop."""
import socket
import ssl

import pytest
import redis

from tests.scripts.harness import BOTH_ENGINES, PASSWORD, PLAIN_REDIS_PORT, PLAIN_SENTINEL_PORT, REDIS_PORT, SENTINEL_PORT

TLS = {"tls": {"enabled": True}}


def handshake(c, i: int, server_hostname: str) -> dict:
    """A TLS handshake with node i's Redis that verifies the certificate for `server_hostname`."""
    ctx = ssl.create_default_context(cafile=str(c.tls_dir / "ca.crt"))
    with socket.create_connection((c.ip(i), REDIS_PORT), timeout=3) as sock, ctx.wrap_socket(sock, server_hostname=server_hostname) as tls:
        return tls.getpeercert()


def plain_client(c, i: int, port: int) -> redis.Redis:
    return redis.Redis(host=c.ip(i), port=port, password=PASSWORD, socket_timeout=3, socket_connect_timeout=2)


class TestTlsOnly:
    @BOTH_ENGINES
    def test_boots_and_converges_with_tls_only_listeners(self, make_cluster, engine):
        """Rules 1, 2, 5 over TLS: one master, Sentinels agree (TLS to Redis and to each other),
        replicas linked by TLS replication; Redis and Sentinel listen for TLS only (`port 0`)."""
        c = make_cluster(engine=engine, values=TLS)
        c.bootstrap()
        assert c.assert_invariants() == 0
        assert sorted(p["ip"] for p in c.sentinel_list(0, "SENTINELS")) == [c.host(1), c.host(2)]
        for conf, port in (("redis.conf", REDIS_PORT), ("sentinel.conf", SENTINEL_PORT)):
            lines = (c.tmp / "run-1" / conf).read_text().splitlines()
            assert f"tls-port {port}" in lines and "port 0" in lines and "tls-replication yes" in lines, conf
        assert c.redis(1, decode_responses=True).config_get("port") == {"port": "0"}

    @pytest.mark.parametrize("port", [REDIS_PORT, SENTINEL_PORT])
    def test_plain_text_connections_are_refused(self, make_cluster, port):
        """TLS-only: a plain-text client gets no answer on either port, and no plain listener exists."""
        c = make_cluster(values=TLS)
        c.start_alone(0)
        c.wait_ready(0)
        c.start_sentinel(0)
        c.wait_sentinel_ready(0)
        assert c.redis(0).ping() and c.sentinel(0).ping()
        with pytest.raises(redis.ConnectionError):
            plain_client(c, 0, port).ping()
        for plain_port in (PLAIN_REDIS_PORT, PLAIN_SENTINEL_PORT):
            with pytest.raises(ConnectionRefusedError):
                socket.create_connection((c.ip(0), plain_port), timeout=2).close()

    def test_certificate_is_verified_by_name_not_by_ip(self, make_cluster):
        """The certificate names the node (DNS SAN); a client checking the IP instead fails."""
        c = make_cluster(values=TLS)
        c.start_alone(0)
        c.wait_ready(0)
        sans = handshake(c, 0, c.host(0))["subjectAltName"]
        assert ("DNS", c.host(0)) in sans and all(kind == "DNS" for kind, _ in sans)
        with pytest.raises(ssl.SSLCertVerificationError, match="IP address mismatch|doesn't match"):
            handshake(c, 0, c.ip(0))

    def test_probes_speak_tls(self, make_cluster):
        """docs/design.md rule 7 over TLS: every probe passes; the same probe in plain text cannot reach the node."""
        c = make_cluster(values=TLS)
        c.bootstrap()
        c.assert_invariants()
        for i in range(3):
            for probe in ("redis-liveness", "redis-readiness", "sentinel-liveness", "sentinel-readiness"):
                r = c.run(i, "probe.sh", probe)
                assert r.returncode == 0, (i, probe, r.stdout, r.stderr)
        plain = c.run(1, "probe.sh", "redis-readiness", TLS_ENABLED="false")
        assert plain.returncode == 1 and "redis not ready" in plain.stdout
        plain = c.run(1, "probe.sh", "sentinel-readiness", TLS_ENABLED="false")
        assert plain.returncode == 1 and "sentinel not ready" in plain.stdout


class TestClientCertificates:
    def test_auth_clients_needs_a_certificate_the_pods_always_present_theirs(self, make_cluster):
        """tls.authClients: the set converges (pods present their certificate to each other), and a
        client that trusts the CA but has no certificate is refused."""
        c = make_cluster(values={"tls": {"enabled": True, "authClients": True}})
        c.bootstrap()
        assert c.assert_invariants() == 0
        kw = {k: v for k, v in c.tls_kwargs().items() if k not in ("ssl_certfile", "ssl_keyfile")}
        for port in (REDIS_PORT, SENTINEL_PORT):
            with pytest.raises(redis.ConnectionError):
                redis.Redis(host=c.ip(1), port=port, password=PASSWORD, socket_timeout=3, **kw).ping()


class TestPlainPorts:
    def test_plain_ports_serve_clients_that_cannot_do_tls(self, make_cluster):
        """tls.plainPorts: plain-text listeners beside TLS; the set itself still talks TLS."""
        c = make_cluster(values={"tls": {"enabled": True, "plainPorts": {"enabled": True}}})
        c.bootstrap()
        assert c.assert_invariants() == 0
        assert plain_client(c, 1, PLAIN_REDIS_PORT).info("replication")["master_link_status"] == "up"
        host, _ = plain_client(c, 1, PLAIN_SENTINEL_PORT).execute_command("SENTINEL", "GET-MASTER-ADDR-BY-NAME", "mymaster")
        assert host.decode() == c.host(0)
        with pytest.raises(redis.ConnectionError):
            plain_client(c, 1, REDIS_PORT).ping()
