# SPDX-License-Identifier: Apache-2.0
"""Runs the chart's scripts against real redis-server and redis-sentinel processes on loopback.

Each test gets its own "cluster": node i listens on 127.<net>.<i>.1 and is known by the name
node-<i>.<net>.test. Names resolve through a per-test hosts file that every process sees
through a private mount namespace (`unshare --map-root-user --mount`, with nsswitch limited to
files), so a test decides which pods "exist" (resolve) the way a headless Service does, and no
DNS query leaves the machine.
"""
from __future__ import annotations

import fcntl
import itertools
import os
import shlex
import shutil
import signal
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path

import pytest
import redis

from tests.helm import CHART, by_kind_name, render_chart
from tests.polling import wait_for
from tests.tls import make_certificates

SCRIPTS = CHART / "files" / "scripts"
REDIS_PORT = 16379
SENTINEL_PORT = 36379
BOOT_PORT = 16390
PLAIN_REDIS_PORT, PLAIN_SENTINEL_PORT = 16380, 36380  # tls.plainPorts
PASSWORD = "p%a#s&s$w'o\"r/d\\ x"
SOURCE_PASSWORD = "s0urce 'pa\"ss"
# docs/design.md rule 10: the scripts may use the Redis binaries and POSIX utilities, nothing else. They run
# with a PATH holding only these, so a dependency on anything else fails the tests.
# The backup scripts also check files with redis-check-rdb and use cp and wc.
ALLOWED_TOOLS = ("redis-server", "redis-sentinel", "redis-cli", "redis-check-rdb", "sh", "cat", "cp", "date", "grep", "head", "kill", "mkdir", "mv", "rm", "sed", "sleep", "touch", "tr", "wc")
ACL_ROLES = ("app", "replication", "sentinel", "sentinelPeer", "exporter", "probe", "backup")
# engine: valkey runs Valkey 8.1.1 under the redis-* names the scripts call; ci/valkey.sh (run by
# ci/bootstrap.sh) installs it here. Like Debian's valkey-tools (and the e2e image), it has no
# redis-check-rdb, only valkey-check-rdb.
VALKEY_BIN = Path(os.environ.get("REDIS_HA_CACHE") or Path.home() / ".cache" / "redis-ha") / "valkey" / "bin"
ENGINES = ("redis", "valkey")
# The representative script tests that also run on Valkey take this mark and an `engine` argument.
BOTH_ENGINES = pytest.mark.parametrize("engine", ENGINES)
NET_LOCKS = Path(os.environ.get("TMPDIR", "/tmp")) / "redis-ha-harness-nets"


