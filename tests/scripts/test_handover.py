# SPDX-License-Identifier: Apache-2.0
"""files/scripts/prestop-redis.sh and prestop-sentinel.sh: docs/design.md rule 6 on real processes."""
import os
import re
import threading
import time

import pytest
import redis

from tests.scripts.harness import BOTH_ENGINES


class Writer(threading.Thread):
    """Writes unique keys to whatever the Sentinels call master, recording acknowledged ones."""

    def __init__(self, cluster):
        super().__init__(daemon=True)
        self.c = cluster
        self.acked: list[str] = []
        self.failures = 0
        self.longest_stall = 0.0
        self.stop = threading.Event()

    def master_client(self):
        host, _ = self.c.sentinel(0).execute_command("SENTINEL", "GET-MASTER-ADDR-BY-NAME", "mymaster")
        return self.c.redis(self.c.ordinal_of(host))

    def run(self):
        n = 0
        last_ok = time.monotonic()
        client = self.master_client()
        while not self.stop.is_set():
            key = f"w{n}"
            try:
                client.set(key, n)
                self.acked.append(key)
                now = time.monotonic()
                self.longest_stall = max(self.longest_stall, now - last_ok)
                last_ok = now
                n += 1
            except redis.RedisError:
                self.failures += 1
                time.sleep(0.05)
                try:
                    client = self.master_client()
                except redis.RedisError:
                    pass
            time.sleep(0.005)


def hand_over_under_writes(c, ordinal: int, timeout: float):
    """Runs node `ordinal`'s preStop hook while a Writer writes; returns (the hook's result, the
    stopped writer). Progress, not time: writes flow before the hook and resume after it (a loaded
    machine or TLS only slows the writer down)."""
    writer = Writer(c)
    writer.start()
    c.wait_for("writes before the handover", lambda: len(writer.acked) >= 25)
    result = c.run(ordinal, "prestop-redis.sh", timeout=timeout)
    during = len(writer.acked)
    c.wait_for("writes after the handover", lambda: len(writer.acked) >= during + 25)
    writer.stop.set()
    writer.join(10)
    return result, writer


