# SPDX-License-Identifier: Apache-2.0
"""files/scripts/redis-start.sh and sentinel-start.sh: rules 1, 2, 3, 4 and 5 on real processes,
with Sentinels in processes of their own (the chart's default) and beside Redis (colocated)."""
import time

import pytest
import redis

from tests.scripts.harness import BOOT_PORT, BOTH_ENGINES, PASSWORD

LAYOUTS = pytest.mark.parametrize("colocated", [False, True], ids=["sentinel-pods", "colocated"])


def fill(c, i: int, prefix: str, n: int) -> None:
    """n keys on node i, acknowledged by both replicas."""
    r = c.redis(i)
    for k in range(n):
        r.set(f"{prefix}{k}", k)
    assert r.wait(c.replicas - 1, 5000) == c.replicas - 1


def wipe(c, i: int) -> None:
    """Node i lost its volume: nothing left in its data directory."""
    for f in (c.tmp / f"data-{i}").rglob("*"):
        if f.is_file():
            f.unlink()


def recorded(c) -> None:
    """Waits until every running node's data record (written once a second, docs/design.md "Boot")
    counts the keys the node holds now: a hard stop right after writes would otherwise find a
    record from before them."""
    def current():
        for i in range(c.replicas):
            if f"redis-{i}" not in c.procs:
                continue
            state = c.tmp / f"data-{i}" / "redis-ha.state"
            if not state.exists() or int(state.read_text().split()[3]) != c.redis(i).dbsize():
                return False
        return True
    c.wait_for("data records current", current, 15)


class TestNewCluster:
    @LAYOUTS
    @BOTH_ENGINES
    def test_bootstraps_one_master_that_every_sentinel_agrees_on(self, make_cluster, colocated, engine):
        """docs/design.md rule 2: every node of a new set is empty, so they elect the lowest ordinal; the
        others follow it and every Sentinel monitors it."""
        c = make_cluster(engine=engine, colocated=colocated)
        c.bootstrap()
        assert c.assert_invariants() == 0
        assert "no master anywhere; records (ordinal time replid offset keys): 0 0 - 0 0;" in c.procs["redis-0"].output()
        assert "elected ordinal 0" in c.procs["redis-0"].output()
        assert f"{c.host(0)} alone answers ROLE master" in c.procs["redis-1"].output() + c.procs["redis-2"].output()

    @LAYOUTS
    def test_announces_host_names_never_ips(self, make_cluster, colocated):
        """docs/design.md rule 1: replicas and Sentinels are known by name; resolve-hostnames precedes monitor."""
        c = make_cluster(colocated=colocated)
        c.bootstrap()
        c.assert_invariants()
        replicas = c.sentinel_list(0, "REPLICAS")
        assert sorted(r["ip"] for r in replicas) == [c.host(1), c.host(2)]
        peers = c.sentinel_list(0, "SENTINELS")
        assert sorted(p["ip"] for p in peers) == [c.sentinel_host(1), c.sentinel_host(2)]
        run = c.tmp / ("run-1" if colocated else "sentinel-run-1")
        conf = (run / "sentinel.conf").read_text().splitlines()
        monitor = next(i for i, line in enumerate(conf) if line.startswith("sentinel monitor"))
        assert conf.index("sentinel resolve-hostnames yes") < monitor
        assert conf.index("sentinel announce-hostnames yes") < monitor
        assert any(line.startswith("sentinel announce-ip") and c.sentinel_host(1) in line for line in conf)

    def test_sentinel_myid_is_stable_per_ordinal(self, make_cluster):
        """docs/design.md rule 5: the same ordinal always gets the same Sentinel id, also after a restart."""
        c = make_cluster(colocated=False)
        c.bootstrap()
        ids = {i: c.sentinel(i).execute_command("SENTINEL", "MYID") for i in range(3)}
        assert ids == {i: "ab" * 16 + f"{i:08x}" for i in range(3)}
        c.kill_sentinel(1)
        c.start_sentinel(1)
        c.wait_sentinel_ready(1)
        assert c.sentinel(1).execute_command("SENTINEL", "MYID") == "ab" * 16 + "00000001"

    def test_auth_everywhere_from_the_secret_file(self, make_cluster):
        """docs/design.md rule 4: Redis, Sentinel and the boot port refuse unauthenticated clients; the password
        is nowhere on the data dir."""
        c = make_cluster(colocated=False)
        c.bootstrap()
        c.assert_invariants()
        for host, port in ((c.ip(1), 16379), (c.sentinel_ip(1), 36379)):
            with pytest.raises(redis.AuthenticationError):
                redis.Redis(host=host, port=port).ping()
        for path in (c.tmp / "data-0").rglob("*"):
            if path.is_file():
                assert PASSWORD.encode() not in path.read_bytes(), path
        assert (c.tmp / "run-0" / "redis.conf").stat().st_mode & 0o077 == 0
        assert (c.tmp / "sentinel-run-0" / "sentinel.conf").stat().st_mode & 0o077 == 0


