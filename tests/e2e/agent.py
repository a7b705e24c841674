# SPDX-License-Identifier: Apache-2.0
"""Runs inside the e2e client pod (python3 + redis-py), where Sentinel names resolve.

    agent.py state                      JSON: role of every Redis pod, every Sentinel's view
    agent.py write PREFIX SECONDS [HOST] JSON lines: one per write, through a Sentinel client (until /tmp/PREFIX.stop),
                                        or with HOST through that host alone (the -master Service), no Sentinel
    agent.py keys PREFIX                JSON: keys with PREFIX on the current master
    agent.py count PREFIX               JSON: how many keys with PREFIX the current master holds
    agent.py values PREFIX              JSON: {key: value} of the keys with PREFIX on the current master
    agent.py cmd TARGET PORT ARGS...    JSON: one command's reply (or error); TARGET is a Redis ordinal
                                        ("0"), a Sentinel ordinal ("s0") or a host name
    agent.py fill POD PREFIX FROM TO V  JSON: count of PREFIX:i = V written on a pod
    agent.py bulk PREFIX COUNT BYTES    JSON: COUNT values of BYTES each written through Sentinel, then WAIT
Environment: REPLICAS, HOST_TEMPLATE (printf with %d), SENTINELS, SENTINEL_HOST_TEMPLATE (printf
with %d) or SENTINEL_HOSTS (comma-separated, replaces both), REDIS_PORT, SENTINEL_PORT, MASTER_SET,
PASSWORD_FILE, SENTINEL_AUTH (0: Sentinels take no password), APP_USER and APP_PASSWORD_FILE,
TLS_CA_FILE, TLS_CERT_FILE and TLS_KEY_FILE.

The writer is configured as the chart's docs recommend for Sentinel-aware clients: every
Sentinel pod's FQDN, connect and socket timeouts of 0.5 s, and no client-side backoff (one attempt
per command, the next write 100 ms after a failure), so the outage it measures is the server's.
"""
import json
import os
import sys
import time

import redis
from redis.backoff import NoBackoff
from redis.retry import Retry
from redis.sentinel import Sentinel

N = int(os.environ["REPLICAS"])
HOSTS = [os.environ["HOST_TEMPLATE"] % i for i in range(N)]
S = int(os.environ.get("SENTINELS", N if N > 1 else 0))
SENTINEL_HOSTS = (os.environ["SENTINEL_HOSTS"].split(",") if os.environ.get("SENTINEL_HOSTS")
                  else [os.environ.get("SENTINEL_HOST_TEMPLATE", os.environ["HOST_TEMPLATE"]) % i for i in range(S)])
REDIS_PORT = int(os.environ.get("REDIS_PORT", "6379"))
SENTINEL_PORT = int(os.environ.get("SENTINEL_PORT", "26379"))
MASTER_SET = os.environ.get("MASTER_SET", "mymaster")
PASSWORD = open(os.environ["PASSWORD_FILE"]).read() if os.environ.get("PASSWORD_FILE") else None
SENTINEL_PASSWORD = PASSWORD if os.environ.get("SENTINEL_AUTH", "1") != "0" else None
# The application's login for writes and keys (an ACL user when APP_USER is set); state and
# cmd administer with the default user.
APP_USER = os.environ.get("APP_USER") or None
APP_PASSWORD = open(os.environ["APP_PASSWORD_FILE"]).read() if os.environ.get("APP_PASSWORD_FILE") else PASSWORD
# TLS_CA_FILE set (tls.enabled): every connection verifies the server's certificate and host name
# against the CA and presents the client certificate (TLS_CERT_FILE, TLS_KEY_FILE) for authClients.
TLS = {"ssl": True, "ssl_ca_certs": os.environ["TLS_CA_FILE"], "ssl_cert_reqs": "required", "ssl_check_hostname": True,
       "ssl_certfile": os.environ.get("TLS_CERT_FILE"), "ssl_keyfile": os.environ.get("TLS_KEY_FILE")} if os.environ.get("TLS_CA_FILE") else {}
# The writer's timeouts (the docs' recommendation) and its pause after a failed write.
TIMEOUT = float(os.environ.get("CLIENT_TIMEOUT", "0.5"))
RETRY_PAUSE = float(os.environ.get("CLIENT_RETRY_PAUSE", "0.1"))
# WAIT's own timeout stays under the socket timeout, so a WAIT that times out is "not acknowledged", not an error.
WAIT_MS = int(os.environ.get("WAIT_MS", "250"))


def conn(host, port, timeout=2.0, password=None):
    password = password if password is not None else (SENTINEL_PASSWORD if port == SENTINEL_PORT else PASSWORD)
    return redis.Redis(host=host, port=port, password=password, socket_timeout=timeout, socket_connect_timeout=timeout,
                       decode_responses=True, **TLS)


