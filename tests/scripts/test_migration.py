# SPDX-License-Identifier: Apache-2.0
"""Migration from a running Redis (docs/design.md, "Migration") on real processes: an external
redis-server with data is the source; the set follows it, Sentinel promotes nothing, and
files/scripts/cutover.sh makes the most up-to-date pod master or refuses, naming the pod."""
import time

import pytest

from tests.scripts.harness import REDIS_PORT

LAYOUTS = pytest.mark.parametrize("colocated", [False, True], ids=["sentinel-pods", "colocated"])
KEYS = 500


def following(c, **kw):
    """A set installed with migration.enabled, following a source that holds KEYS keys."""
    c = c(**{"migration": {"enabled": True}, **kw})
    c.start_source()
    src = c.source()
    for k in range(KEYS):
        src.set(f"old:{k}", k)
    c.bootstrap()
    return c


def assert_follows_source(c) -> None:
    for i in range(c.replicas):
        info = c.redis(i).info("replication")
        assert (info["role"], info["master_host"], info["master_port"], info["master_link_status"]) == ("slave", c.source_host, REDIS_PORT, "up"), f"node {i}: {info}"


def cut_off(c, i: int) -> None:
    """Node i loses its link to the source and cannot log in again (a wrong masterauth)."""
    r = c.redis(i)
    r.config_set("masterauth", "wrong")
    r.execute_command("CLIENT", "KILL", "TYPE", "master")
    c.wait_for(f"node {i} link down", lambda: r.info("replication")["master_link_status"] == "down")


def cutover(c, **env):
    return c.run(0, "cutover.sh", timeout=120, **{"CUTOVER_WAIT": 3, **env})


class TestFollowing:
    @LAYOUTS
    def test_every_pod_replicates_the_source_and_no_pod_is_elected(self, make_cluster, colocated):
        """migration.enabled: each node is a replica of the source with its data, logged in with
        the source's password; no election runs and every Sentinel monitors nothing yet."""
        c = following(make_cluster, colocated=colocated)
        assert_follows_source(c)
        c.source().set("later", "yes")
        c.wait_for("writes to the source reach every node", lambda: all(c.redis(i).get("later") == b"yes" for i in range(c.replicas)))
        assert all(c.redis(i).dbsize() == KEYS + 1 for i in range(c.replicas))
        logs = "".join(c.procs[f"redis-{i}"].output() for i in range(c.replicas))
        assert "no master anywhere" not in logs and "elected" not in logs
        assert f"migration: following the external master {c.source_host}:{REDIS_PORT}" in logs
        for i in range(c.sentinels):
            assert c.sentinel(i).execute_command("SENTINEL", "MASTERS") == []
            assert "monitoring nothing until the cutover" in c.procs[f"sentinel-{i}"].output()

    def test_sentinel_promotes_nothing_while_the_source_is_gone(self, make_cluster):
        """The source killed for longer than down-after: no node becomes master, Sentinels stay
        without a master, liveness does not restart the replicas, preStop hands nothing over."""
        c = following(make_cluster, colocated=False)
        c.procs.pop("source").kill()
        time.sleep(4)  # 4 x down-after-milliseconds of the harness
        assert [c.role(i) for i in range(c.replicas)] == ["slave"] * c.replicas
        for i in range(c.sentinels):
            assert c.sentinel(i).execute_command("SENTINEL", "MASTERS") == []
        assert c.redis(1).info("replication")["master_link_status"] == "down"
        live = c.run(1, "probe.sh", "redis-liveness", STUCK_AFTER=1)
        assert live.returncode == 0, live.stdout + live.stderr
        ready = c.run(1, "probe.sh", "redis-readiness")
        assert ready.returncode == 1 and "link to the master is down" in ready.stdout
        stop = c.run(1, "prestop-redis.sh")
        assert stop.returncode == 0 and "handing over" not in stop.stderr
        assert c.role(1) == "slave"

    def test_a_restarted_pod_follows_the_source_again(self, make_cluster):
        """A node restarting while migrating goes back to the source: its peers are replicas, and
        the source is never treated as a peer that might be behind."""
        c = following(make_cluster, colocated=False)
        c.kill_node(2)
        c.source().set("while-down", 1)
        c.start_node(2)
        c.wait_ready(2)
        assert_follows_source(c)
        assert c.redis(2).get("while-down") == b"1"


