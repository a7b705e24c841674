# SPDX-License-Identifier: Apache-2.0
"""ACL users and password rotation (files/scripts/lib.sh auth_config, login_as) on real processes.

Every ACL test ends by reading `ACL LOG` on every Redis and Sentinel: an entry there means a
component was refused a command it needed, so the users' rules are too narrow."""
import json
import stat
import subprocess
import time
import urllib.request

import pytest
import redis

from tests.scripts.harness import BOTH_ENGINES, PASSWORD, REDIS_PORT, SENTINEL_PORT, acl_password
from tests.scripts.test_handover import Writer

ACL_VALUES = {"acl": {"enabled": True, "existingSecret": "redis-ha-acl"}}


def as_user(c, i: int, role: str | None, password: str | None = None, port: int = REDIS_PORT) -> redis.Redis:
    """A client of node i logged in as an ACL role's user (None: the default user)."""
    user = None if role is None else ("sentinel-peer" if role == "sentinelPeer" else role)
    # No CLIENT SETINFO handshake (Valkey and Redis 7.2+ would log it as refused for the narrow users).
    return redis.Redis(host=c.ip(i), port=port, username=user, password=password or (acl_password(role) if role else PASSWORD),
                       socket_timeout=3, socket_connect_timeout=2, decode_responses=True, lib_name=None, lib_version=None)


def denied(c, port: int) -> list[str]:
    """ACL LOG entries (refused commands) of every node on port, as "user: command" strings."""
    out = []
    for i in range(c.replicas):
        for entry in as_user(c, i, None, port=port).execute_command("ACL", "LOG"):
            e = entry if isinstance(entry, dict) else dict(zip(entry[::2], entry[1::2]))
            out.append(f"node {i} port {port}: {e.get('username')}: {e.get('object')} ({e.get('reason')})")
    return out


def reset_acl_logs(c) -> None:
    for i in range(c.replicas):
        for port in (REDIS_PORT, SENTINEL_PORT):
            as_user(c, i, None, port=port).execute_command("ACL", "LOG", "RESET")


def scrape(c, i: int, port: int, user: str | None, tmp_path) -> str:
    """Metrics of a real redis_exporter on node i (Sentinel i for the Sentinel port), logged in as
    `user` (None: the default user) with the password file exporter-auth.sh wrote, as in a pod."""
    listen = 19000 + c.net * 10 + i + (5 if port == SENTINEL_PORT else 0)
    log = tmp_path / f"exporter-{i}-{port}.log"
    host = c.sentinel_ip(i) if port == SENTINEL_PORT else c.ip(i)
    addr = f"redis://{host}:{port}"
    auth = tmp_path / f"exporter-auth-{i}-{port}.json"
    run = c.run_sentinel if port == SENTINEL_PORT else c.run
    wrote = run(i, "exporter-auth.sh", EXPORTER_ADDRS=addr, EXPORTER_AUTH_FILE=auth)
    assert wrote.returncode == 0, wrote.stdout + wrote.stderr
    env = {"REDIS_ADDR": addr, "REDIS_PASSWORD_FILE": str(auth), "REDIS_EXPORTER_WEB_LISTEN_ADDRESS": f"127.0.0.1:{listen}"}
    if user:
        env["REDIS_USER"] = user
    with open(log, "wb") as fh:
        proc = subprocess.Popen(["prometheus-redis-exporter"], env=env, stdout=fh, stderr=subprocess.STDOUT)
    try:
        def fetch():
            with urllib.request.urlopen(f"http://127.0.0.1:{listen}/metrics", timeout=5) as resp:
                return resp.read().decode()
        return c.wait_for(f"exporter on node {i}:{port}", fetch, timeout=20)
    finally:
        proc.terminate()
        proc.wait(10)