def safe(fn):
    try:
        return fn()
    except Exception as exc:  # report, the test decides
        return {"error": f"{type(exc).__name__}: {exc}"}


def state():
    """Every Redis pod's role, replication info and run_id; every Sentinel's master (and the
    run_id of the server at that address, so a Sentinel naming an IP is compared by identity),
    CKQUORUM and the peers and replicas it knows."""
    out = {"pods": {}, "sentinels": {}}
    for host in HOSTS:
        r = conn(host, REDIS_PORT)
        out["pods"][host] = {
            "role": safe(lambda: r.role()[0]),
            "replication": safe(lambda: r.info("replication")),
            "run_id": safe(lambda: r.info("server")["run_id"]),
        }
    run_ids: dict = {}
    for host in SENTINEL_HOSTS:
        s = conn(host, SENTINEL_PORT)
        view = {
            "master": safe(lambda: s.execute_command("SENTINEL", "GET-MASTER-ADDR-BY-NAME", MASTER_SET)),
            "ckquorum": safe(lambda: s.execute_command("SENTINEL", "CKQUORUM", MASTER_SET)),
            "sentinel_peers": safe(lambda: [p["name"] + "@" + str(p.get("ip")) for p in s.sentinel_sentinels(MASTER_SET)]),
            "replica_addrs": safe(lambda: [f"{p['ip']}:{p['port']}" for p in s.sentinel_slaves(MASTER_SET)]),
            "tilt": safe(lambda: s.info("sentinel").get("sentinel_tilt")),
        }
        view["sentinels"] = len(view["sentinel_peers"]) if isinstance(view["sentinel_peers"], list) else view["sentinel_peers"]
        view["replicas"] = len(view["replica_addrs"]) if isinstance(view["replica_addrs"], list) else view["replica_addrs"]
        if isinstance(view["master"], list):
            addr = (view["master"][0], int(view["master"][1]))
            if addr not in run_ids:
                run_ids[addr] = safe(lambda: conn(addr[0], addr[1], 1.0, PASSWORD).info("server")["run_id"])
            view["master_run_id"] = run_ids[addr]
        out["sentinels"][host] = view
    print(json.dumps(out))


