# SPDX-License-Identifier: Apache-2.0
"""files/scripts/probe.sh: docs/design.md rule 7. Real processes where the state can be produced, a stub
redis-cli for replies that are hard to provoke on demand (LOADING, MASTERDOWN)."""
import os
import stat

import pytest

from tests.scripts.harness import BOTH_ENGINES, SCRIPTS


class TestProbesOnRealProcesses:
    @BOTH_ENGINES
    def test_replica_not_ready_while_its_master_is_down_but_still_alive(self, make_cluster, engine):
        """Readiness needs master_link_status:up; liveness keeps the replica alive meanwhile."""
        c = make_cluster(engine=engine)
        c.bootstrap()
        c.assert_invariants()
        assert c.run(1, "probe.sh", "redis-readiness").returncode == 0
        c.procs.pop("redis-0").kill()
        c.wait_for("link down", lambda: c.redis(1).info("replication")["master_link_status"] == "down")
        ready = c.run(1, "probe.sh", "redis-readiness")
        assert ready.returncode == 1 and "replica link to the master is down" in ready.stdout
        assert c.run(1, "probe.sh", "redis-liveness").returncode == 0

    def test_replica_whose_master_stays_down_fails_liveness(self, make_cluster):
        """A replica whose master's pod exists but answers no ROLE master (it is starting, waiting
        for its peers), with no Sentinel left to fail over, is restarted to decide again - after
        STUCK_AFTER seconds of a down link, never during an ordinary failover."""
        c = make_cluster(colocated=False)
        c.bootstrap()
        c.assert_invariants()
        for i in range(3):
            c.kill_sentinel(i)
        c.kill_node(0)
        c.wait_for("link down", lambda: c.redis(1).info("replication")["master_link_status"] == "down")
        assert c.run(1, "probe.sh", "redis-liveness").returncode == 0
        live = c.run(1, "probe.sh", "redis-liveness", STUCK_AFTER=0)
        assert live.returncode == 1 and f"master {c.host(0)} answers ROLE nothing, not master" in live.stdout

    def test_replica_of_a_vanished_master_fails_liveness(self, make_cluster):
        """A replica whose master no longer exists (name gone) is restarted to decide again."""
        c = make_cluster()
        c.bootstrap()
        c.assert_invariants()
        c.kill_node(0)
        c.vanish(0)
        for i in (1, 2):
            c.procs.pop(f"sentinel-{i}").kill()
        c.wait_for("link down", lambda: c.redis(1).info("replication")["master_link_status"] == "down")
        live = c.run(1, "probe.sh", "redis-liveness")
        assert live.returncode == 1 and f"master {c.host(0)} no longer exists" in live.stdout

    def test_sentinel_probes(self, make_cluster):
        """Sentinel readiness needs a known master; a stopped Sentinel fails liveness."""
        c = make_cluster()
        c.bootstrap()
        assert c.run(1, "probe.sh", "sentinel-readiness").returncode == 0
        assert c.run(1, "probe.sh", "sentinel-liveness").returncode == 0
        c.procs.pop("sentinel-1").kill()
        dead = c.run(1, "probe.sh", "sentinel-liveness")
        assert dead.returncode == 1 and "sentinel does not answer PING" in dead.stdout

    def test_unknown_probe_is_an_error(self, make_cluster):
        """probe.sh with a wrong argument says how to call it."""
        c = make_cluster()
        r = c.run(0, "probe.sh", "bogus")
        assert r.returncode == 1 and "usage: probe.sh" in r.stdout


def stub_cli(tmp_path, reply_ping, info=""):
    """A redis-cli that answers PING and INFO with canned text."""
    bindir = tmp_path / "bin"
    bindir.mkdir()
    (tmp_path / "info.txt").write_text(info)
    script = bindir / "redis-cli"
    script.write_text(
        "#!/bin/sh\n"
        f'for a; do last=$a; done\ncase "$*" in\n'
        f'  *PING*) printf "%s\\n" {reply_ping!r} ;;\n'
        f'  *INFO*) cat {tmp_path / "info.txt"} ;;\n'
        "esac\n"
    )
    script.chmod(script.stat().st_mode | stat.S_IEXEC)
    return str(bindir)


def run_probe(tmp_path, mode, bindir):
    import subprocess

    env = {"PATH": f"{bindir}:{os.environ['PATH']}", "SCRIPTS_DIR": str(SCRIPTS), "PASSWORD_FILE": "", "POD_ORDINAL": "0", "NODE_HOST_TEMPLATE": "n-%s",
           "RUN_DIR": str(tmp_path)}
    return subprocess.run(["sh", str(SCRIPTS / "probe.sh"), mode], env=env, capture_output=True, text=True, timeout=30)


