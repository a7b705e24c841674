# SPDX-License-Identifier: Apache-2.0
"""The role label the redis container asks for (lib.sh role_label, written by redis-start.sh's
state loop), on real processes: the decision behind the -master and -replicas Services
(docs/design.md, "Role Services"). The patch itself needs the API server: tests/e2e."""
import os
import signal
import subprocess
import time

from tests.scripts.harness import SCRIPTS


def role_label_of(c, i, info: str, fresh: int = 0, **env) -> str:
    """lib.sh role_label applied to an INFO reply in node i's environment."""
    script = f". {SCRIPTS}/lib.sh; role_label \"$INFO\" {fresh}"
    done = subprocess.run(["sh", "-c", script], env={**c.env(i, **env), "INFO": info}, capture_output=True, text=True, timeout=10, check=True)
    return done.stdout.strip()


def _info(r) -> str:
    """The raw INFO reply, as redis-cli prints it (redis-py parses it otherwise)."""
    conn = r.connection_pool.get_connection()
    try:
        conn.send_command("INFO")
        reply = conn.read_response()
    finally:
        r.connection_pool.release(conn)
    return reply.decode() if isinstance(reply, bytes) else reply


class TestRoleLabelDecision:
    def test_labels_follow_roles_through_a_planned_failover(self, make_cluster):
        """Bootstrapped set: master and replicas labelled; after SENTINEL FAILOVER the labels swap within seconds."""
        c = make_cluster()
        c.bootstrap()
        m = c.assert_invariants()
        c.sentinel(0).execute_command("SENTINEL", "FAILOVER", "mymaster")
        c.wait_for("a new master", lambda: c.role(m) == "slave")
        new = c.assert_invariants()
        assert new != m
        assert c.role_label(m) == "replica" and c.role_label(new) == "master"

    def test_master_without_an_acknowledging_replica_has_no_label(self, make_cluster):
        """A master whose replicas are gone (cut off, or demoted behind its back) loses the master label; one replica back restores it."""
        c = make_cluster()
        c.bootstrap()
        m = c.assert_invariants()
        replicas = [i for i in range(3) if i != m]
        for name in [f"sentinel-{i}" for i in range(3)]:
            c.procs.pop(name).kill()
        for i in replicas:
            c.kill_node(i)
        c.wait_for("master label gone", lambda: c.role_label(m) == "", timeout=15)
        assert c.role(m) == "master"
        c.start_node(replicas[0])
        c.wait_for("master label back", lambda: c.role_label(m) == "master", timeout=30)

    def test_frozen_master_never_keeps_the_label_after_a_failover(self, make_cluster):
        """SIGSTOP the master past down-after: Sentinel promotes a replica; the frozen node's label is
        gone while it is frozen and never says master again, also while it runs as a master until Sentinel demotes it."""
        c = make_cluster()
        c.bootstrap()
        m = c.assert_invariants()
        server = c.procs[f"redis-{m}"].popen.pid  # redis-start.sh execs redis-server
        os.kill(server, signal.SIGSTOP)
        try:
            c.wait_for("label dropped while frozen", lambda: c.role_label(m) == "", timeout=15)
            c.wait_for("another master", lambda: any(c.role_label(i) == "master" for i in range(3) if i != m), timeout=30)
        finally:
            os.kill(server, signal.SIGCONT)
        # It runs as a master again until Sentinel converts it (seconds later): meanwhile it has
        # no replica, so no label.
        seen = set()
        deadline = time.monotonic() + 60
        while c.role(m) != "slave":
            assert time.monotonic() < deadline, "Sentinel never demoted the old master"
            seen.add(c.role_label(m))
            time.sleep(0.1)
        assert "master" not in seen, seen
        c.assert_invariants()

    def test_single_node_is_master_alone(self, make_cluster):
        """replicas: 1, the non-HA mode: the one node is master with no replica at all."""
        c = make_cluster(replicas=1)
        c.start_nodes()
        c.wait_for("master label", lambda: c.role_label(0) == "master", timeout=15)

    def test_decision_on_replies_of_real_nodes(self, make_cluster):
        """role_label on INFO replies of a live master, a replica, and no reply at all; the lag bound
        is ROLE_MAX_LAG, which a master fresh from its promotion does not need."""
        c = make_cluster()
        c.bootstrap()
        m = c.assert_invariants()
        r = next(i for i in range(3) if i != m)
        master_info = _info(c.redis(m))
        assert role_label_of(c, m, master_info) == "master"
        assert role_label_of(c, r, _info(c.redis(r))) == "replica"
        assert role_label_of(c, m, "") == ""
        lagging = master_info.replace("lag=0", "lag=9").replace("lag=1", "lag=9")
        assert role_label_of(c, m, lagging) == ""
        assert role_label_of(c, m, lagging, ROLE_MAX_LAG=10) == "master"
        # A master that turned master moments ago is labelled before a replica acknowledges it.
        assert role_label_of(c, m, lagging, fresh=1) == "master"
        assert role_label_of(c, r, _info(c.redis(r)), fresh=1) == "replica"
        assert role_label_of(c, m, "", fresh=1) == ""

