# SPDX-License-Identifier: Apache-2.0
"""The e2e scenarios on a real cluster, in order, on one release of the default topology
(Sentinels in their own StatefulSet; NetworkPolicy on, clients restricted to the labelled client
pod); every scenario ends with docs/design.md's invariants. One pass of each scenario: repetition and
the figures' distributions belong to the chaos suite (tests/chaos, `tox -e chaos`)."""
from __future__ import annotations

import re
import time

import pytest

from tests.e2e.kube import figures, helm, kill_master, kubectl, run_with_writes, wait_for

NS = "e2e-main"
REL = "redis-ha"
VALUES = {"networkPolicy": {"allowExternal": False}}


@pytest.fixture(scope="module")
def rel(make_release):
    return make_release(REL, NS, VALUES)


def scenario(rel, name: str) -> str:
    """The figure's name in build/e2e-report.json: the scenario, prefixed by the engine unless
    it is Redis (tests/e2e/test_valkey.py runs the same scenarios on Valkey)."""
    engine = rel.values.get("engine", "redis")
    return name if engine == "redis" else f"{engine}-{name}"


class TestFreshInstall:
    def test_converges_with_one_master_and_agreeing_sentinels(self, rel):
        """Ready, exactly one master, every Sentinel agrees, CKQUORUM OK."""
        master = rel.invariants()
        print(f"install took {rel.install_seconds:.0f}s; master {master}")
        assert master == rel.host(0)

    @pytest.mark.parametrize("port", [6379, 26379])
    def test_unauthenticated_commands_get_noauth(self, rel, port):
        """Auth on: NOAUTH on Redis and on Sentinel."""
        host = rel.host(1) if port == 6379 else rel.sentinel_host(1)
        rc, out, err = rel.exec(rel.client_pod, ["redis-cli", "-h", host, "-p", str(port), "PING"])
        assert "NOAUTH" in out + err

    def test_every_exporter_reports_redis_up(self, rel):
        """Each Redis pod's exporter and each Sentinel pod's exporter report redis_up 1 with auth on."""
        targets = [(rel.host(i), 9121) for i in range(rel.replicas)] + [(rel.sentinel_host(i), 9355) for i in range(rel.sentinels)]
        for host, port in targets:
            out = rel.scrape(host, port)
            assert re.search(r"^redis_up 1$", out, re.M), f"{host}:{port}: {[line for line in out.splitlines() if line.startswith('redis_up')]}"

    def test_sentinels_run_in_their_own_pods(self, rel):
        """The default topology: Redis pods hold redis, role-label and metrics only; three Sentinel pods."""
        assert {c.name for p in rel.pods() for c in p.spec.containers} == {"redis", "role-label", "metrics"}
        assert sorted(p.metadata.name for p in rel.sentinel_pods()) == [rel.sentinel_pod(i) for i in range(3)]
        assert {c.name for p in rel.sentinel_pods() for c in p.spec.containers} == {"sentinel", "sentinel-metrics"}

    def test_helm_test_passes(self, rel):
        """helm test writes through the master and reads from every pod."""
        out = helm("test", REL, "--namespace", NS, "--timeout", "5m")
        assert "Phase:          Succeeded" in out or "Succeeded" in out

    def test_network_policy_admits_only_labelled_clients(self, rel):
        """A pod with the client label connects; one without it is blocked (kube-router, the
        engine of the offline cluster, rejects instead of dropping, so refused counts as blocked)."""
        other = rel.start_client(labels={"app": "stranger"}, name="stranger")
        probe = f"import socket;s=socket.create_connection(('{rel.host(0)}',6379),timeout=5);print('connected')"
        rc, out, _ = rel.exec(rel.client_pod, ["python3", "-c", probe])
        assert rc == 0 and "connected" in out
        rc, out, err = rel.exec(other, ["python3", "-c", probe])
        assert rc != 0 and re.search(r"timed out|Connection refused", out + err), out + err


