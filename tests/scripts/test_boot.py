# SPDX-License-Identifier: Apache-2.0
"""files/scripts/redis-start.sh and sentinel-start.sh: rules 1, 2, 3, 4 and 5 on real processes."""
import pytest

from tests.scripts.harness import PASSWORD


class TestNewCluster:
    def test_bootstraps_one_master_that_every_sentinel_agrees_on(self, make_cluster):
        """Rule 2: a provably new set starts ordinal 0 as master; the others follow it."""
        c = make_cluster()
        c.bootstrap()
        assert c.assert_invariants() == 0
        assert "no peer exists; starting as master (ordinal 0)" in c.procs["redis-0"].output()
        assert f"names {c.host(0)} and it answers ROLE master" in c.procs["redis-1"].output()

    def test_announces_host_names_never_ips(self, make_cluster):
        """Rule 1: replicas and Sentinels are known by name; resolve-hostnames precedes monitor."""
        c = make_cluster()
        c.bootstrap()
        c.assert_invariants()
        replicas = c.sentinel_list(0, "REPLICAS")
        assert sorted(r["ip"] for r in replicas) == [c.host(1), c.host(2)]
        peers = c.sentinel_list(0, "SENTINELS")
        assert sorted(p["ip"] for p in peers) == [c.host(1), c.host(2)]
        conf = (c.tmp / "run-1" / "sentinel.conf").read_text().splitlines()
        monitor = next(i for i, line in enumerate(conf) if line.startswith("sentinel monitor"))
        assert conf.index("sentinel resolve-hostnames yes") < monitor
        assert conf.index("sentinel announce-hostnames yes") < monitor

    def test_sentinel_myid_is_stable_per_ordinal(self, make_cluster):
        """Rule 5: the same ordinal always gets the same Sentinel id."""
        c = make_cluster()
        c.bootstrap()
        ids = {i: c.sentinel(i).execute_command("SENTINEL", "MYID") for i in range(3)}
        assert ids == {i: "ab" * 16 + f"{i:08x}" for i in range(3)}

    def test_auth_everywhere_from_the_secret_file(self, make_cluster):
        """Rule 4: Redis and Sentinel refuse unauthenticated clients; the password is nowhere on the data dir."""
        import redis

        c = make_cluster()
        c.bootstrap()
        c.assert_invariants()
        for port_client in (redis.Redis(host=c.ip(1), port=16379), redis.Redis(host=c.ip(1), port=36379)):
            with pytest.raises(redis.AuthenticationError):
                port_client.ping()
        for path in (c.tmp / "data-0").rglob("*"):
            if path.is_file():
                assert PASSWORD.encode() not in path.read_bytes(), path
        assert (c.tmp / "run-0" / "redis.conf").stat().st_mode & 0o077 == 0
        assert (c.tmp / "run-0" / "sentinel.conf").stat().st_mode & 0o077 == 0


class TestNoSelfElection:
    @pytest.mark.parametrize("ordinal", [0, 1])
    def test_exits_non_zero_when_peers_exist_but_do_not_answer(self, make_cluster, ordinal):
        """Rule 2 / A4: peers that resolve but do not answer mean retry, then exit - never master."""
        c = make_cluster()
        c.exist(0, 1, 2)
        proc = c.start(f"redis-{ordinal}", ordinal, "redis-start.sh", BOOT_ATTEMPTS=3)
        proc.popen.wait(timeout=60)
        assert proc.popen.returncode != 0
        out = proc.output()
        assert "FATAL: no trustworthy master after 3 attempts; exiting so Kubernetes retries (never self-electing)" in out
        assert "starting redis-server" not in out
        assert c.role(ordinal) is None

    def test_later_ordinal_without_data_waits_for_ordinal_zero(self, make_cluster):
        """Rule 2: with no peer in existence, only ordinal 0 (or a node with data) may start as master."""
        c = make_cluster()
        proc = c.start("redis-2", 2, "redis-start.sh", BOOT_ATTEMPTS=2)
        c.exist(2)
        proc.popen.wait(timeout=60)
        assert proc.popen.returncode != 0
        assert "no peer exists and this pod has no data; waiting for ordinal 0" in proc.output()