class TestNoSelfElection:
    @pytest.mark.parametrize("ordinal", [0, 1])
    def test_waits_while_peers_exist_but_do_not_answer(self, make_cluster, ordinal):
        """docs/design.md rule 2: peers that resolve but do not answer mean wait - never master, never an exit
        that would hide this pod's record; the boot port keeps liveness content meanwhile."""
        c = make_cluster()
        c.exist(0, 1, 2)
        proc = c.start(f"redis-{ordinal}", ordinal, "redis-start.sh")
        time.sleep(6)
        assert proc.alive()
        others = " ".join(str(o) for o in range(3) if o != ordinal)
        assert f"waiting for the data records of ordinals {others} before electing" in proc.output()
        assert "starting redis-server" not in proc.output()
        assert c.role(ordinal) is None
        live = c.run(ordinal, "probe.sh", "redis-liveness")
        assert live.returncode == 0 and "booting: waiting for peers" in live.stdout
        ready = c.run(ordinal, "probe.sh", "redis-readiness")
        assert ready.returncode == 1

    def test_a_peer_that_does_not_exist_is_waited_for_too(self, make_cluster):
        """A pod that does not exist yet (Pending, or being recreated) may hold the newest data:
        the others wait for it; the documented override starts a pod without it."""
        c = make_cluster()
        c.start_node(1)
        c.start_node(2)
        time.sleep(5)
        assert c.role(1) is None and c.role(2) is None
        assert "waiting for the data records of ordinals 0 before electing" in c.procs["redis-1"].output()
        (c.tmp / "run-2" / "boot.force-master").touch()
        c.wait_ready(2, 30)
        c.wait_ready(1, 30)
        assert c.role(2) == "master" and c.role(1) == "slave"
        assert "no live master anywhere and" in c.procs["redis-2"].output()
        assert "starting as master by override" in c.procs["redis-2"].output()
        assert not (c.tmp / "run-2" / "boot.force-master").exists()


