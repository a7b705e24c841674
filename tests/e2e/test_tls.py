# SPDX-License-Identifier: Apache-2.0
"""TLS on a real cluster: TLS only (no plain listener), a certificate from
tls.existingSecret whose SANs are DNS names only, client certificates required
(tls.authClients). The client (redis-py Sentinel in the client pod) verifies certificate and host
name; a hard kill of the master under writes loses no WAIT-acknowledged write; both
exporters scrape over TLS; helm test passes."""
from __future__ import annotations

import re

import pytest

from tests.e2e.kube import helm, kill_master, run_with_writes
from tests.tls import make_certificates

NS = "e2e-tls"
REL = "redis-ha"
SECRET = "redis-ha-certs"
VALUES = {"tls": {"enabled": True, "existingSecret": SECRET, "authClients": True}}


def dns_names(replicas: int = 3, sentinels: int = 3) -> list[str]:
    """What the chart's Certificate would request: every Redis and Sentinel pod FQDN and both
    Services in all forms."""
    pods = [f"{REL}-{i}.{REL}-headless.{NS}.svc.cluster.local" for i in range(replicas)]
    pods += [f"{REL}-sentinel-{i}.{REL}-headless.{NS}.svc.cluster.local" for i in range(sentinels)]
    services = [form.format(svc) for svc in (f"{REL}-headless", REL) for form in ("{}", "{}." + NS, "{}." + NS + ".svc", "{}." + NS + ".svc.cluster.local")]
    return pods + services


@pytest.fixture(scope="module")
def rel(make_release, tmp_path_factory):
    files = make_certificates(tmp_path_factory.mktemp("tls"), dns_names())
    return make_release(REL, NS, VALUES, secrets={SECRET: {name: path.read_text() for name, path in files.items()}})


def redis_cli(rel, host: str, port: int, *args: str, tls: bool = True) -> str:
    """redis-cli in the client pod: with the CA and the client certificate, or in plain text."""
    opts = ["--tls", "--cacert", "/tls/ca.crt", "--cert", "/tls/tls.crt", "--key", "/tls/tls.key"] if tls else []
    rc, out, err = rel.exec(rel.client_pod, ["sh", "-c", 'REDISCLI_AUTH=$(cat /secrets/password) exec redis-cli "$@"', "sh", *opts, "-h", host, "-p", str(port), *args])
    return out + err


class TestTlsOnly:
    def test_converges_over_tls_with_verified_names(self, rel):
        """Over TLS: one master, every Sentinel agrees, CKQUORUM, links up; the client's
        connections verified each pod's certificate for its FQDN (agent.py, check_hostname on)."""
        master = rel.invariants()
        print(f"TLS install took {rel.install_seconds:.0f}s; master {master}")
        assert master == rel.host(0)

    @pytest.mark.parametrize("port", [6379, 26379])
    def test_plain_text_is_refused(self, rel, port):
        """TLS only: the same command answers PONG over TLS and nothing in plain text."""
        host = rel.host(1) if port == 6379 else rel.sentinel_host(1)
        assert redis_cli(rel, host, port, "PING").strip() == "PONG"
        plain = redis_cli(rel, host, port, "PING", tls=False)
        assert "PONG" not in plain and re.search(r"Connection reset|I/O error|Server closed|Error", plain), plain

    def test_client_without_certificate_is_refused(self, rel):
        """tls.authClients: trusting the CA is not enough, a client must present a certificate."""
        assert redis_cli(rel, rel.host(0), 6379, "PING").strip() == "PONG"
        rc, out, err = rel.exec(rel.client_pod, ["redis-cli", "--tls", "--cacert", "/tls/ca.crt", "-h", rel.host(0), "-p", "6379", "PING"])
        assert rc != 0 and "PONG" not in out + err, out + err

    @pytest.mark.parametrize("port", [9121, 9355])
    def test_both_exporters_report_redis_up_over_tls(self, rel, port):
        """Each Redis and Sentinel pod's exporter connects with rediss:// to its own pod's FQDN,
        verifies it against the CA and presents the client certificate."""
        hosts = [rel.host(i) for i in range(rel.replicas)] if port == 9121 else [rel.sentinel_host(i) for i in range(rel.sentinels)]
        assert hosts
        for host in hosts:
            out = rel.scrape(host, port)
            assert re.search(r"^redis_up 1$", out, re.M), f"{host} port {port}: {[line for line in out.splitlines() if line.startswith('redis_up')]}"

    def test_helm_test_passes_over_tls(self, rel):
        """helm test asks Sentinel, writes, WAITs and reads every pod, all over TLS."""
        out = helm("test", REL, "--namespace", NS, "--timeout", "5m")
        assert "Succeeded" in out


class TestTlsFailover:
    def test_hard_kill_of_the_master_under_writes(self, rel, record):
        """Over TLS: force-delete the master pod while the verifying client writes; a new
        master takes writes, the old pod rejoins by TLS replication, no WAIT-acknowledged write is lost."""
        figs = run_with_writes(rel, "tls-hard-kill", record, lambda: kill_master(rel, 0))
        assert figs["new_master"] != figs["old_master"]
        assert figs["wait_acked"] > 10
        assert figs["wait_acked_lost"] == []
        assert figs["rto_s"] is not None