class TestRestart:
    @pytest.mark.parametrize(("persistence", "values"), [(True, {}), (False, {"redis": {"config": {"save": "", "appendonly": False}}}), (True, {"tls": {"enabled": True}})],
                             ids=["persistence", "no-persistence", "tls"])
    def test_restarted_master_rejoins_as_replica_without_losing_data(self, make_cluster, persistence, values):
        """Rules 2 and 3: a restarted master is not believed when Sentinel still names it; it waits
        for the failover and follows the new master, so an empty node never wipes the set. [tls]:
        the same hard kill with TLS only (Sentinels, replication and the scripts over TLS)."""
        c = make_cluster(values=values)
        c.bootstrap()
        c.assert_invariants()
        m = c.redis(0)
        for k in range(200):
            m.set(f"k{k}", k)
        assert m.wait(2, 2000) == 2
        c.kill_node(0)
        if not persistence:
            for f in (c.tmp / "data-0").iterdir():
                f.unlink() if f.is_file() else None
        c.start_node(0)
        new_master = c.wait_for("a new master", lambda: next((i for i in (1, 2) if c.role(i) == "master"), None) or None, 30)
        c.wait_ready(0, 40)
        c.start_sentinel(0)
        assert c.assert_invariants() == new_master
        out = c.procs["redis-0"].output()
        assert "names this pod as master; it restarted, so waiting for a failover" in out
        assert c.role(0) == "slave"
        assert c.redis(new_master).dbsize() == 200
        assert c.redis(0).get("k199") == b"199"

    def test_cold_restart_of_every_node_keeps_the_data(self, make_cluster):
        """B2 / scenario 4: all nodes stop; the set restarts in order and serves the old data."""
        c = make_cluster()
        c.bootstrap()
        c.assert_invariants()
        c.redis(0).set("survives", "yes")
        assert c.redis(0).wait(2, 2000) == 2
        c.stop_all()
        c.vanish(0, 1, 2)
        c.bootstrap()
        m = c.assert_invariants()
        assert c.redis(m).get("survives") == b"yes"

    def test_later_ordinal_with_data_starts_as_master_when_alone(self, make_cluster):
        """Rule 2: on a cold start, a node holding data may lead even if it is not ordinal 0."""
        c = make_cluster()
        c.bootstrap()
        c.redis(0).set("k", "v")
        c.redis(0).wait(2, 2000)
        c.redis(2).save()
        c.stop_all()
        c.vanish(0, 1, 2)
        c.start_node(2)
        c.wait_ready(2)
        assert c.role(2) == "master"
        assert c.redis(2).get("k") == b"v"
        assert "starting as master (ordinal 2, with data)" in c.procs["redis-2"].output()


class TestRestore:
    def test_restore_rdb_replaces_the_dataset_with_aof_on(self, make_cluster):
        """README restore: a dump put at /data/restore.rdb is loaded even though AOF is on."""
        c = make_cluster(replicas=1)
        c.start_node(0)
        c.wait_ready(0)
        r = c.redis(0)
        r.set("before", "backup")
        r.save()
        backup = (c.tmp / "data-0" / "dump.rdb").read_bytes()
        r.set("after", "not in backup")
        r.delete("before")
        c.kill_node(0)
        (c.tmp / "data-0" / "restore.rdb").write_bytes(backup)
        c.start_node(0)
        c.wait_ready(0)
        r = c.redis(0)
        assert r.get("before") == b"backup" and r.get("after") is None
        c.wait_for("AOF back on", lambda: r.config_get("appendonly")["appendonly"] == "yes" and r.info("persistence")["aof_rewrite_in_progress"] == 0)
        assert (c.tmp / "data-0" / "appendonlydir.before-restore").is_dir()
        assert not (c.tmp / "data-0" / "restore.rdb").exists()
        # The restored data survives a plain restart, now from the rebuilt AOF.
        c.kill_node(0)
        c.start_node(0)
        c.wait_ready(0)
        assert c.redis(0).get("before") == b"backup"
        out = c.procs["redis-0"].output()
        assert "restore.rdb found: restoring the dataset from it" in out
        assert "restore loaded; AOF rebuilt from it" in out