class TestExporterPasswordFile:
    def test_exporters_log_in_with_the_file_exporter_auth_writes(self, make_cluster, tmp_path):
        """auth without ACL users: the file holds the default user's password (quotes and
        backslashes escaped as JSON), mode 0600, and both exporters scrape with it."""
        c = make_cluster()
        c.bootstrap()
        c.assert_invariants()
        assert "\nredis_up 1" in scrape(c, 0, REDIS_PORT, None, tmp_path)
        assert "\nredis_up 1" in scrape(c, 1, SENTINEL_PORT, None, tmp_path)
        written = tmp_path / f"exporter-auth-0-{REDIS_PORT}.json"
        assert json.loads(written.read_text()) == {f"redis://{c.ip(0)}:{REDIS_PORT}": PASSWORD}
        assert stat.S_IMODE(written.stat().st_mode) == 0o600

    def test_exporter_with_a_stale_password_file_reports_redis_down(self, make_cluster, tmp_path):
        """The failing twin: a file whose password Redis does not accept gives redis_up 0."""
        c = make_cluster()
        c.bootstrap()
        listen = 19000 + c.net * 10 + 9
        stale = tmp_path / "stale.json"
        stale.write_text(json.dumps({f"redis://{c.ip(0)}:{REDIS_PORT}": "not-the-password"}))
        env = {"REDIS_ADDR": f"redis://{c.ip(0)}:{REDIS_PORT}", "REDIS_PASSWORD_FILE": str(stale), "REDIS_EXPORTER_WEB_LISTEN_ADDRESS": f"127.0.0.1:{listen}"}
        proc = subprocess.Popen(["prometheus-redis-exporter"], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            def fetch():
                with urllib.request.urlopen(f"http://127.0.0.1:{listen}/metrics", timeout=5) as resp:
                    return resp.read().decode()
            assert "\nredis_up 0" in c.wait_for("stale exporter", fetch, timeout=20)
        finally:
            proc.terminate()
            proc.wait(10)

    def test_exporter_auth_fails_without_a_password(self, make_cluster, tmp_path):
        """auth off: there is no password to write, and the script says so instead of writing an empty one."""
        c = make_cluster(auth=False)
        out = c.run(0, "exporter-auth.sh", EXPORTER_ADDRS="redis://127.0.0.1:6379", EXPORTER_AUTH_FILE=tmp_path / "x.json")
        assert out.returncode != 0
        assert "no password for the exporters" in out.stdout + out.stderr
        assert not (tmp_path / "x.json").exists()


class TestAclUsers:
    @BOTH_ENGINES
    def test_every_component_logs_in_as_its_own_user_through_a_failover(self, make_cluster, tmp_path, engine):
        """Replication, Sentinel, peers and probes work with their least-privilege users: a hard kill
        of the master fails over, and no node refused a command to any component (ACL LOG empty)."""
        c = make_cluster(engine=engine, values=ACL_VALUES)
        c.bootstrap()
        assert c.assert_invariants() == 0
        conf = (c.tmp / "run-1" / "redis.conf").read_text()
        assert "masteruser replication" in conf
        assert "user replication reset on " in conf and "-@all +psync +replconf +ping" in conf
        sconf = (c.tmp / "run-1" / "sentinel.conf").read_text()
        assert "sentinel auth-user mymaster sentinel" in sconf
        assert "sentinel sentinel-user sentinel-peer" in sconf
        for i in range(3):
            assert as_user(c, i, "sentinelPeer", port=SENTINEL_PORT).ping()
        c.kill_node(0)
        c.vanish(0)
        new = c.wait_for("a new master", lambda: next((i for i in (1, 2) if c.role(i) == "master"), None), timeout=30)
        c.exist(0)
        c.start_node(0)
        c.wait_ready(0)
        c.start_sentinel(0)
        c.wait_sentinel_ready(0)
        assert c.assert_invariants() == new
        assert denied(c, REDIS_PORT) == []
        assert denied(c, SENTINEL_PORT) == []

    def test_users_get_only_their_commands(self, make_cluster):
        c = make_cluster(values=ACL_VALUES)
        c.bootstrap()
        c.assert_invariants()
        app = as_user(c, 0, "app")
        assert app.set("k", "v") and app.get("k") == "v"
        for role, command in (("app", ("CONFIG", "SET", "maxmemory", "1")), ("app", ("FLUSHALL",)),
                              ("replication", ("GET", "k")), ("probe", ("GET", "k")),
                              ("exporter", ("SET", "k", "x")), ("sentinel", ("GET", "k"))):
            with pytest.raises(redis.exceptions.NoPermissionError, match="has no permissions to run"):
                as_user(c, 0, role).execute_command(*command)
        assert as_user(c, 1, "probe").ping()
        app_sentinel = as_user(c, 1, "app", port=SENTINEL_PORT)
        assert app_sentinel.execute_command("SENTINEL", "GET-MASTER-ADDR-BY-NAME", "mymaster")[0] == c.host(0)
        for role, command in (("app", ("SENTINEL", "FAILOVER", "mymaster")), ("app", ("SENTINEL", "SET", "mymaster", "quorum", "1")),
                              ("app", ("CLIENT", "KILL", "TYPE", "normal")), ("app", ("CLIENT", "LIST")),
                              ("probe", ("SENTINEL", "MASTERS")), ("sentinelPeer", ("SENTINEL", "FAILOVER", "mymaster"))):
            with pytest.raises(redis.exceptions.NoPermissionError, match="has no permissions to run"):
                as_user(c, 1, role, port=SENTINEL_PORT).execute_command(*command)
        with pytest.raises(redis.exceptions.AuthenticationError, match="invalid username-password pair"):
            as_user(c, 0, "app", password=PASSWORD).ping()

    def test_exporter_user_reads_redis_and_sentinel_metrics(self, make_cluster, tmp_path):
        c = make_cluster(values=ACL_VALUES)
        c.bootstrap()
        c.assert_invariants()
        reset_acl_logs(c)
        redis_metrics = scrape(c, 0, REDIS_PORT, "exporter", tmp_path)
        assert "\nredis_up 1" in redis_metrics
        # With REDIS_USER, redis_exporter 1.69 looks the password up under the address with the user
        # in it, 1.45 (Debian's, run here) under the plain address.
        written = json.loads((tmp_path / f"exporter-auth-0-{REDIS_PORT}.json").read_text())
        assert written == {f"redis://exporter@{c.ip(0)}:{REDIS_PORT}": acl_password("exporter"), f"redis://{c.ip(0)}:{REDIS_PORT}": acl_password("exporter")}
        assert 'redis_connected_slaves 2' in redis_metrics
        sentinel_metrics = scrape(c, 1, SENTINEL_PORT, "exporter", tmp_path)
        assert "\nredis_up 1" in sentinel_metrics
        assert 'redis_sentinel_master_ok_sentinels{master_address=' in sentinel_metrics
        assert denied(c, REDIS_PORT) == []
        assert denied(c, SENTINEL_PORT) == []

    def test_user_accepts_every_line_of_its_file_and_logs_in_with_the_first(self, make_cluster):
        """ACL rotation: a replica logs in with the first line while the master accepts both."""
        c = make_cluster(values=ACL_VALUES)
        (c.acl_dir / "replication").write_text("first %#\"\\ pw\nsecond pw\n")
        c.bootstrap()
        c.assert_invariants()
        assert 'masterauth "first %#\\"\\\\ pw"' in (c.tmp / "run-1" / "redis.conf").read_text()
        for password in ("first %#\"\\ pw", "second pw"):
            assert as_user(c, 0, "replication", password=password).ping()
        with pytest.raises(redis.exceptions.AuthenticationError):
            as_user(c, 0, "replication", password="first %#").ping()

    def test_probe_fails_without_its_password_file(self, make_cluster):
        c = make_cluster(values=ACL_VALUES)
        c.bootstrap()
        (c.acl_dir / "probe").unlink()
        (c.tmp / "run-0" / "redis.login").unlink()
        result = c.run(0, "probe.sh", "redis-readiness")
        assert result.returncode == 1
        assert f"FATAL: ACL password file {c.acl_dir}/probe is not readable" in result.stderr


def roll(c, tmp_path) -> None:
    """Restart every node the way a StatefulSet rollout does: highest ordinal first, the master
    handing over in its preStop hook, each node ready before the next."""
    for i in reversed(range(c.replicas)):
        if c.role(i) == "master":
            result = c.run(i, "prestop-redis.sh", timeout=60)
            assert result.returncode == 0, result.stderr
        c.kill_node(i)
        c.start_node(i)
        c.wait_ready(i)
        c.start_sentinel(i)
        c.wait_sentinel_ready(i)


def set_password(c, password: str, accepted: list[str]) -> None:
    c.password_file.chmod(0o600)
    c.password_file.write_text(password)
    c.password_file.chmod(0o400)
    c.accepted_file.write_text("\n".join(accepted))


def logs_of(c) -> str:
    return "\n".join(p.output() for p in c.procs.values())


class TestProbeLogin:
    @pytest.mark.parametrize("probe", ["redis-readiness", "redis-liveness", "sentinel-readiness", "sentinel-liveness"])
    def test_probes_keep_the_password_the_server_started_with(self, make_cluster, probe):
        """The kubelet rewrites mounted Secret files in running pods: a password changed in one step
        must not fail every probe at once (the servers still run with the old one)."""
        c = make_cluster()
        c.bootstrap()
        c.assert_invariants()
        set_password(c, "changed in one step", [])
        assert c.run(1, "probe.sh", probe).returncode == 0
        (c.tmp / "run-1" / f"{probe.split('-')[0]}.login").unlink()
        result = c.run(1, "probe.sh", probe)
        assert result.returncode == 1
        assert "WRONGPASS" in result.stdout


class TestRotation:
    def test_three_step_rotation_keeps_replication_and_failover(self, make_cluster, tmp_path, monkeypatch):
        """docs/security.md "Rotating the password": accept the new password, switch to it while accepting the
        old one, then drop the old one. Writes continue, replication never authenticates with a
        password its master refuses, a hard kill in the middle fails over, no write is lost."""
        new = "n3w %#&$'\"/\\ pass"
        c = make_cluster()
        c.bootstrap()
        c.assert_invariants()
        writer = Writer(c)
        writer.start()
        try:
            set_password(c, PASSWORD, [new])
            roll(c, tmp_path)
            m = c.assert_invariants()
            assert as_user(c, m, None, password=new).ping() and as_user(c, m, None, password=PASSWORD).ping()

            set_password(c, new, [PASSWORD])
            # The writer and the harness's clients follow the switch as applications would.
            monkeypatch.setattr("tests.scripts.harness.PASSWORD", new)
            roll(c, tmp_path)
            c.assert_invariants()

            killed = c.master()
            c.kill_node(killed)
            c.vanish(killed)
            c.wait_for("failover after the hard kill", lambda: any(c.role(i) == "master" for i in range(3) if i != killed), timeout=30)
            c.exist(killed)
            c.start_node(killed)
            c.wait_ready(killed)
            c.start_sentinel(killed)
            c.wait_sentinel_ready(killed)
            c.assert_invariants()

            set_password(c, new, [])
            roll(c, tmp_path)
            m = c.assert_invariants()
        finally:
            time.sleep(0.5)
            writer.stop.set()
            writer.join(10)
        for i in range(3):
            for port in (REDIS_PORT, SENTINEL_PORT):
                assert as_user(c, i, None, password=new, port=port).ping()
                with pytest.raises(redis.exceptions.AuthenticationError):
                    as_user(c, i, None, password=PASSWORD, port=port).ping()
        stored = set(as_user(c, m, None, password=new).keys("w*"))
        lost = [k for k in writer.acked if k not in stored]
        print(f"rotation: {len(writer.acked)} acknowledged writes, {len(lost)} lost, {writer.failures} failed attempts, "
              f"longest stall {writer.longest_stall:.2f}s")
        assert lost == []
        logs = logs_of(c)
        for refusal in ("NOAUTH", "WRONGPASS", "Unable to AUTH"):
            assert refusal not in logs
