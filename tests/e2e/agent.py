# SPDX-License-Identifier: Apache-2.0
"""Runs inside the e2e client pod (python3 + redis-py), where Sentinel names resolve.

    agent.py state                      JSON: role of every pod, every Sentinel's view
    agent.py write PREFIX SECONDS       JSON lines: one per write, through a Sentinel client (until /tmp/PREFIX.stop)
    agent.py keys PREFIX                JSON: keys with PREFIX on the current master
    agent.py cmd POD PORT ARGS...       JSON: one command's reply (or error) on a pod
    agent.py fill POD PREFIX FROM TO V  JSON: count of PREFIX:i = V written on a pod
Environment: REPLICAS, HOST_TEMPLATE (printf with %d), SENTINEL_SERVICE, MASTER_SET, PASSWORD_FILE,
APP_USER and APP_PASSWORD_FILE, TLS_CA_FILE, TLS_CERT_FILE and TLS_KEY_FILE.
"""
import json
import os
import sys
import time

import redis
from redis.sentinel import Sentinel

N = int(os.environ["REPLICAS"])
HOSTS = [os.environ["HOST_TEMPLATE"] % i for i in range(N)]
MASTER_SET = os.environ.get("MASTER_SET", "mymaster")
SERVICE = os.environ["SENTINEL_SERVICE"]
PASSWORD = open(os.environ["PASSWORD_FILE"]).read() if os.environ.get("PASSWORD_FILE") else None
# The application's login for writes and keys (an ACL user when APP_USER is set); state and
# cmd administer with the default user.
APP_USER = os.environ.get("APP_USER") or None
APP_PASSWORD = open(os.environ["APP_PASSWORD_FILE"]).read() if os.environ.get("APP_PASSWORD_FILE") else PASSWORD
# TLS_CA_FILE set (tls.enabled): every connection verifies the server's certificate and host name
# against the CA and presents the client certificate (TLS_CERT_FILE, TLS_KEY_FILE) for authClients.
TLS = {"ssl": True, "ssl_ca_certs": os.environ["TLS_CA_FILE"], "ssl_cert_reqs": "required", "ssl_check_hostname": True,
       "ssl_certfile": os.environ.get("TLS_CERT_FILE"), "ssl_keyfile": os.environ.get("TLS_KEY_FILE")} if os.environ.get("TLS_CA_FILE") else {}


def conn(host, port, timeout=2.0):
    return redis.Redis(host=host, port=port, password=PASSWORD, socket_timeout=timeout, socket_connect_timeout=timeout, decode_responses=True, **TLS)


def safe(fn):
    try:
        return fn()
    except Exception as exc:  # report, the test decides
        return {"error": f"{type(exc).__name__}: {exc}"}


def state():
    out = {"pods": {}, "sentinels": {}}
    for host in HOSTS:
        r = conn(host, 6379)
        out["pods"][host] = {
            "role": safe(lambda: r.role()[0]),
            "replication": safe(lambda: r.info("replication")),
        }
        if N > 1:
            s = conn(host, 26379)
            out["sentinels"][host] = {
                "master": safe(lambda: s.execute_command("SENTINEL", "GET-MASTER-ADDR-BY-NAME", MASTER_SET)),
                "ckquorum": safe(lambda: s.execute_command("SENTINEL", "CKQUORUM", MASTER_SET)),
                "sentinels": safe(lambda: len(s.execute_command("SENTINEL", "SENTINELS", MASTER_SET))),
                "replicas": safe(lambda: len(s.execute_command("SENTINEL", "REPLICAS", MASTER_SET))),
            }
    print(json.dumps(out))


def master_client(timeout=0.5):
    if N == 1:
        return conn(HOSTS[0], 6379, timeout)
    login = {"username": APP_USER, "password": APP_PASSWORD, **TLS}
    sentinel = Sentinel([(SERVICE, 26379)], sentinel_kwargs={**login, "socket_timeout": timeout}, **login, socket_timeout=timeout, socket_connect_timeout=timeout)
    return sentinel.master_for(MASTER_SET, socket_timeout=timeout, socket_connect_timeout=timeout, decode_responses=True)


def write(prefix, seconds):
    """Unique keys; every 5th write is also confirmed with WAIT 1 (a replica has it). Ends after
    SECONDS, or earlier once /tmp/PREFIX.stop exists (an exec'd process outlives its closed stream)."""
    client = master_client()
    end = time.time() + float(seconds)
    stop = f"/tmp/{prefix}.stop"
    i = 0
    while time.time() < end and not os.path.exists(stop):
        key = f"{prefix}:{i}"
        started = time.time()
        rec = {"t": started, "k": key}
        try:
            client.set(key, i)
            rec["ok"] = True
            # The master this write went to, as the Sentinel client resolved it.
            address = getattr(client.connection_pool, "master_address", None)
            rec["m"] = address[0] if address else None
            if i % 5 == 0:
                rec["wait"] = client.execute_command("WAIT", 1, 1000)
        except Exception as exc:
            rec["ok"] = False
            rec["err"] = type(exc).__name__ + ": " + str(exc)[:80]
            time.sleep(0.02)
        rec["d"] = time.time() - started
        print(json.dumps(rec), flush=True)
        i += 1
        time.sleep(0.005)


def keys(prefix):
    client = master_client(timeout=5)
    print(json.dumps(sorted(client.scan_iter(match=f"{prefix}:*", count=1000))))


def fill(pod, prefix, start, end, value):
    """SET prefix:i value for i in [start, end) on one pod; prints how many succeeded."""
    client = conn(HOSTS[int(pod)], 6379, 5)
    print(json.dumps(sum(bool(client.set(f"{prefix}:{i}", value)) for i in range(int(start), int(end)))))


def cmd(pod, port, *args):
    """The server's reply as sent (no redis-py parsing: SET gives "OK", LASTSAVE an integer)."""
    client = conn(HOSTS[int(pod)], int(port), 5)
    client.response_callbacks.clear()
    print(json.dumps(safe(lambda: client.execute_command(*args))))


if __name__ == "__main__":
    {"state": state, "write": write, "keys": keys, "cmd": cmd, "fill": fill}[sys.argv[1]](*sys.argv[2:])