class TestFullRestart:
    @pytest.mark.parametrize("order", [(0, 1, 2), (2, 1, 0), (1, 2, 0)], ids=lambda o: "-".join(map(str, o)))
    def test_any_order_of_arrival_converges_and_keeps_the_data(self, make_cluster, order):
        """Every node stops (delete every pod); they come back one by one in any order, seconds
        apart, and elect the same leader: no deadlock, no data lost."""
        c = make_cluster(colocated=False)
        c.bootstrap()
        c.assert_invariants()
        fill(c, 0, "k", 300)
        recorded(c)
        c.stop_every_pod()
        c.start_nodes(order, gap=2)
        for i in range(3):
            c.start_sentinel(i)
        m = c.assert_invariants(60)
        assert c.redis(m).dbsize() == 300
        for i in range(3):
            assert c.redis(i).get("k299") == b"299"

    @LAYOUTS
    def test_an_empty_pod_0_never_wipes_the_replicas(self, make_cluster, colocated):
        """Pod 0 lost its volume, then every pod restarted: the pods holding data elect one of
        theirs; pod 0 starts empty, follows it and gets the data back."""
        c = make_cluster(colocated=colocated)
        c.bootstrap()
        c.assert_invariants()
        fill(c, 0, "k", 2000)
        recorded(c)
        c.stop_every_pod()
        wipe(c, 0)
        c.start_nodes()
        for i in range(3):
            c.start_sentinel(i)
        m = c.assert_invariants(60)
        assert m in (1, 2)
        assert all(c.redis(i).dbsize() == 2000 for i in range(3))
        assert f"elected ordinal {m}" in c.procs[f"redis-{m}"].output()
        assert "data record (time replid offset keys): 0 - 0 0" in c.procs["redis-0"].output()

    @BOTH_ENGINES
    def test_the_most_recent_data_leads(self, make_cluster, engine):
        """A replica that stopped early holds older data than the rest: it is never elected,
        and every write acknowledged after it stopped survives the full restart."""
        c = make_cluster(engine=engine, colocated=False)
        c.bootstrap()
        c.assert_invariants()
        fill(c, 0, "old", 100)
        recorded(c)
        c.kill_node(1)
        r = c.redis(0)
        for k in range(100):
            r.set(f"new{k}", k)
        assert r.wait(1, 5000) == 1
        time.sleep(7)  # node 1's record is now well older than the others'
        c.stop_every_pod()
        c.start_nodes((1, 2, 0))
        m = c.master()
        assert m != 1
        assert c.redis(m).dbsize() == 200
        c.wait_for("node 1 synced", lambda: c.redis(1).dbsize() == 200)

    def test_a_replica_never_follows_a_master_behind_it(self, make_cluster):
        """docs/design.md rule 3: a pod holding data refuses a master that holds none (the override started an
        empty pod as master); it keeps its data and waits."""
        c = make_cluster(colocated=False)
        c.bootstrap()
        c.assert_invariants()
        fill(c, 0, "k", 50)
        recorded(c)
        c.stop_every_pod()
        wipe(c, 0)
        c.start_alone(0)
        c.wait_ready(0, 30)
        assert c.role(0) == "master" and c.redis(0).dbsize() == 0
        c.start_node(1)
        c.wait_for("refusal logged", lambda: "not following" in c.procs["redis-1"].output(), 20)
        assert f"not following {c.host(0)}" in c.procs["redis-1"].output()
        assert "it holds no keys and this pod holds 50" in c.procs["redis-1"].output()
        assert c.role(1) is None
        assert (c.tmp / "data-1" / "appendonlydir").is_dir()

    def test_kill_every_sentinel_at_once(self, make_cluster):
        """Sentinel pods restarted together find the master from the Redis pods alone."""
        c = make_cluster(colocated=False)
        c.bootstrap()
        m = c.assert_invariants()
        for i in range(3):
            c.kill_sentinel(i)
        for i in range(3):
            c.start_sentinel(i)
        assert c.assert_invariants(60) == m


class TestRestart:
    @pytest.mark.parametrize(("persistence", "values", "colocated"), [
        (True, {}, True), (False, {"redis": {"config": {"save": "", "appendonly": False}}}, True), (True, {"tls": {"enabled": True}}, True),
        (True, {}, False), (False, {"redis": {"config": {"save": "", "appendonly": False}}}, False)],
        ids=["persistence", "no-persistence", "tls", "sentinel-pods", "sentinel-pods-no-persistence"])
    def test_restarted_master_rejoins_as_replica_without_losing_data(self, make_cluster, persistence, values, colocated):
        """Rules 2 and 3: a restarted master is not believed when Sentinel still names it; it waits
        for the failover and follows the new master, so an empty node never wipes the set. [tls]:
        the same hard kill with TLS only (Sentinels, replication and the scripts over TLS)."""
        c = make_cluster(values=values, colocated=colocated)
        c.bootstrap()
        c.assert_invariants()
        fill(c, 0, "k", 200)
        c.kill_node(0)
        if not persistence:
            wipe(c, 0)
        c.start_node(0)
        c.wait_for("a new master", lambda: next((i for i in (1, 2) if c.role(i) == "master"), None) or None, 30)
        c.wait_ready(0, 40)
        if colocated:
            c.start_sentinel(0)
        new_master = c.assert_invariants()
        assert new_master in (1, 2)
        out = c.procs["redis-0"].output()
        # Usually Sentinel still names the restarted pod and it waits for the failover; on a slow
        # machine the failover can already be under way, and the pod finds the new master. Either
        # way it starts as a replica: "as master" appears once, from the first boot.
        assert ("names this pod as master; it restarted, so waiting for a failover" in out
                or "starting redis-server as replica of" in out), out[-3000:]
        assert out.count("starting redis-server as master") == 1, out[-3000:]
        assert c.role(0) == "slave"
        assert c.redis(new_master).dbsize() == 200
        assert c.redis(0).get("k199") == b"199"

    def test_cold_restart_of_every_node_keeps_the_data(self, make_cluster):
        """Scenario 4: all nodes and Sentinels stop; the set restarts and serves the old data."""
        c = make_cluster()
        c.bootstrap()
        c.assert_invariants()
        c.redis(0).set("survives", "yes")
        assert c.redis(0).wait(2, 2000) == 2
        recorded(c)
        c.stop_every_pod()
        c.bootstrap()
        m = c.assert_invariants()
        assert c.redis(m).get("survives") == b"yes"

    def test_data_record_follows_the_set(self, make_cluster):
        """The record a node keeps on its volume: time, replication id, offset and keys, taken
        while the node is in step with its set; the boot beacon is gone once Redis runs."""
        c = make_cluster(colocated=False)
        c.bootstrap()
        c.assert_invariants()
        fill(c, 0, "k", 10)
        info = c.redis(0).info("replication")

        def recorded():
            t, replid, offset, keys = (c.tmp / "data-2" / "redis-ha.state").read_text().split()
            return replid == info["master_replid"] and int(offset) >= info["master_repl_offset"] and keys == "10" and abs(int(t) - time.time()) < 5

        c.wait_for("node 2's record", recorded, 10)
        with pytest.raises(redis.ConnectionError):
            redis.Redis(host=c.ip(2), port=BOOT_PORT, password=PASSWORD, socket_connect_timeout=1).ping()


