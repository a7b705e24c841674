# SPDX-License-Identifier: Apache-2.0
"""The redis-py configuration from docs/clients.md, wrapped in a write loop for tests/clients/lab.py.

SETs a key every 10 ms through the Sentinel-managed master and prints "gap <start_ms> <end_ms>"
whenever two successful writes are more than 200 ms apart. Environment: SENTINELS
(comma-separated host:port), MASTER_SET, REDIS_PASSWORD, optional REDIS_USERNAME (ACL user,
e.g. "app") and TLS_CA_FILE (turns TLS on); WRITER_VERBOSE=1 prints every error, not only
the first of a run. Tested with redis==6.4.0.
"""

import os
import signal
import sys
import time

import redis

# BEGIN docs/clients.md redis-py
from redis.backoff import ConstantBackoff, NoBackoff
from redis.connection import SSLConnection
from redis.exceptions import ConnectionError, TimeoutError
from redis.retry import Retry
from redis.sentinel import Sentinel, SentinelManagedConnection


class MasterConnection(SentinelManagedConnection):
    """Asks Sentinel again on every reconnect. redis-py's own command retry reconnects to the
    old master's address (redis/redis-py#3874), which can stall writes for the whole retry
    budget."""

    def connect_check_health(self, check_health=True, retry_socket_connect=True):
        if self._sock is None and retry_socket_connect:  # reconnect inside a command retry
            return self.connect_to(self.connection_pool.get_master_address())
        return super().connect_check_health(check_health, retry_socket_connect)


class MasterSSLConnection(MasterConnection, SSLConnection):
    pass


def new_client(sentinels, master_set, username, password, ca_file=None):
    """Return a redis.Redis that always talks to the current master.

    sentinels: [(pod FQDN, 26379), ...] for every Sentinel pod; username: None or the ACL
    user ("app"); ca_file: None without TLS, else the ca.crt of the release's TLS Secret.
    """
    common = {
        "username": username,
        "password": password,  # Sentinel and Redis both require it (auth.enabled default)
        "socket_connect_timeout": 0.5,
        "socket_timeout": 1.0,
    }
    if ca_file:
        # The host name checked is the one connected to: the Sentinel FQDN listed above,
        # then the master FQDN that Sentinel reports.
        common.update(ssl=True, ssl_ca_certs=ca_file, ssl_check_hostname=True)
    sentinel = Sentinel(
        sentinels,
        # One try per Sentinel, then the next one. redis-py's default retry (exponential
        # backoff, base 1 s) spends ~10 s on a Sentinel that stopped answering.
        sentinel_kwargs={**common, "socket_timeout": 0.5, "retry": Retry(NoBackoff(), 0)},
    )
    return sentinel.master_for(
        master_set,
        connection_class=MasterSSLConnection if ca_file else MasterConnection,
        **common,
        # Constant 100 ms between attempts for ~25 s (a split Sentinel vote retries after
        # 2 x failover-timeout = 20 s); each reconnect asks the Sentinels again.
        retry=Retry(ConstantBackoff(0.1), 250),
        retry_on_error=[ConnectionError, TimeoutError],
    )
# END docs/clients.md redis-py


def main():
    sentinels = [(h, int(p)) for h, p in (a.rsplit(":", 1) for a in os.environ["SENTINELS"].split(","))]
    r = new_client(sentinels, os.environ["MASTER_SET"], os.environ.get("REDIS_USERNAME") or None,
                   os.environ["REDIS_PASSWORD"], os.environ.get("TLS_CA_FILE") or None)
    stop = []
    signal.signal(signal.SIGTERM, lambda *_: stop.append(1))
    last, failing, i = time.time(), False, 0
    while not stop:
        try:
            r.set("lab:py", i)
            now = time.time()
            if now - last > 0.2:
                print(f"gap {last * 1000:.0f} {now * 1000:.0f}", flush=True)
            last, failing = now, False
        except redis.RedisError as e:
            if not failing or os.environ.get("WRITER_VERBOSE"):
                print(f"err {time.time() * 1000:.0f} {e!r}", flush=True)
            failing = True
        i += 1
        time.sleep(0.01)
    return 0


if __name__ == "__main__":
    sys.exit(main())