def assert_master_service_writer(figs: dict) -> None:
    """The writer that only knows the -master Service: it resumed on the new master, and every write
    a replica acknowledged (WAIT 1) survived. Its RTO beside the Sentinel path's is reported, not asserted."""
    svc = figs["via_master_service"]
    assert svc["wait_acked"] > 0, svc
    assert svc["wait_acked_lost"] == [], svc
    assert svc["rto_s"] is not None, f"the -master Service writer never wrote to another master: {svc}"
    print(f"RTO through Sentinel {figs['rto_s']}s, through -master {svc['rto_s']}s; stalls {figs['longest_stall_s']}s / {svc['longest_stall_s']}s; "
          f"failed writes {figs['failed']} / {svc['failed']}; -master phases: labelled {svc['new_master_labelled_s']}s, "
          f"endpoint {svc['new_master_endpoint_s']}s, Sentinel client heard the new master {figs['new_master_discovered_s']}s")


class TestFailover:
    def test_hard_kill_of_the_master_under_writes(self, rel, record):
        """kill -9 equivalent: a new master takes writes, the old pod rejoins as a replica,
        no WAIT-acknowledged write is lost."""
        figs = run_with_writes(rel, scenario(rel, "hard-kill"), record, lambda: kill_master(rel, 0), via_service=True)
        assert figs["new_master"] != figs["old_master"]
        assert figs["wait_acked"] > 10
        assert figs["wait_acked_lost"] == []
        assert figs["rto_s"] is not None
        assert_master_service_writer(figs)

    def test_graceful_delete_hands_over_before_the_pod_dies(self, rel, record):
        """preStop pauses writes and fails over: Sentinel switches without ever seeing the
        master down, and no acknowledged write is lost."""
        since = time.time()
        figs = run_with_writes(rel, scenario(rel, "graceful-delete"), record, lambda: kill_master(rel, None), via_service=True)
        assert figs["new_master"] != figs["old_master"]
        assert figs["wait_acked_lost"] == [] and figs["async_acked_lost"] == 0
        assert_master_service_writer(figs)
        assert figs["via_master_service"]["async_acked_lost"] == 0
        logs = rel.sentinel_logs(since - 5)
        assert len(logs) == rel.sentinels, sorted(logs)
        old = figs["old_master"]
        for pod, log in logs.items():
            assert f"+switch-master mymaster {old}" in log, pod
            # The instance type word ("master") is matched loosely: Valkey may call it "primary".
            assert not re.search(rf"\+odown \w+ mymaster {re.escape(old)}", log), f"{pod}: the master went down before the handover"


def assert_one_failover_per_rollout(rel, figs, what):
    """docs/design.md, "Failovers per rollout": the ordered rollout replaces the replicas first and
    the master last, so it fails over exactly once, onto a replaced pod, wherever the master was.
    Counts the +switch-master lines each Sentinel logged since the event; every pod must have been
    replaced, the old master's last."""
    logs = rel.sentinel_logs(figs["event_at"])
    assert logs, "no Sentinel log"
    switches = max(log.count("+switch-master mymaster") for log in logs.values())
    ordinal = rel.ordinal(figs["old_master"])
    figs["switch_master"] = switches
    print(f"{what}: master on ordinal {ordinal} before, {switches} +switch-master, the Sentinel writer saw "
          f"{figs['master_changes']} master change(s)"
          + (f", the -master Service writer {figs['via_master_service']['master_changes']}" if "via_master_service" in figs else ""))
    assert switches == 1, f"{what} with the master on ordinal {ordinal}: {switches} failovers"
    created = {p.metadata.name: p.metadata.creation_timestamp.timestamp() for p in rel.pods()}
    assert all(t >= figs["event_at"] - 1 for t in created.values()), f"{what}: not every pod was replaced: {created}"
    old_pod = rel.pod_of(figs["old_master"])
    assert max(created, key=created.get) == old_pod, f"{what}: the master's pod {old_pod} was not replaced last: {created}"
    assert figs["new_master"] != figs["old_master"]