class TestProbeBranchesWithStub:
    @pytest.mark.parametrize("reply", ["LOADING Redis is loading the dataset in memory", "MASTERDOWN Link with MASTER is down and replica-serve-stale-data is set to 'no'."])
    def test_liveness_accepts_recovery_states(self, tmp_path, reply):
        """Liveness never kills a node that is loading or waiting for its master."""
        assert run_probe(tmp_path, "redis-liveness", stub_cli(tmp_path, reply, "role:master\n")).returncode == 0

    @pytest.mark.parametrize("reply", ["LOADING Redis is loading the dataset in memory", "MASTERDOWN Link with MASTER is down"])
    def test_readiness_refuses_recovery_states(self, tmp_path, reply):
        """Readiness wants PONG."""
        r = run_probe(tmp_path, "redis-readiness", stub_cli(tmp_path, reply))
        assert r.returncode == 1 and "redis not ready" in r.stdout

    def test_readiness_refuses_a_loading_node_that_answers_pong(self, tmp_path):
        """INFO loading:1 is not ready."""
        r = run_probe(tmp_path, "redis-readiness", stub_cli(tmp_path, "PONG", "loading:1\nrole:master\n"))
        assert r.returncode == 1 and "redis is loading its dataset" in r.stdout

    def test_readiness_refuses_a_replica_still_syncing(self, tmp_path):
        """master_sync_in_progress:1 is not ready even with the link up."""
        info = "loading:0\nrole:slave\nmaster_link_status:up\nmaster_sync_in_progress:1\n"
        r = run_probe(tmp_path, "redis-readiness", stub_cli(tmp_path, "PONG", info))
        assert r.returncode == 1 and "replica sync in progress" in r.stdout

    def test_readiness_refuses_a_replica_not_promotable_yet(self, tmp_path):
        """A synced replica whose start script has not given it its priority back is not ready."""
        info = "loading:0\nrole:slave\nmaster_link_status:up\nmaster_sync_in_progress:0\n"
        bindir = stub_cli(tmp_path, "PONG", info)
        assert run_probe(tmp_path, "redis-readiness", bindir).returncode == 0
        (tmp_path / "priority.pending").write_text("100\n")
        r = run_probe(tmp_path, "redis-readiness", bindir)
        assert r.returncode == 1 and "replica not promotable yet (replica-priority 0 until its first sync loaded)" in r.stdout

    @pytest.mark.parametrize("info, reason", [
        ("role:slave\nuptime_in_seconds:3\nmaster_link_status:down\nloading:0\n", "replica not linked to its master yet (up 3s)"),
        ("role:slave\nuptime_in_seconds:3\nmaster_link_status:up\nloading:0\n", "replica not promotable yet (up 3s)"),
    ], ids=["link-down", "not-promotable"])
    def test_startup_waits_for_a_fresh_replica_to_be_in_step(self, tmp_path, info, reason):
        """docs/design.md rule 7: the startup probe of a replica that started moments ago passes only
        once it is in step (link up, promotable), so the kubelet's readiness run right after it
        finds the pod ready; past STUCK_AFTER seconds the liveness rules decide."""
        bindir = stub_cli(tmp_path, "PONG", info)
        (tmp_path / "priority.pending").write_text("100\n")
        r = run_probe(tmp_path, "redis-startup", bindir)
        assert r.returncode == 1 and reason in r.stdout
        (tmp_path / "info.txt").write_text(info.replace("uptime_in_seconds:3", "uptime_in_seconds:15"))
        assert run_probe(tmp_path, "redis-startup", bindir).returncode == 0

    def test_startup_passes_an_in_step_replica_and_a_master(self, tmp_path):
        """A linked, promotable replica and a master pass at once; no answer fails as liveness does."""
        bindir = stub_cli(tmp_path, "PONG", "role:slave\nuptime_in_seconds:1\nmaster_link_status:up\nloading:0\n")
        assert run_probe(tmp_path, "redis-startup", bindir).returncode == 0
        (tmp_path / "info.txt").write_text("role:master\nuptime_in_seconds:1\nloading:0\n")
        assert run_probe(tmp_path, "redis-startup", bindir).returncode == 0

    def test_startup_passes_a_loading_replica_as_liveness_does(self, tmp_path):
        """Loading a large dataset may take longer than the startup budget: past STUCK_AFTER seconds a
        loading replica passes (liveness accepts LOADING); it is not Ready until loaded."""
        info = "role:slave\nuptime_in_seconds:40\nmaster_link_status:down\nloading:1\n"
        assert run_probe(tmp_path, "redis-startup", stub_cli(tmp_path, "LOADING Redis is loading the dataset in memory", info)).returncode == 0

    def test_startup_fails_on_no_answer(self, tmp_path):
        """No Redis and no boot beacon: not started."""
        r = run_probe(tmp_path, "redis-startup", stub_cli(tmp_path, "Could not connect to Redis at 127.0.0.1:6379: Connection refused"))
        assert r.returncode == 1 and "redis does not answer PING" in r.stdout

    def test_liveness_fails_on_no_answer(self, tmp_path):
        """Connection refused is not alive."""
        r = run_probe(tmp_path, "redis-liveness", stub_cli(tmp_path, "Could not connect to Redis at 127.0.0.1:6379: Connection refused"))
        assert r.returncode == 1 and "redis does not answer PING" in r.stdout