class TestRestore:
    @BOTH_ENGINES
    def test_restore_rdb_replaces_the_dataset_with_aof_on(self, make_cluster, engine):
        """The documented restore: a dump put at /data/restore.rdb is loaded even though AOF is on."""
        c = make_cluster(engine=engine, replicas=1)
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

    def test_restore_on_any_pod_wins_the_full_restart(self, make_cluster):
        """The documented restore in a set: every pod restarts, the one holding restore.rdb is
        elected (its dump is the data the operator wants), the others resync from it."""
        c = make_cluster(colocated=False)
        c.bootstrap()
        c.assert_invariants()
        fill(c, 0, "backup", 20)
        c.redis(2).save()
        backup = (c.tmp / "data-2" / "dump.rdb").read_bytes()
        fill(c, 0, "later", 20)
        recorded(c)
        c.stop_every_pod()
        (c.tmp / "data-2" / "restore.rdb").write_bytes(backup)
        c.start_nodes()
        assert c.master() == 2
        for i in range(3):
            c.wait_for(f"node {i} holds the backup", lambda i=i: c.redis(i).dbsize() == 20 and c.redis(i).get("later0") is None)
        assert "elected ordinal 2" in c.procs["redis-2"].output()

    def test_a_failover_pending_across_a_full_restart_keeps_the_restored_data(self, make_cluster):
        """Every Redis pod stops while the Sentinels live on: they keep the old master objectively
        down and retry its failover every 2 x failover-timeout. The pods restart with a restore on
        another ordinal, which is elected; the others, still holding the replaced data, sync from
        it. Sentinel's retry must not promote one of them mid-sync: a replica is not promotable
        until its first sync has loaded (docs/design.md, "Boot"). The syncs are held back longer
        than the Sentinels' retry period, so a retry always falls into them."""
        c = make_cluster(colocated=False, values={"redis": {"extraConfig": ["repl-diskless-sync-delay 12"]}})
        c.bootstrap()
        assert c.assert_invariants() == 0
        fill(c, 0, "backup", 20)
        c.redis(2).save()
        backup = (c.tmp / "data-2" / "dump.rdb").read_bytes()
        fill(c, 0, "later", 200)
        recorded(c)
        # Sentinel keeps a replica's last priority while it answers as master: node 1, the one
        # that will be elected, is the least preferred, so a retry picks node 2 if it may.
        c.redis(1).config_set("replica-priority", 101)
        c.wait_for("every Sentinel reads node 1's priority", lambda: c.sentinels_read_priority(1, 101), 30)
        for i in range(3):
            c.kill_node(i)
        c.vanish(0, 1, 2)

        def odown():
            reply = c.sentinel(0).execute_command("SENTINEL", "MASTER", "mymaster")
            return "o_down" in (reply if isinstance(reply, dict) else dict(zip(reply[::2], reply[1::2])))["flags"]
        c.wait_for("the Sentinels hold node 0 objectively down", odown, 30)
        (c.tmp / "data-1" / "restore.rdb").write_bytes(backup)
        for i in (1, 0, 2):
            c.start_node(i)
        c.wait_for("node 1 elected with the restore", lambda: "elected ordinal 1" in c.procs["redis-1"].output(), 60)
        # The retried failover may still promote a replica, once it holds the restored data.
        c.assert_invariants(90)

        def restored_everywhere():
            return all(c.redis(i).dbsize() == 20 and c.redis(i).get("backup0") == b"0" and c.redis(i).get("later0") is None for i in range(3))
        c.wait_for("every node holds exactly the backup", restored_everywhere, 30)
        time.sleep(10)  # past another failover retry of a stale Sentinel
        m = c.assert_invariants(60)
        assert restored_everywhere(), [c.redis(i).dbsize() for i in range(3)]
        for i in range(3):
            if i != m:
                assert "first sync from the master loaded" in c.procs[f"redis-{i}"].output()