def claim_net() -> tuple[int, int]:
    """A loopback net (127.<net>.x.1) no other test process uses now: each net is claimed by an
    exclusive lock on a file, held until the cluster is released (pytest-xdist workers run at
    once, and two clusters on one net would join each other's replication and Sentinels)."""
    NET_LOCKS.mkdir(exist_ok=True)
    start = (os.getpid() * 7) % 200
    for n in itertools.islice(itertools.cycle(range(20, 250)), start, start + 230):
        fd = os.open(NET_LOCKS / f"{n}.lock", os.O_CREAT | os.O_RDWR, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            continue
        return n, fd
    raise RuntimeError(f"every loopback net of {NET_LOCKS} is in use")


def acl_password(role: str) -> str:
    """The password of an ACL role in script tests: distinct per role, special characters kept."""
    return f"{role}-{PASSWORD}"


def chart_configs(values: dict) -> dict[str, str]:
    """redis.conf and sentinel.conf exactly as the chart renders them."""
    return by_kind_name(render_chart(values), "ConfigMap", "redis-ha-config")["data"]


@dataclass
class Proc:
    name: str
    popen: subprocess.Popen
    log: Path

    def alive(self) -> bool:
        return self.popen.poll() is None

    def kill(self, sig=signal.SIGKILL) -> None:
        """Signals the whole process group, also when the script itself has ended: what it
        started in the background (the data recorder) outlives a redis-server that exited."""
        try:
            os.killpg(self.popen.pid, sig)
        except ProcessLookupError:
            pass
        if sig == signal.SIGKILL or self.alive():
            self.popen.wait(timeout=10)

    def output(self) -> str:
        return self.log.read_text(errors="replace")


@dataclass
class Cluster:
    """Redis node i is `node-<i>`; with `colocated` its Sentinel shares the node's address and
    name (a sentinel container in the Redis pod), else Sentinel i is a host of its own,
    `sentinel-<i>` (a Sentinel pod). `engine`: the servers are Redis (the host's) or Valkey."""
    tmp: Path
    replicas: int = 3
    values: dict = field(default_factory=dict)
    auth: bool = True
    colocated: bool = True
    sentinels: int = 3
    engine: str = "redis"
    procs: dict = field(default_factory=dict)
    # Migration (values migration.*): the settings the pods read from the migration ConfigMap,
    # e.g. {"enabled": True}; the source is an external redis-server started by start_source().
    migration: dict | None = None

    def __post_init__(self):
        self.net, self._net_lock = claim_net()
        if self.colocated:
            self.sentinels = self.replicas
        self.config_dir = self.tmp / "config"
        self.config_dir.mkdir(parents=True, exist_ok=True)
        values = {"sentinel": {"downAfterMilliseconds": 1000, "failoverTimeout": 5000}, **self.values}
        # TLS (values tls.enabled): a CA and one DNS-only certificate naming every node, like the
        # chart's Certificate; the configs' /tls/ paths point at this test's copy.
        self.tls_dir = self.tmp / "tls" if values.get("tls", {}).get("enabled") else None
        if self.tls_dir:
            make_certificates(self.tls_dir, [self.host(i) for i in range(self.replicas)] + [self.sentinel_host(i) for i in range(self.sentinels) if not self.colocated])
            values = {**values, "tls": {"existingSecret": "harness-tls", **values["tls"]}}
        for name, text in chart_configs(values).items():
            (self.config_dir / name).write_text(text)
        if self.tls_dir:
            for conf in self.config_dir.iterdir():
                conf.write_text(conf.read_text().replace(" /tls/", f" {self.tls_dir}/"))
        self.password_file = self.tmp / "password"
        self.password_file.write_text(PASSWORD)
        self.password_file.chmod(0o400)
        # Passwords accepted besides PASSWORD (rotation); rewrite the file and restart to change.
        self.accepted_file = self.tmp / "accepted-passwords"
        # ACL users (values acl.enabled): one password file per role, as the chart mounts them.
        self.acl_dir = self.tmp / "acl" if values.get("acl", {}).get("enabled") else None
        if self.acl_dir:
            self.acl_dir.mkdir(exist_ok=True)
            for role in ACL_ROLES:
                (self.acl_dir / role).write_text(acl_password(role))
        (self.tmp / "nsswitch.conf").write_text("hosts: files\n")
        self.bin = self.tmp / "bin"
        self.bin.mkdir(exist_ok=True)
        for tool in ALLOWED_TOOLS:
            if self.engine == "valkey" and tool.startswith("redis-"):
                name = "valkey-check-rdb" if tool == "redis-check-rdb" else tool
                found = VALKEY_BIN / name
                assert found.exists(), f"{found} is missing; `bash ci/valkey.sh` (part of ci/bootstrap.sh) installs Valkey for the script tests"
                (self.bin / name).symlink_to(found)
                continue
            found = shutil.which(tool)
            assert found, f"{tool} is not installed"
            (self.bin / tool).symlink_to(found)
        self.hosts_file = self.tmp / "hosts"
        self.source_running = False
        if self.migration is not None:
            self.set_migration(**self.migration)
        self.existing: set[int] = set()
        self.existing_sentinels: set[int] = set()
        self.write_hosts()

    # ---- naming -------------------------------------------------------------------------
    def host(self, i: int) -> str:
        return f"node-{i}.n{self.net}.test"

    def ip(self, i: int) -> str:
        return f"127.{self.net}.{i}.1"

    def sentinel_host(self, i: int) -> str:
        return self.host(i) if self.colocated else f"sentinel-{i}.n{self.net}.test"

    def sentinel_ip(self, i: int) -> str:
        return self.ip(i) if self.colocated else f"127.{self.net}.{100 + i}.1"

    def write_hosts(self) -> None:
        """Rewrite in place: processes see the bind-mounted inode, not a new file."""
        lines = ["127.0.0.1 localhost"] + [f"{self.ip(i)} {self.host(i)}" for i in sorted(self.existing)]
        if not self.colocated:
            lines += [f"{self.sentinel_ip(i)} {self.sentinel_host(i)}" for i in sorted(self.existing_sentinels)]
        if self.source_running:
            lines.append(f"{self.source_ip} {self.source_host}")
        with open(self.hosts_file, "r+" if self.hosts_file.exists() else "w") as fh:
            fh.seek(0)
            fh.truncate()
            fh.write("\n".join(lines) + "\n")

    # ---- migration source ------------------------------------------------------------------
    @property
    def source_host(self) -> str:
        return f"source.n{self.net}.test"

    @property
    def source_ip(self) -> str:
        return f"127.{self.net}.250.1"

    def set_migration(self, enabled: bool = True, username: str = "", tls: bool = False) -> None:
        """Writes the migration settings as the chart's ConfigMap holds them (one file per key)
        and the source's password file; rewritten in place, as the kubelet updates a mounted
        ConfigMap."""
        self.migration_dir = self.tmp / "migration"
        self.migration_dir.mkdir(exist_ok=True)
        self.source_tls = tls
        settings = {"enabled": "true" if enabled else "false", "host": self.source_host, "port": str(REDIS_PORT), "username": username, "tls": "true" if tls else "false"}
        for key, value in settings.items():
            (self.migration_dir / key).write_text(value)
        self.source_password_file = self.tmp / "source-password"
        if not self.source_password_file.exists():
            self.source_password_file.write_text(SOURCE_PASSWORD)
            self.source_password_file.chmod(0o400)

    def start_source(self) -> Proc:
        """The running Redis a release migrates from: a plain redis-server (not started by the
        chart's scripts) with a password of its own, known by name to the nodes."""
        data = self.tmp / "source-data"
        data.mkdir(exist_ok=True)
        conf = data / "source.conf"
        quoted = SOURCE_PASSWORD.replace("\\", "\\\\").replace('"', '\\"')
        conf.write_text(f'bind {self.source_ip}\nport {REDIS_PORT}\ndir {data}\nsave ""\nappendonly no\nprotected-mode no\nrequirepass "{quoted}"\n')
        if self.source_tls:
            # TLS only, client certificates required: the nodes present their own (the CA is shared).
            with open(conf, "a") as fh:
                fh.write(f"port 0\ntls-port {REDIS_PORT}\ntls-cert-file {self.tls_dir}/tls.crt\ntls-key-file {self.tls_dir}/tls.key\n"
                         f"tls-ca-cert-file {self.tls_dir}/ca.crt\ntls-auth-clients yes\n")
        self.source_running = True
        self.write_hosts()
        log = self.tmp / "source.log"
        popen = subprocess.Popen([shutil.which("redis-server"), str(conf)], stdout=open(log, "ab"), stderr=subprocess.STDOUT, start_new_session=True)
        proc = Proc("source", popen, log)
        self.procs["source"] = proc
        self.wait_for("source up", lambda: self.source().ping())
        return proc

    def source(self, **kw) -> redis.Redis:
        kw = {**(self.tls_kwargs() if self.source_tls else {}), **kw}
        return redis.Redis(host=self.source_ip, port=REDIS_PORT, password=SOURCE_PASSWORD, socket_timeout=3, socket_connect_timeout=2, **kw)

    def exist(self, *ordinals: int) -> None:
        self.existing.update(ordinals)
        self.write_hosts()

    def vanish(self, *ordinals: int) -> None:
        self.existing.difference_update(ordinals)
        self.write_hosts()

    # ---- processes ----------------------------------------------------------------------
    def env(self, i: int, sentinel_pod: bool = False, **extra) -> dict:
        """The environment of Redis node i, or with `sentinel_pod` of Sentinel pod i."""
        data = self.tmp / (f"sentinel-data-{i}" if sentinel_pod else f"data-{i}")
        run = self.tmp / (f"sentinel-run-{i}" if sentinel_pod else f"run-{i}")
        data.mkdir(exist_ok=True)
        run.mkdir(exist_ok=True)
        env = {
            "PATH": str(self.bin),
            "SCRIPTS_DIR": str(SCRIPTS),
            "REPLICAS": str(self.replicas),
            "POD_ORDINAL": str(i),
            "NODE_HOST_TEMPLATE": f"node-%s.n{self.net}.test",
            "SENTINELS": str(self.sentinels),
            "SENTINEL_HOST_TEMPLATE": f"node-%s.n{self.net}.test" if self.colocated else f"sentinel-%s.n{self.net}.test",
            "BOOT_PORT": str(BOOT_PORT),
            "REDIS_PORT": str(REDIS_PORT),
            "SENTINEL_PORT": str(SENTINEL_PORT),
            "MASTER_SET": "mymaster",
            "QUORUM": str(self.sentinels // 2 + 1),
            "SENTINEL_ID_PREFIX": "ab" * 16,
            "PASSWORD_FILE": str(self.password_file) if self.auth else "",
            "ACCEPTED_PASSWORDS_FILE": str(self.accepted_file) if self.auth else "",
            "ACL_DIR": str(self.acl_dir) if self.acl_dir else "",
            "CONFIG_DIR": str(self.config_dir),
            "RUN_DIR": str(run),
            "DATA_DIR": str(data),
            "LOCAL_HOST": self.sentinel_ip(i) if sentinel_pod else self.ip(i),
            "BIND_ADDRESS": self.sentinel_ip(i) if sentinel_pod else self.ip(i),
            "BOOT_INTERVAL": "1",
            "CLI_TIMEOUT": "2",
            "PRESTOP_TIMEOUT": "20",
            # roleServices.enabled (the default): the redis container tells its role label here.
            "ROLE_FILE": str(run / "role"),
        }
        if self.migration is not None:
            env.update(MIGRATION_DIR=str(self.migration_dir), MIGRATION_PASSWORD_FILE=str(self.source_password_file))
        if self.tls_dir:
            env.update(TLS_ENABLED="true", TLS_CERT_FILE=str(self.tls_dir / "tls.crt"), TLS_KEY_FILE=str(self.tls_dir / "tls.key"), TLS_CA_FILE=str(self.tls_dir / "ca.crt"))
            if self.values["tls"].get("plainPorts", {}).get("enabled"):
                env.update(PLAIN_REDIS_PORT=str(PLAIN_REDIS_PORT), PLAIN_SENTINEL_PORT=str(PLAIN_SENTINEL_PORT))
        env.update({k: str(v) for k, v in extra.items()})
        return env

    def _wrap(self, argv: list[str]) -> list[str]:
        mounts = f"mount --bind {shlex.quote(str(self.hosts_file))} /etc/hosts && mount --bind {shlex.quote(str(self.tmp / 'nsswitch.conf'))} /etc/nsswitch.conf && exec \"$@\""
        wrapper = [shutil.which("unshare"), "--map-root-user", "--mount", shutil.which("sh"), "-c", mounts.replace("mount ", shutil.which("mount") + " "), "sh"]
        return wrapper + [str(self.bin / "sh"), *argv[1:]] if argv[0] == "sh" else wrapper + argv

    def start(self, name: str, i: int, script: str, *args: str, sentinel_pod: bool = False, **extra) -> Proc:
        log = self.tmp / f"{name}.log"
        fh = open(log, "ab")
        popen = subprocess.Popen(self._wrap(["sh", str(SCRIPTS / script), *args]), env=self.env(i, sentinel_pod, **extra), stdout=fh, stderr=subprocess.STDOUT, start_new_session=True)
        proc = Proc(name, popen, log)
        self.procs[name] = proc
        return proc

    def run(self, i: int, script: str, *args: str, timeout: float = 60, sentinel_pod: bool = False, **extra) -> subprocess.CompletedProcess:
        """Run a script to completion (hooks, probes) in node i's environment, or Sentinel pod i's."""
        return subprocess.run(self._wrap(["sh", str(SCRIPTS / script), *args]), env=self.env(i, sentinel_pod, **extra), capture_output=True, text=True, timeout=timeout)

    def run_sentinel(self, i: int, script: str, *args: str, **kw) -> subprocess.CompletedProcess:
        """Run a script in the environment of Sentinel i (its own pod, or node i when co-located)."""
        return self.run(i, script, *args, sentinel_pod=not self.colocated, **kw)

    def start_node(self, i: int, **extra) -> None:
        self.exist(i)
        self.start(f"redis-{i}", i, "redis-start.sh", **extra)

    def start_sentinel(self, i: int) -> None:
        if not self.colocated:
            self.existing_sentinels.add(i)
            self.write_hosts()
        self.start(f"sentinel-{i}", i, "sentinel-start.sh", sentinel_pod=not self.colocated)

    def kill_node(self, i: int) -> None:
        """Kills Redis node i and, when co-located, its Sentinel (the whole pod)."""
        for name in (f"redis-{i}", f"sentinel-{i}") if self.colocated else (f"redis-{i}",):
            if name in self.procs:
                self.procs.pop(name).kill()

    def kill_sentinel(self, i: int) -> None:
        if f"sentinel-{i}" in self.procs:
            self.procs.pop(f"sentinel-{i}").kill()

    def stop_all(self) -> None:
        for proc in list(self.procs.values()):
            proc.kill()
        self.procs.clear()

    def release(self) -> None:
        """Stops every process and frees the loopback net for other clusters."""
        self.stop_all()
        if self._net_lock is not None:
            os.close(self._net_lock)
            self._net_lock = None

    # ---- clients ------------------------------------------------------------------------
    def tls_kwargs(self) -> dict:
        """redis-py TLS options: verify against the CA and present the nodes' certificate. The
        test process dials IPs (names resolve only inside the nodes' mount namespace), so host
        names are checked separately (tests/scripts/test_tls.py)."""
        if not self.tls_dir:
            return {}
        return {"ssl": True, "ssl_ca_certs": str(self.tls_dir / "ca.crt"), "ssl_certfile": str(self.tls_dir / "tls.crt"),
                "ssl_keyfile": str(self.tls_dir / "tls.key"), "ssl_cert_reqs": "required", "ssl_check_hostname": False}

    def redis(self, i: int, **kw) -> redis.Redis:
        kw = {**self.tls_kwargs(), **kw}
        return redis.Redis(host=self.ip(i), port=REDIS_PORT, password=PASSWORD if self.auth else None, socket_timeout=3, socket_connect_timeout=2, **kw)

    def sentinel(self, i: int) -> redis.Redis:
        return redis.Redis(host=self.sentinel_ip(i), port=SENTINEL_PORT, password=PASSWORD if self.auth else None, socket_timeout=3, socket_connect_timeout=2, decode_responses=True, **self.tls_kwargs())

    def sentinel_list(self, i: int, sub: str) -> list[dict]:
        """SENTINEL REPLICAS|SENTINELS as dicts, whatever form the redis-py version returns."""
        out = []
        for entry in self.sentinel(i).execute_command("SENTINEL", sub, "mymaster"):
            out.append(entry if isinstance(entry, dict) else dict(zip(entry[::2], entry[1::2])))
        return out

    def sentinels_read_priority(self, i: int, priority: int) -> bool:
        """Every Sentinel lists node i as a replica with this replica-priority (Sentinel reads a
        replica's priority from the INFO it sends it every 10 seconds)."""
        return all(int(r["slave-priority"]) == priority for s in range(self.sentinels)
                   for r in self.sentinel_list(s, "REPLICAS") if r["name"].startswith(self.host(i)))

    def role(self, i: int) -> str | None:
        try:
            return self.redis(i).role()[0].decode()
        except redis.RedisError:
            return None

    def ordinal_of(self, host: str) -> int:
        return next(i for i in range(self.replicas) if self.host(i) == host)

    # ---- waiting ------------------------------------------------------------------------
    def wait_for(self, what: str, check, timeout: float = 30.0, interval: float = 0.2):
        def logs():
            return "\n" + "\n".join(f"--- {p.name}\n{p.output()[-3000:]}" for p in self.procs.values())

        return wait_for(what, check, timeout, interval, (redis.RedisError, OSError), logs)

    def wait_ready(self, i: int, timeout: float = 30.0) -> None:
        self.wait_for(f"node {i} ready", lambda: self.run(i, "probe.sh", "redis-readiness").returncode == 0, timeout)

    def wait_sentinel_ready(self, i: int, timeout: float = 30.0) -> None:
        self.wait_for(f"sentinel {i} ready", lambda: self.run_sentinel(i, "probe.sh", "sentinel-readiness").returncode == 0, timeout)

    def start_nodes(self, order=None, gap: float = 0.0) -> None:
        """Starts every Redis node (in `order`, `gap` seconds apart) and waits until each is ready."""
        for i in range(self.replicas) if order is None else order:
            self.start_node(i)
            time.sleep(gap)
        for i in range(self.replicas):
            self.wait_ready(i, 60)

    def stop_every_pod(self) -> None:
        """Every node and Sentinel stops and their names vanish: every pod deleted at once."""
        self.stop_all()
        self.vanish(*range(self.replicas))

    def bootstrap(self) -> None:
        """Start the set the way the StatefulSets do (podManagementPolicy Parallel): every Redis
        node at once, then every Sentinel."""
        self.start_nodes()
        if self.replicas > 1:
            for i in range(self.sentinels):
                self.start_sentinel(i)
            for i in range(self.sentinels):
                self.wait_sentinel_ready(i)

    def start_alone(self, i: int) -> None:
        """Starts node i as the only node of a set whose peers never come: the documented
        override for pods gone for good (the boot.force-master file)."""
        run = self.tmp / f"run-{i}"
        run.mkdir(exist_ok=True)
        (run / "boot.force-master").touch()
        self.start_node(i)

    def role_label(self, i: int) -> str:
        """The role label node i's redis container asks for (docs/design.md, "Role Services"): master, replica or "" for none."""
        try:
            fields = (self.tmp / f"run-{i}" / "role").read_text().split()
        except FileNotFoundError:
            return ""
        return fields[1] if len(fields) > 1 else ""

    def master(self) -> int:
        masters = [i for i in range(self.replicas) if self.role(i) == "master"]
        assert len(masters) == 1, f"expected exactly one master, got {masters}"
        return masters[0]

    def assert_invariants(self, timeout: float = 30.0) -> int:
        """The invariants of docs/design.md: one master, every Sentinel agrees, CKQUORUM, no ghosts, links up, role labels true."""
        n = self.replicas

        def converged():
            masters = [i for i in range(n) if self.role(i) == "master"]
            if len(masters) != 1:
                return False  # a failover in progress; it must settle within the timeout
            m = masters[0]
            for i in range(self.sentinels):
                s = self.sentinel(i)
                addr = s.execute_command("SENTINEL", "GET-MASTER-ADDR-BY-NAME", "mymaster")
                if not addr or addr[0] != self.host(m):
                    return False
                s.execute_command("SENTINEL", "CKQUORUM", "mymaster")
                if len(self.sentinel_list(i, "SENTINELS")) != self.sentinels - 1:
                    return False
                if len(self.sentinel_list(i, "REPLICAS")) != n - 1:
                    return False
            for i in range(n):
                if i != m and self.redis(i).info("replication").get("master_link_status") != "up":
                    return False
            # The role Services select exactly the master, and the replicas.
            if [self.role_label(i) for i in range(n)] != ["master" if i == m else "replica" for i in range(n)]:
                return False
            return m + 1

        return self.wait_for("cluster invariants", converged, timeout) - 1