class RecordingSentinel(Sentinel):
    """A redis-py Sentinel that notes every master discovery: when it started, how long it took,
    which Sentinel answered and with what (the client's own share of an outage)."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.discoveries = []

    def discover_master(self, service_name):
        started = time.time()
        entry = {"t": started}
        try:
            address = super().discover_master(service_name)
            entry["addr"] = address[0]
            first = self.sentinels[0].connection_pool.connection_kwargs
            entry["by"] = first.get("host")
            return address
        except Exception as exc:
            entry["err"] = f"{type(exc).__name__}: {str(exc)[:160]}"
            raise
        finally:
            entry["d"] = round(time.time() - started, 4)
            self.discoveries.append(entry)


def sentinel_client(timeout=TIMEOUT):
    login = {"username": APP_USER, "password": APP_PASSWORD, **TLS}
    once = Retry(NoBackoff(), 0)
    # The application logs in to the Sentinels as itself (ACL), else with the Sentinel password (if any).
    sentinel_login = login if APP_USER else {"password": SENTINEL_PASSWORD, **TLS}
    sentinel = RecordingSentinel(
        [(h, SENTINEL_PORT) for h in SENTINEL_HOSTS],
        sentinel_kwargs={**sentinel_login, "socket_timeout": timeout, "socket_connect_timeout": timeout, "retry": once},
        **login, socket_timeout=timeout, socket_connect_timeout=timeout, retry=once)
    return sentinel, sentinel.master_for(MASTER_SET, socket_timeout=timeout, socket_connect_timeout=timeout, retry=once, decode_responses=True)


def master_client(timeout=TIMEOUT):
    if S == 0:
        return conn(HOSTS[0], REDIS_PORT, timeout, APP_PASSWORD)
    return sentinel_client(timeout)[1]


def write(prefix, seconds, via=None):
    """Unique keys; every 5th write is sent with WAIT 1 on the same connection (a pipeline), so
    "wait" >= 1 means a replica has it. Each record: t (start), d (duration), k, ok, m (the master
    address used), err, wait, and "disc" (the Sentinel discoveries made during this write). Ends
    after SECONDS, or earlier once /tmp/PREFIX.stop exists (an exec'd process outlives its closed stream).
    With `via` (a Service name) the writes go there and nowhere else, as a client that cannot
    speak Sentinel does; "m" is then the pod IP that served the write (CLIENT INFO's laddr)."""
    if via:
        sentinel, client = None, redis.Redis(host=via, port=REDIS_PORT, username=APP_USER, password=APP_PASSWORD, socket_timeout=TIMEOUT,
                                             socket_connect_timeout=TIMEOUT, retry=Retry(NoBackoff(), 0), decode_responses=True, **TLS)
    elif S == 0:
        sentinel, client = None, master_client()
    else:
        sentinel, client = sentinel_client()
    end = time.time() + float(seconds)
    stop = f"/tmp/{prefix}.stop"
    i = 0
    while time.time() < end and not os.path.exists(stop):
        key = f"{prefix}:{i}"
        started = time.time()
        rec = {"t": started, "k": key}
        seen = len(sentinel.discoveries) if sentinel else 0
        served_by = None
        try:
            if via:
                pipe = client.pipeline(transaction=False)
                pipe.set(key, i)
                if i % 5 == 0:
                    pipe.execute_command("WAIT", 1, WAIT_MS)
                pipe.execute_command("CLIENT", "INFO")
                replies = pipe.execute(raise_on_error=False)
                info = replies[-1]
                if isinstance(info, str):
                    served_by = dict(f.split("=", 1) for f in info.split() if "=" in f).get("laddr", "").rsplit(":", 1)[0] or None
                if isinstance(replies[0], Exception):
                    raise replies[0]
                rec["ok"] = True
                if i % 5 == 0:
                    rec["wait"] = replies[1] if isinstance(replies[1], int) else -1
            elif i % 5 == 0:
                pipe = client.pipeline(transaction=False)
                pipe.set(key, i)
                pipe.execute_command("WAIT", 1, WAIT_MS)
                set_reply, wait_reply = pipe.execute(raise_on_error=False)
                if isinstance(set_reply, Exception):
                    raise set_reply
                rec["ok"] = True
                rec["wait"] = wait_reply if isinstance(wait_reply, int) else -1
                if not isinstance(wait_reply, int):
                    rec["wait_err"] = f"{type(wait_reply).__name__}: {str(wait_reply)[:100]}"
            else:
                client.set(key, i)
                rec["ok"] = True
        except Exception as exc:
            rec["ok"] = False
            rec["err"] = type(exc).__name__ + ": " + str(exc)[:120]
        # The master this write went to, as the Sentinel client resolved it.
        address = getattr(client.connection_pool, "master_address", None) if sentinel else (HOSTS[0], REDIS_PORT)
        rec["m"] = served_by if via else (address[0] if address else None)
        rec["d"] = round(time.time() - started, 4)
        if sentinel and len(sentinel.discoveries) > seen:
            rec["disc"] = sentinel.discoveries[seen:]
        print(json.dumps(rec), flush=True)
        i += 1
        time.sleep(RETRY_PAUSE if not rec["ok"] else 0.005)


def keys(prefix):
    client = master_client(timeout=5)
    print(json.dumps(sorted(client.scan_iter(match=f"{prefix}:*", count=1000))))


def values(prefix):
    client = master_client(timeout=10)
    found = sorted(client.scan_iter(match=f"{prefix}:*", count=5000))
    print(json.dumps(dict(zip(found, client.mget(found))) if found else {}))


def count(prefix):
    client = master_client(timeout=10)
    print(json.dumps(sum(1 for _ in client.scan_iter(match=f"{prefix}:*", count=5000))))


def fill(pod, prefix, start, end, value):
    """SET prefix:i value for i in [start, end) on one pod; prints how many succeeded."""
    client = conn(HOSTS[int(pod)], REDIS_PORT, 5)
    print(json.dumps(sum(bool(client.set(f"{prefix}:{i}", value)) for i in range(int(start), int(end)))))


def bulk(prefix, count_, size):
    """COUNT keys of SIZE bytes each through the Sentinel client, in pipelines of about 8 MB,
    then WAIT for every replica; prints {"written": n, "replicas_acked": r, "seconds": s}."""
    client = master_client(timeout=60)
    count_, size = int(count_), int(size)
    per = max(1, (8 << 20) // size)
    value = os.urandom(size // 2).hex()[:size]
    started, written = time.time(), 0
    for base in range(0, count_, per):
        pipe = client.pipeline(transaction=False)
        for i in range(base, min(count_, base + per)):
            pipe.set(f"{prefix}:{i}", value)
        written += sum(bool(r) for r in pipe.execute())
    acked = client.execute_command("WAIT", max(N - 1, 0), 120000)
    print(json.dumps({"written": written, "replicas_acked": acked, "seconds": round(time.time() - started, 1)}))


def target(name):
    if name.isdigit():
        return HOSTS[int(name)]
    if name[:1] == "s" and name[1:].isdigit():
        return SENTINEL_HOSTS[int(name[1:])]
    return name


def cmd(pod, port, *args):
    """The server's reply as sent (no redis-py parsing: SET gives "OK", LASTSAVE an integer)."""
    client = conn(target(pod), int(port), 5)
    client.response_callbacks.clear()
    print(json.dumps(safe(lambda: client.execute_command(*args))))


if __name__ == "__main__":
    {"state": state, "write": write, "keys": keys, "count": count, "values": values, "cmd": cmd, "fill": fill, "bulk": bulk}[sys.argv[1]](*sys.argv[2:])