class TestPromotable:
    def test_a_replica_is_not_promotable_until_its_first_sync_loaded(self, make_cluster):
        """A replica starts with replica-priority 0 and is unready until its first sync from the
        master has loaded; then it gets the configured priority back and Sentinel reads it."""
        c = make_cluster(colocated=False, values={"redis": {"extraConfig": ["replica-priority 7"]}})
        c.bootstrap()
        assert c.assert_invariants() == 0
        fill(c, 0, "k", 50)
        c.kill_node(2)
        wipe(c, 2)
        c.redis(0).config_set("repl-diskless-sync-delay", 4)
        c.start_node(2)
        c.wait_for("node 2 runs as a replica", lambda: c.role(2) == "slave", 30)
        assert c.redis(2).info("replication")["master_link_status"] == "down"
        assert c.redis(2).config_get("replica-priority") == {"replica-priority": "0"}
        assert (c.tmp / "run-2" / "priority.pending").read_text().strip() == "7"
        unready = c.run(2, "probe.sh", "redis-readiness")
        assert unready.returncode == 1 and "replica link to the master is down" in unready.stdout
        c.wait_ready(2, 30)
        assert c.redis(2).config_get("replica-priority") == {"replica-priority": "7"}
        assert c.redis(2).dbsize() == 50
        assert "first sync from the master loaded: replica-priority 7, Sentinel may promote this pod" in c.procs["redis-2"].output()
        c.wait_for("every Sentinel reads the priority", lambda: c.sentinels_read_priority(2, 7), 30)

    def test_a_replica_with_priority_0_configured_stays_so(self, make_cluster):
        """replica-priority 0 in redis.extraConfig (a pod that must never be master) is kept: the
        replica is ready once synced and nothing raises its priority."""
        c = make_cluster(colocated=False, values={"redis": {"extraConfig": ["replica-priority 0"]}})
        c.bootstrap()
        assert c.assert_invariants() == 0
        for i in (1, 2):
            assert c.redis(i).config_get("replica-priority") == {"replica-priority": "0"}
            assert not (c.tmp / f"run-{i}" / "priority.pending").exists()
            assert "first sync from the master loaded" not in c.procs[f"redis-{i}"].output()


class TestHousekeeping:
    @LAYOUTS
    def test_sentinels_forget_peers_that_left_the_release(self, make_cluster, colocated):
        """A Sentinel that was part of the set and is gone (scale-down, a move between layouts)
        would stay a voter forever: the others forget it, and keep the release's peers."""
        c = make_cluster(colocated=colocated)
        for i in range(3):
            c.start_node(i)
        for i in range(3):
            c.wait_ready(i, 60)
        for i in range(4):
            # A fourth Sentinel, outside the release (SENTINELS stays 3), joins and then dies.
            c.existing.add(i) if colocated else c.existing_sentinels.add(i)
            c.write_hosts()
            c.start(f"sentinel-{i}", i, "sentinel-start.sh", sentinel_pod=not colocated, HOUSEKEEPING_INTERVAL=3)
        extra = 3
        c.wait_for("the extra Sentinel is known", lambda: len(c.sentinel_list(0, "SENTINELS")) == 3, 30)
        c.kill_sentinel(extra)
        m = c.master()
        assert c.assert_invariants(60) == m
        logs = "".join(c.procs[f"sentinel-{i}"].output() for i in range(3))
        assert f"forgetting peers that are down and not part of the release: {c.sentinel_host(extra)}" in logs