class TestDisruption:
    def test_helm_upgrade_changing_config_under_writes(self, rel, record, chart):
        """A config change rolls every pod, failing over once, onto a replaced pod, before `helm
        upgrade` returns (the rollout Job); no acknowledged write is lost. The master starts on the
        highest ordinal, which the StatefulSet controller would replace first."""
        rel.move_master_to(rel.replicas - 1)

        def upgrade():
            old = rel.master_host()
            at = time.time()
            rel.install({"redis": {"config": {"maxmemoryPolicy": "allkeys-lru"}}}, action="upgrade")
            rel.wait_rolled(10)  # helm returned after the rollout Job saw every pod replaced
            return old, at

        figs = run_with_writes(rel, scenario(rel, "helm-upgrade"), record, upgrade, seconds=20, lead=3, via_service=True)
        assert figs["wait_acked_lost"] == [] and figs["async_acked_lost"] == 0
        assert_master_service_writer(figs)
        assert figs["via_master_service"]["async_acked_lost"] == 0
        assert_one_failover_per_rollout(rel, figs, "helm upgrade")
        st = rel.state()
        assert all(p["role"] in ("master", "slave") for p in st["pods"].values())

    def test_rollout_restart_under_writes(self, rel, record):
        """kubectl rollout restart: each pod's role-label container replaces its own pod in the
        ordered rollout's turn: one failover, no acknowledged write lost."""
        def restart():
            old = rel.master_host()
            at = time.time()
            kubectl("rollout", "restart", f"statefulset/{rel.fullname}", "-n", rel.namespace)
            rel.wait_rolled()
            return old, at

        figs = run_with_writes(rel, scenario(rel, "rollout-restart"), record, restart, seconds=20, lead=3)
        assert figs["wait_acked_lost"] == [] and figs["async_acked_lost"] == 0
        assert_one_failover_per_rollout(rel, figs, "rollout restart")

    def test_delete_all_redis_pods_at_once_under_writes(self, rel, record):
        """Every Redis pod deleted together while the client writes: one master again, every
        Sentinel agrees, data kept (persistence on), no WAIT-acknowledged write lost."""
        master = rel.master_host()
        ordinal = str(rel.ordinal(master))
        assert rel.agent("cmd", ordinal, "6379", "SET", "d-survivor", "yes") == "OK"
        assert rel.agent("cmd", ordinal, "6379", "WAIT", "2", "5000") == 2

        def delete_all():
            at = time.time()
            for p in rel.pods():
                rel.core.delete_namespaced_pod(p.metadata.name, rel.namespace)
            return master, at

        def back(olds, at):
            # Every pod was replaced and a write was acknowledged after that.
            def done(records):
                pods = rel.pods()
                fresh = len(pods) == rel.replicas and all(p.metadata.creation_timestamp.timestamp() >= at - 1 for p in pods)
                return fresh and any(r["ok"] and r["t"] >= time.time() - 5 for r in records)
            return done

        figs = run_with_writes(rel, scenario(rel, "delete-all-redis-pods"), record, delete_all, seconds=20, until=back, settle_timeout=900)
        assert figs["wait_acked"] > 10
        assert figs["wait_acked_lost"] == []
        new = rel.invariants(300)
        assert rel.agent("cmd", str(rel.ordinal(new)), "6379", "GET", "d-survivor") == "yes"