class TestPreStop:
    @pytest.mark.parametrize("values", [{}, {"tls": {"enabled": True}}], ids=["plain", "tls"])
    @BOTH_ENGINES
    def test_master_hands_over_without_losing_acknowledged_writes(self, make_cluster, values, engine):
        """docs/design.md rule 6: pause writes, fail over, wait for the role change; every acknowledged write
        survives (also with TLS only: the hook's redis-cli calls and Sentinel use TLS)."""
        c = make_cluster(engine=engine, values=values)
        c.bootstrap()
        assert c.assert_invariants() == 0
        result, writer = hand_over_under_writes(c, 0, timeout=60)
        assert result.returncode == 0, result.stderr
        assert "pausing writes and handing over" in result.stderr
        assert "replica-priority" not in result.stderr, "ordinal 0 has no replica below it to steer away from"
        assert re.search(r"handover done: node-[12]\.n[0-9]+\.test is master, this node is a replica now", result.stderr)
        # The last Sentinel leads, so clients asking the first one find the new master at the
        # promotion; the Sentinel of the pod that stops (co-located) would be asked last of all.
        assert f"sentinel on {c.sentinel_host(2)} accepted the failover" in result.stderr, result.stderr
        assert re.search(r"node-[12]\.n[0-9]+\.test was promoted; this node and its other replicas follow it, writes unpaused", result.stderr), result.stderr
        assert c.role(0) == "slave"
        assert (c.tmp / "run-0" / "handover.done").exists()
        new = c.assert_invariants()
        assert new != 0
        stored = set(k.decode() for k in c.redis(new).keys("w*"))
        lost = [k for k in writer.acked if k not in stored]
        print(f"handover: {len(writer.acked)} acknowledged writes, {len(lost)} lost, "
              f"{writer.failures} failed attempts, longest stall {writer.longest_stall:.2f}s")
        assert lost == []

    def test_middle_master_hands_over_to_the_pod_above(self, make_cluster):
        """docs/design.md, "Failovers per rollout": a master with replicas on both sides of its ordinal
        (a rollout has replaced the pods above it and not those below) makes the replicas below less
        preferred, waits until every Sentinel has read that, and hands over to the pod above; the
        priorities are back afterwards and no acknowledged write is lost."""
        c = make_cluster()
        c.bootstrap()
        assert c.assert_invariants() == 0

        # Put the master on ordinal 1: node 2 may not be promoted while node 0 hands over.
        c.redis(2).config_set("replica-priority", 0)
        c.wait_for("Sentinels read node 2's priority", lambda: c.sentinels_read_priority(2, 0), 30)
        assert c.run(0, "prestop-redis.sh", timeout=60).returncode == 0
        c.redis(2).config_set("replica-priority", 100)
        assert c.assert_invariants() == 1
        c.wait_for("Sentinels read node 2's priority again", lambda: c.sentinels_read_priority(2, 100), 30)

        result, writer = hand_over_under_writes(c, 1, timeout=90)
        assert result.returncode == 0, result.stderr
        assert re.search(r"handing over to a pod above ordinal 1 \(replica-priority 101 on node-0\.n[0-9]+\.test\)", result.stderr), result.stderr
        assert re.search(r"handover done: node-2\.n[0-9]+\.test is master", result.stderr), result.stderr
        assert c.assert_invariants() == 2
        assert c.redis(0).config_get("replica-priority") == {"replica-priority": "100"}
        stored = set(k.decode() for k in c.redis(2).keys("w*"))
        assert [k for k in writer.acked if k not in stored] == []

    def test_replica_hook_does_nothing(self, make_cluster):
        """A replica has nothing to hand over; the hook exits at once and leaves roles alone."""
        c = make_cluster()
        c.bootstrap()
        c.assert_invariants()
        result = c.run(1, "prestop-redis.sh")
        assert result.returncode == 0 and result.stderr == ""
        assert c.master() == 0

    def test_sentinel_hook_waits_for_the_redis_hook(self, make_cluster):
        """The sentinel container stays while its Redis is master and the handover is unfinished."""
        c = make_cluster()
        c.bootstrap()
        c.assert_invariants()
        started = time.monotonic()
        waited = c.run(0, "prestop-sentinel.sh", PRESTOP_TIMEOUT=3)
        assert waited.returncode == 0
        assert time.monotonic() - started >= 3
        assert "the local Redis is still master after 3s; stopping anyway" in waited.stderr
        (c.tmp / "run-0" / "handover.done").touch()
        started = time.monotonic()
        assert c.run(0, "prestop-sentinel.sh", PRESTOP_TIMEOUT=20).returncode == 0
        assert time.monotonic() - started < 10

    def test_master_without_replicas_keeps_serving(self, make_cluster):
        """A lone master (replicas gone) is not paused: there is nobody to hand over to."""
        c = make_cluster()
        c.bootstrap()
        c.assert_invariants()
        for i in (1, 2):
            c.kill_node(i)
        c.wait_for("replicas gone", lambda: c.redis(0).info("replication")["connected_slaves"] == 0, 30)
        result = c.run(0, "prestop-redis.sh")
        assert result.returncode == 0
        assert "master without connected replicas: nothing to hand over to" in result.stderr
        assert c.redis(0).set("still", "writable")

    def test_master_stops_without_handover_when_no_replica_has_every_write(self, make_cluster):
        """Replicas that are stopping too (every pod deleted) or stuck cannot take over without
        losing acknowledged writes: the master keeps writes paused, hands nothing over, and its
        data record holds its final offset for the next full restart's election."""
        import signal
        c = make_cluster(colocated=False)
        c.bootstrap()
        c.assert_invariants()
        r = c.redis(0)
        for k in range(50):
            r.set(f"k{k}", k)
        offset = r.info("replication")["master_repl_offset"]
        for i in (1, 2):
            os.killpg(c.procs[f"redis-{i}"].popen.pid, signal.SIGSTOP)
        try:
            result = c.run(0, "prestop-redis.sh", timeout=60)
        finally:
            for i in (1, 2):
                os.killpg(c.procs[f"redis-{i}"].popen.pid, signal.SIGCONT)
        assert result.returncode == 0, result.stderr
        assert "no replica has every write after 3s; stopping as master with writes paused, no handover" in result.stderr
        assert "accepted the failover" not in result.stderr
        assert c.role(0) == "master"
        recorded = (c.tmp / "data-0" / "redis-ha.state").read_text().split()
        assert int(recorded[2]) >= offset