class TestCutover:
    @LAYOUTS
    def test_cutover_makes_the_set_independent_and_leaves_the_source_running(self, make_cluster, colocated):
        """In sync (equal offsets): the lowest ordinal leads, the others follow it with the set's
        own password, the Sentinels monitor it, the source keeps serving writes, and running the
        hook again changes nothing."""
        c = following(make_cluster, colocated=colocated)
        done = cutover(c)
        assert done.returncode == 0, done.stderr
        assert "elected ordinal 0" in done.stderr and "cutover done" in done.stderr
        assert c.assert_invariants(60) == 0
        assert all(c.redis(i).dbsize() == KEYS for i in range(c.replicas))
        assert c.source().set("old-side", 1) and c.source().info("replication")["role"] == "master"
        c.redis(0).set("new-side", 1)
        assert c.redis(0).wait(2, 5000) == 2
        # The settings reach the pods later than the cutover: a node restarting before that
        # follows the set's master, not the source.
        c.kill_node(2)
        c.start_node(2)
        c.wait_ready(2)
        assert c.redis(2).info("replication")["master_host"] == c.host(0)
        assert c.redis(2).get("new-side") == b"1"
        # A later upgrade runs the hook again, here with a replica down: it leaves the set alone.
        c.kill_node(1)
        again = cutover(c)
        assert again.returncode == 0 and f"already independent of the source: {c.host(0)} is master" in again.stderr
        assert c.role(0) == "master" and c.role(2) == "slave"

    def test_cutover_elects_the_most_up_to_date_pod(self, make_cluster):
        """Node 0 cut off while the source took more writes, then the source died: forced, the
        cutover elects the lowest ordinal of the highest offset (node 1) and node 0 catches up
        from it."""
        c = following(make_cluster, colocated=False)
        cut_off(c, 0)
        src = c.source()
        for k in range(200):
            src.set(f"late:{k}", k)
        c.wait_for("nodes 1 and 2 have the late writes", lambda: all(c.redis(i).dbsize() == KEYS + 200 for i in (1, 2)))
        c.procs.pop("source").kill()
        assert c.redis(0).dbsize() == KEYS
        refused = cutover(c)
        assert refused.returncode == 1 and "does not answer INFO" in refused.stderr
        done = cutover(c, CUTOVER_FORCE="true")
        assert done.returncode == 0, done.stderr
        assert "elected ordinal 1" in done.stderr
        assert c.assert_invariants(60) == 1
        c.wait_for("node 0 has the late writes", lambda: c.redis(0).dbsize() == KEYS + 200)

    def test_cutover_is_refused_while_a_pod_is_not_in_sync(self, make_cluster):
        """A node whose link to the source is down: the cutover fails naming that node and why,
        and changes nothing (every node still follows the source)."""
        c = following(make_cluster, colocated=False)
        cut_off(c, 2)
        c.source().set("missed", 1)
        refused = cutover(c)
        assert refused.returncode == 1
        assert f"cutover refused: not every pod is in sync with the source {c.source_host}:{REDIS_PORT}" in refused.stderr
        assert f"{c.host(2)} has its link to the source down" in refused.stderr
        assert c.host(0) not in refused.stderr and c.host(1) not in refused.stderr
        assert "migration.cutover.force=true" in refused.stderr
        assert [c.role(i) for i in range(c.replicas)] == ["slave"] * c.replicas
        for i in range(c.sentinels):
            assert c.sentinel(i).execute_command("SENTINEL", "MASTERS") == []


class TestTls:
    @pytest.mark.parametrize("source_tls", [True, False], ids=["tls-source", "plain-source"])
    def test_follows_the_source_as_it_speaks_and_cuts_over_to_the_set_s_tls(self, make_cluster, source_tls):
        """tls.enabled on the set: replication from the source over TLS (presenting the nodes'
        certificate) or plain text, as migration.source.tls.enabled says; after the cutover the
        nodes replicate from each other over TLS."""
        c = following(make_cluster, colocated=False, values={"tls": {"enabled": True}}, migration={"enabled": True, "tls": source_tls})
        assert_follows_source(c)
        assert c.redis(1, decode_responses=True).config_get("tls-replication")["tls-replication"] == ("yes" if source_tls else "no")
        done = cutover(c)
        assert done.returncode == 0, done.stderr
        assert c.assert_invariants(60) == 0
        for i in (1, 2):
            assert c.redis(i, decode_responses=True).config_get("tls-replication")["tls-replication"] == "yes"
            assert c.redis(i).dbsize() == KEYS


def test_single_pod_follows_the_source_and_becomes_master_at_the_cutover(make_cluster):
    """replicas: 1 with migration.enabled: the one pod follows the source; the cutover makes it master."""
    c = following(make_cluster, replicas=1)
    assert_follows_source(c)
    done = cutover(c)
    assert done.returncode == 0, done.stderr
    assert c.role(0) == "master" and c.redis(0).dbsize() == KEYS