class TestBrokenUpgrade:
    def test_a_broken_upgrade_stops_at_one_replica_and_the_fix_replaces_it(self, rel, record):
        """An upgrade whose Redis cannot start: the rollout Job replaces one replica, waits for it and
        fails the upgrade after rollout.timeoutSeconds, naming that pod; the master and the other
        replica are untouched and writes go on. Upgrading back replaces the broken pod first:
        no failover, nothing lost (docs/operations.md, "Rolling restarts")."""
        # The baseline is this release's own values (earlier tests upgraded with others), so the
        # fix below renders the pods' revision again.
        rel.install(action="upgrade")
        rel.wait_rolled(10)
        master = rel.master_host()
        uids = {p.metadata.name: p.metadata.uid for p in rel.pods()}
        writer = rel.start_writer("broken", 600)
        time.sleep(3)
        at = time.time()
        with pytest.raises(AssertionError, match="redis-ha-rollout"):
            rel.install({"redis": {"extraConfig": ["no-such-directive yes"]}, "rollout": {"timeoutSeconds": 60}}, action="upgrade")
        log = kubectl("logs", "job/redis-ha-rollout", "-n", rel.namespace)
        replaced = sorted(p.metadata.name for p in rel.pods() if uids.get(p.metadata.name) != p.metadata.uid)
        assert len(replaced) == 1 and replaced[0] != rel.pod_of(master), f"replaced: {replaced}, master {master}"
        ordinal = rel.ordinal(replaced[0])
        assert f"did not finish within 60 s (rollout.timeoutSeconds): pod {ordinal} runs the new revision and its Redis is not Ready yet" in log, log
        assert rel.master_host() == master

        rel.install(action="upgrade")
        rel.wait_rolled(10)  # helm returned once the Job saw every pod replaced
        writer.stop()
        writer.join(120)
        assert not writer.is_alive() and writer.records, f"the writer produced nothing: {writer.error}"
        now = {p.metadata.name: p.metadata.uid for p in rel.pods()}
        assert sorted(n for n in now if now[n] != uids[n]) == replaced, "the fix replaced more than the broken pod"
        assert rel.invariants() == master, "the broken upgrade and its fix failed over"
        figs = figures(writer.records, at, rel.stored_keys("broken"), master)
        figs.update({"event_at": at, "old_master": master, "new_master": master, "broken_pod": replaced[0]})
        record(scenario(rel, "broken-upgrade-and-fix"), figs, writer.records)
        assert figs["wait_acked_lost"] == [] and figs["async_acked_lost"] == 0
        assert figs["master_changes"] == 0, figs


class TestBackupRestore:
    def test_backup_then_restore_brings_back_the_backed_up_data(self, rel, tmp_path):
        """The procedure of docs/operations.md (Backup, Restore): back up, write more, restore; the data equals the backup."""
        rcli = lambda pod, *a: rel.agent("cmd", pod.rsplit("-", 1)[1], "6379", *a)  # noqa: E731
        master = rel.pod_of(rel.master_host())
        ordinal = master.rsplit("-", 1)[1]
        assert rel.agent("fill", ordinal, "j", "0", "100", "backup") == 100
        assert rcli(master, "WAIT", "2", "5000") == 2
        before = rcli(master, "LASTSAVE")
        rcli(master, "BGSAVE")
        wait_for("BGSAVE", lambda: rcli(master, "LASTSAVE") != before and "rdb_bgsave_in_progress:0" in _info(rel, master), 60)
        backup = tmp_path / "dump.rdb"
        kubectl("cp", f"{NS}/{master}:/data/dump.rdb", str(backup), "-c", "redis")
        expected = set(rel.stored_keys("j"))
        assert rel.agent("fill", ordinal, "j", "100", "150", "after backup") == 50
        rcli(master, "DEL", "j:0")
        kubectl("cp", str(backup), f"{NS}/{REL}-0:/data/restore.rdb", "-c", "redis")
        kubectl("scale", "statefulset", REL, "-n", NS, "--replicas=0")
        wait_for("pods gone", lambda: not rel.pods(), 300, 2)
        kubectl("scale", "statefulset", REL, "-n", NS, f"--replicas={rel.replicas}")
        rel.wait_rolled(600)
        rel.wait_all_ready()
        rel.invariants()
        assert rel.stored_keys("j") == expected
        assert rcli(rel.pod_of(rel.master_host()), "CONFIG", "GET", "appendonly") == ["appendonly", "yes"]


def _info(rel, pod):
    reply = rel.agent("cmd", pod.rsplit("-", 1)[1], "6379", "INFO", "persistence")
    return reply if isinstance(reply, str) else str(reply)


class TestSingleMode:
    def test_one_replica_serves_reads_and_writes(self, make_release):
        """replicas: 1 installs and serves reads and writes."""
        single = make_release(REL, "e2e-single", {"replicas": 1})
        assert single.agent("cmd", "0", "6379", "SET", "k", "v") == "OK"
        assert single.agent("cmd", "0", "6379", "GET", "k") == "v"
        assert single.agent("cmd", "0", "6379", "ROLE")[0] == "master"
        out = helm("test", REL, "--namespace", "e2e-single", "--timeout", "5m")
        assert "Succeeded" in out
