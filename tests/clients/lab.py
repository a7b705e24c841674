# SPDX-License-Identifier: Apache-2.0
"""Loopback failover lab for the client programs in tests/clients.

Starts 3 redis-server and 3 redis-sentinel processes on 127.0.0.1 (ports 40000-40002 and
40010-40012, password on both, down-after 2000 and failover-timeout 10000 like the chart's
defaults), runs one client program that writes in a loop and prints `gap <start_ms> <end_ms>`
for every pause between two successful writes, SIGKILLs the master N times and reports, per
kill, how long after the kill the client wrote again.

  python3 tests/clients/lab.py --kills 5 -- go run ./tests/clients/go
  python3 tests/clients/lab.py --colocated --kills 5 -- python tests/clients/python/writer.py

Use ports in 40000-40100 (--base-port) so several labs can run side by side.

--acl adds the chart's `app` ACL user (its default rules) to Redis and Sentinel, and the client
logs in as `app`. --colocated also kills the Sentinel with the master's index, as a master-pod kill does when
Sentinels share the Redis pods (`sentinel.colocated: true`). --tls serves TLS only, with a CA
and a server certificate for DNS name `localhost` made here with openssl; Redis and Sentinel
then announce the name `localhost`, so clients verify the name Sentinel reports, as they verify
the pod FQDN in a cluster. Needs redis-server, redis-sentinel, redis-cli (and openssl for --tls)
on PATH. Binds 127.0.0.1 only.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

PASSWORD = "lab-password-1"
APP_USER, APP_PASSWORD = "app", "lab-app-password-2"
# The chart's default rules for the `app` user (values.yaml acl.users.app.rules on Redis,
# templates/configmap.yaml sentinel-users.acl on Sentinel).
APP_RULES_REDIS = "~* &* +@all -@admin -@dangerous"
APP_RULES_SENTINEL = ("-@all +@connection -@admin -@dangerous +role +command "
                      "+sentinel|get-master-addr-by-name +sentinel|master +sentinel|masters "
                      "+sentinel|myid +sentinel|replicas +sentinel|slaves +sentinel|sentinels "
                      "+subscribe +psubscribe +unsubscribe +punsubscribe &*")
MASTER_SET = "mymaster"
REDIS_PORTS = [40000, 40001, 40002]  # moved by --base-port
SENTINEL_PORTS = [40010, 40011, 40012]
HOST = "127.0.0.1"


class Lab:
    def __init__(self, root: Path, tls: bool, acl: bool = False):
        self.root = root
        self.tls = tls
        self.acl = acl
        self.announce = "localhost" if tls else HOST
        self.procs: dict[str, subprocess.Popen] = {}

    # -- process management -------------------------------------------------
    def tls_lines(self, client_side: bool) -> list[str]:
        if not self.tls:
            return []
        t = self.root / "tls"
        lines = [
            f"tls-cert-file {t}/server.crt",
            f"tls-key-file {t}/server.key",
            f"tls-ca-cert-file {t}/ca.crt",
            "tls-auth-clients no",
        ]
        if client_side:
            lines.append("tls-replication yes")
        return lines

    def make_tls(self) -> None:
        t = self.root / "tls"
        t.mkdir()
        run = lambda *a: subprocess.run(a, cwd=t, check=True, capture_output=True)  # noqa: E731
        run("openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
            "-keyout", "ca.key", "-out", "ca.crt", "-subj", "/CN=lab-ca")
        run("openssl", "req", "-newkey", "rsa:2048", "-nodes", "-keyout", "server.key",
            "-out", "server.csr", "-subj", "/CN=localhost")
        (t / "ext.cnf").write_text("subjectAltName=DNS:localhost\nextendedKeyUsage=serverAuth,clientAuth\n")
        run("openssl", "x509", "-req", "-in", "server.csr", "-CA", "ca.crt", "-CAkey", "ca.key",
            "-CAcreateserial", "-days", "2", "-out", "server.crt", "-extfile", "ext.cnf")

    def port_lines(self, port: int) -> list[str]:
        if self.tls:
            return ["port 0", f"tls-port {port}"]
        return [f"port {port}"]

    def write_redis_conf(self, i: int, replicaof: int | None) -> Path:
        d = self.root / f"redis-{i}"
        d.mkdir(exist_ok=True)
        lines = [
            f"bind {HOST}",
            *self.port_lines(REDIS_PORTS[i]),
            f"dir {d}",
            "save \"\"",
            "appendonly no",
            f"requirepass {PASSWORD}",
            f"masterauth {PASSWORD}",
            f"replica-announce-ip {self.announce}",
            *self.tls_lines(client_side=True),
        ]
        if self.acl:
            lines.append(f"user {APP_USER} on >{APP_PASSWORD} {APP_RULES_REDIS}")
        if replicaof is not None:
            lines.append(f"replicaof {self.announce} {replicaof}")
        conf = d / "redis.conf"
        conf.write_text("\n".join(lines) + "\n")
        return conf

    def write_sentinel_conf(self, i: int) -> Path:
        d = self.root / f"sentinel-{i}"
        d.mkdir(exist_ok=True)
        lines = [
            f"bind {HOST}",
            *self.port_lines(SENTINEL_PORTS[i]),
            f"dir {d}",
            "sentinel resolve-hostnames yes",
            "sentinel announce-hostnames yes",
            f"sentinel announce-ip {self.announce}",
            f"requirepass {PASSWORD}",
            f"sentinel sentinel-pass {PASSWORD}",
            *self.tls_lines(client_side=True),
            *([f"user {APP_USER} on >{APP_PASSWORD} {APP_RULES_SENTINEL}"] if self.acl else []),
            f"sentinel monitor {MASTER_SET} {self.announce} {REDIS_PORTS[0]} 2",
            f"sentinel auth-pass {MASTER_SET} {PASSWORD}",
            f"sentinel down-after-milliseconds {MASTER_SET} 2000",
            f"sentinel failover-timeout {MASTER_SET} 10000",
            f"sentinel parallel-syncs {MASTER_SET} 1",
        ]
        conf = d / "sentinel.conf"
        conf.write_text("\n".join(lines) + "\n")
        return conf

    def spawn(self, name: str, argv: list[str]) -> None:
        log = open(self.root / f"{name}.log", "ab")
        self.procs[name] = subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT)

    def start(self) -> None:
        if self.tls:
            self.make_tls()
        for i in range(3):
            conf = self.write_redis_conf(i, None if i == 0 else REDIS_PORTS[0])
            self.spawn(f"redis-{i}", ["redis-server", str(conf)])
        for i in range(3):
            self.spawn(f"sentinel-{i}", ["redis-sentinel", str(self.write_sentinel_conf(i))])
        self.wait_healthy(60)

    def restart(self, name: str, master: int) -> None:
        """Start a killed process again; a Redis comes back as a replica of `master`, as the
        chart's boot step makes a restarted pod follow the master the Sentinels name."""
        kind, i = name.rsplit("-", 1)
        if kind == "redis":
            conf = self.write_redis_conf(int(i), master)
            self.spawn(name, ["redis-server", str(conf)])
        else:
            self.spawn(name, ["redis-sentinel", str(self.root / name / "sentinel.conf")])

    def stop(self) -> None:
        for p in self.procs.values():
            if p.poll() is None:
                p.terminate()
        for p in self.procs.values():
            try:
                p.wait(5)
            except subprocess.TimeoutExpired:
                p.kill()

    # -- queries --------------------------------------------------------------
    def cli(self, port: int, *args: str, timeout: float = 2) -> str:
        argv = ["redis-cli", "-h", self.announce, "-p", str(port)]
        if self.tls:
            argv += ["--tls", "--cacert", str(self.root / "tls/ca.crt")]
        env = dict(os.environ, REDISCLI_AUTH=PASSWORD)
        r = subprocess.run([*argv, *args], capture_output=True, text=True, timeout=timeout, env=env)
        return r.stdout.strip()

    def master_port(self, sentinel_port: int) -> int | None:
        try:
            out = self.cli(sentinel_port, "SENTINEL", "GET-MASTER-ADDR-BY-NAME", MASTER_SET).split()
            return int(out[1]) if len(out) == 2 else None
        except (subprocess.TimeoutExpired, ValueError):
            return None

    def healthy(self) -> bool:
        masters = {self.master_port(p) for p in SENTINEL_PORTS}
        if len(masters) != 1 or None in masters:
            return False
        master = masters.pop()
        for p in SENTINEL_PORTS:
            info = self.cli(p, "SENTINEL", "MASTER", MASTER_SET).split("\n")
            fields = dict(zip(info[::2], info[1::2]))
            if fields.get("num-slaves") != "2" or fields.get("num-other-sentinels") != "2":
                return False
            if fields.get("flags") != "master":
                return False
            replicas = self.cli(p, "SENTINEL", "REPLICAS", MASTER_SET)
            if "s_down" in replicas or replicas.count("master-link-status\nok") != 2:
                return False
        return "role:master" in self.cli(master, "INFO", "replication")

    def wait_healthy(self, timeout: float) -> None:
        deadline = time.time() + timeout
        while time.time() < deadline:
            if self.healthy():
                return
            time.sleep(0.5)
        raise SystemExit(f"lab not healthy after {timeout}s; logs in {self.root}")


def client_env(lab: Lab) -> dict[str, str]:
    env = dict(os.environ)
    env.update({
        "SENTINELS": ",".join(f"{lab.announce}:{p}" for p in SENTINEL_PORTS),
        "MASTER_SET": MASTER_SET,
        "REDIS_PASSWORD": APP_PASSWORD if lab.acl else PASSWORD,
    })
    if lab.acl:
        env["REDIS_USERNAME"] = APP_USER
    if lab.tls:
        env["TLS_CA_FILE"] = str(lab.root / "tls/ca.crt")
    return env


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--kills", type=int, default=3)
    ap.add_argument("--colocated", action="store_true", help="kill the master's Sentinel too")
    ap.add_argument("--tls", action="store_true", help="TLS-only listeners, name `localhost`")
    ap.add_argument("--acl", action="store_true", help="client logs in as the chart's `app` ACL user")
    ap.add_argument("--settle", type=float, default=4.0, help="seconds of writes before each kill")
    ap.add_argument("--keep", action="store_true", help="keep the lab directory")
    ap.add_argument("--json", help="write the figures to this file")
    ap.add_argument("--base-port", type=int, default=40000,
                    help="Redis on base..base+2, Sentinel on base+10..base+12 (labs side by side)")
    ap.add_argument("client", nargs=argparse.REMAINDER, help="-- command of the client program")
    a = ap.parse_args()
    REDIS_PORTS[:] = [a.base_port + i for i in range(3)]
    SENTINEL_PORTS[:] = [a.base_port + 10 + i for i in range(3)]
    cmd = a.client[1:] if a.client[:1] == ["--"] else a.client
    if not cmd:
        ap.error("give the client command after --")
    for tool in ("redis-server", "redis-sentinel", "redis-cli") + (("openssl",) if a.tls else ()):
        if not shutil.which(tool):
            raise SystemExit(f"{tool} not on PATH")

    root = Path(tempfile.mkdtemp(prefix="redisha-clients-lab-"))
    lab = Lab(root, a.tls, a.acl)
    client = None
    kills: list[dict] = []
    acl_denials: dict[str, int] = {}
    try:
        lab.start()
        out = open(root / "client.out", "w")
        client = subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT, env=client_env(lab))
        for n in range(a.kills):
            time.sleep(a.settle)
            if client.poll() is not None:
                raise SystemExit(f"client exited early: {(root / 'client.out').read_text()[-2000:]}")
            master = lab.master_port(SENTINEL_PORTS[0]) or lab.master_port(SENTINEL_PORTS[1])
            idx = REDIS_PORTS.index(master)
            victims = [f"redis-{idx}"] + ([f"sentinel-{idx}"] if a.colocated else [])
            t_kill = time.time() * 1000
            for v in victims:
                lab.procs[v].send_signal(signal.SIGKILL)
            for v in victims:
                lab.procs[v].wait()
            # Wait for the survivors to agree on a new master, then bring the victims back (as a
            # container restart would) and wait for the set to heal before the next kill.
            deadline = time.time() + 90
            survivors = [p for i, p in enumerate(SENTINEL_PORTS) if not (a.colocated and i == idx)]
            while time.time() < deadline:
                if all(lab.master_port(p) not in (None, master) for p in survivors):
                    break
                time.sleep(0.2)
            t_switched = time.time() * 1000
            new_master = lab.master_port(survivors[0])
            for v in victims:
                lab.restart(v, new_master)
            lab.wait_healthy(90)
            kills.append({"n": n, "killed": victims, "t_kill_ms": t_kill, "t_all_switched_ms": t_switched})
        time.sleep(a.settle)
        if a.acl:
            # Commands the clients sent that the app user may not run (ACL LOG entries).
            acl_denials = {f"{kind}-{i}": lab.cli(port, "ACL", "LOG").count("reason")
                           for kind, ports in (("redis", REDIS_PORTS), ("sentinel", SENTINEL_PORTS))
                           for i, port in enumerate(ports)}
    finally:
        if client is not None and client.poll() is None:
            client.send_signal(signal.SIGTERM)
            try:
                client.wait(10)
            except subprocess.TimeoutExpired:
                client.kill()
        lab.stop()

    gaps = []
    for line in (root / "client.out").read_text().splitlines():
        parts = line.split()
        if len(parts) == 3 and parts[0] == "gap":
            gaps.append((float(parts[1]), float(parts[2])))
    for k in kills:
        # The first pause that ends after the kill and starts within 1 s of it (a write can still
        # succeed in the few ms the kernel takes to tear the killed process down).
        covering = [g for g in gaps if g[0] <= k["t_kill_ms"] + 1000 and g[1] >= k["t_kill_ms"]]
        if covering:
            start, end = covering[0]
            k["resumed_after_kill_s"] = round((end - k["t_kill_ms"]) / 1000, 3)
            k["write_stall_s"] = round((end - start) / 1000, 3)
        k["sentinels_switched_after_kill_s"] = round((k["t_all_switched_ms"] - k["t_kill_ms"]) / 1000, 3)
    resumed = [k["resumed_after_kill_s"] for k in kills if "resumed_after_kill_s" in k]
    summary = {
        "client": " ".join(cmd),
        "colocated": a.colocated,
        "tls": a.tls,
        "acl": a.acl,
        **({"acl_log_entries": acl_denials} if a.acl else {}),
        "kills": kills,
        "resumed_after_kill_s": {
            "n": len(resumed),
            "min": min(resumed, default=None),
            "median": statistics.median(resumed) if resumed else None,
            "max": max(resumed, default=None),
        },
    }
    print(json.dumps(summary, indent=2))
    if a.json:
        Path(a.json).write_text(json.dumps(summary, indent=2) + "\n")
        shutil.copy(root / "client.out", a.json + ".client.log")
    if a.keep:
        print(f"lab directory: {root}", file=sys.stderr)
    else:
        shutil.rmtree(root, ignore_errors=True)
    return 0 if len(resumed) == len(kills) else 1


if __name__ == "__main__":
    sys.exit(main())
