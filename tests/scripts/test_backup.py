# SPDX-License-Identifier: Apache-2.0
"""Backups (files/scripts/backup.sh) and the restore of a chosen backup
(files/scripts/restore-backup.sh) against real Redis processes: the snapshot is streamed from a
replica with `redis-cli --rdb`, checked with redis-check-rdb, rotated, and a damaged one fails."""
from __future__ import annotations

import re
import shutil
import socket
import subprocess
import threading
from pathlib import Path

import pytest
import redis

from tests.scripts.harness import BOTH_ENGINES, REDIS_PORT, acl_password

NAME = re.compile(r"^\d{8}T\d{6}Z\.rdb$")
BACKUP = {"backup": {"enabled": True}}


def backups(d: Path) -> list[str]:
    return sorted(p.name for p in d.iterdir() if p.name.endswith(".rdb"))


def fill(c, prefix: str, n: int) -> dict[str, str]:
    """n keys written to the master and acknowledged by both replicas (WAIT)."""
    r = c.redis(c.master())
    data = {f"{prefix}:{i}": f"value {i}" for i in range(n)}
    r.mset(data)
    assert r.wait(c.replicas - 1, 5000) == c.replicas - 1
    return data


def run_backup(c, d: Path, keep: int = 7, **extra):
    d.mkdir(exist_ok=True)
    return c.run(0, "backup.sh", BACKUP_DIR=str(d), BACKUP_KEEP=str(keep), **extra)


def keys_in(c, rdb: Path, tmp: Path) -> dict[str, str]:
    """The dataset of an RDB file, read by loading it into a throw-away redis-server."""
    tmp.mkdir()
    (tmp / "dump.rdb").write_bytes(rdb.read_bytes())
    sock = tmp / "r.sock"
    server = subprocess.Popen([str(c.bin / "redis-server"), "--port", "0", "--unixsocket", str(sock), "--dir", str(tmp), "--appendonly", "no", "--save", ""],
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        r = redis.Redis(unix_socket_path=str(sock), decode_responses=True, socket_timeout=5)
        c.wait_for("the reader loaded the backup", lambda: r.ping() and r.info("persistence")["loading"] == 0, 20)
        return {k: r.get(k) for k in r.keys("*")}
    finally:
        server.kill()
        server.wait(10)


class CorruptingProxy:
    """A TCP proxy in front of a Redis node that flips one byte inside the RDB payload it relays
    (in the header's redis-ver string): the stream stays well-formed, only the checksum breaks."""

    def __init__(self, c, i: int):
        self.target = (c.ip(i), REDIS_PORT)
        self.listener = socket.create_server((c.ip(i), 0))
        self.port = self.listener.getsockname()[1]
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self):
        while True:
            try:
                client, _ = self.listener.accept()
            except OSError:
                return
            server = socket.create_connection(self.target)
            threading.Thread(target=self._pipe, args=(client, server, False), daemon=True).start()
            threading.Thread(target=self._pipe, args=(server, client, True), daemon=True).start()

    def _pipe(self, src, dst, corrupt):
        seen = b""
        flipped = False
        try:
            while chunk := src.recv(65536):
                if corrupt and not flipped:
                    both = seen + chunk
                    at = both.find(b"REDIS00")
                    if at >= 0 and len(both) > at + 22:
                        pos = at + 22 - len(seen)
                        chunk = chunk[:pos] + bytes([chunk[pos] ^ 1]) + chunk[pos + 1:]
                        flipped = True
                    seen = both[-64:]
                dst.sendall(chunk)
        except OSError:
            pass
        finally:
            dst.close()

    def close(self):
        self.listener.close()


class TestBackup:
    @BOTH_ENGINES
    def test_streams_a_checked_snapshot_from_a_replica(self, make_cluster, tmp_path, engine):
        """A backup is taken from a replica in step, named by its UTC time, checked, and holds
        every key acknowledged before it started."""
        c = make_cluster(engine=engine, colocated=False)
        c.start_nodes()
        data = fill(c, "k", 200)
        out = run_backup(c, tmp_path / "backups")
        assert out.returncode == 0, out.stderr
        files = backups(tmp_path / "backups")
        assert len(files) == 1 and NAME.match(files[0]), files
        master = c.host(c.master())
        source = re.search(r"backing up from (\S+): replica in step with its master", out.stderr)
        assert source and source.group(1) != master, out.stderr
        assert re.search(rf"backup \S+/{files[0]}: \d+ bytes, 200 keys, from {re.escape(source.group(1))} in \d+s; redis-check-rdb OK", out.stderr), out.stderr
        assert keys_in(c, tmp_path / "backups" / files[0], tmp_path / "reader") == data

    def test_falls_back_to_the_master_of_a_single_pod(self, make_cluster, tmp_path):
        """replicas: 1 has no replica: the master is backed up, and the log says so."""
        c = make_cluster(replicas=1)
        c.start_node(0)
        c.wait_ready(0)
        c.redis(0).set("only", "pod")
        out = run_backup(c, tmp_path / "backups")
        assert out.returncode == 0, out.stderr
        assert f"backing up from {c.host(0)}: master (no replica in step with it)" in out.stderr

    def test_rotation_keeps_the_newest(self, make_cluster, tmp_path):
        """After each backup only the newest backup.keep files stay; an older file of the same
        naming is among the ones deleted."""
        c = make_cluster(replicas=1)
        c.start_node(0)
        c.wait_ready(0)
        d = tmp_path / "backups"
        d.mkdir()
        (d / "20000101T000000Z.rdb").write_bytes(b"old")
        taken = []
        for n in range(3):
            c.redis(0).set("n", n)
            out = run_backup(c, d, keep=2)
            assert out.returncode == 0, out.stderr
            taken.append(backups(d)[-1])
        assert backups(d) == taken[-2:]
        assert "deleted" in out.stderr and "(keeping the newest 2)" in out.stderr

    @BOTH_ENGINES
    def test_a_corrupt_snapshot_fails_the_job_and_is_deleted(self, make_cluster, tmp_path, engine):
        """A snapshot whose checksum does not match fails with redis-check-rdb's finding; the
        older backups stay and nothing new is added."""
        c = make_cluster(engine=engine, replicas=1)
        c.start_node(0)
        c.wait_ready(0)
        c.redis(0).set("a", "b")
        d = tmp_path / "backups"
        assert run_backup(c, d).returncode == 0
        before = backups(d)
        proxy = CorruptingProxy(c, 0)
        try:
            out = run_backup(c, d, BACKUP_SOURCE=c.ip(0), REDIS_PORT=str(proxy.port))
        finally:
            proxy.close()
        assert out.returncode != 0
        assert re.search(r"FATAL: the backup from \S+ failed redis-check-rdb and was deleted: .*RDB CRC error", out.stderr), out.stderr
        assert backups(d) == before
        assert not [p for p in d.iterdir() if p.name.startswith(".partial-")]

    def test_an_unreachable_source_fails_with_the_reason(self, make_cluster, tmp_path):
        """No server on the chosen address: redis-cli's error is in the Job's failure message."""
        c = make_cluster(replicas=1)
        out = run_backup(c, tmp_path / "backups", BACKUP_SOURCE=c.ip(0))
        assert out.returncode != 0
        assert re.search(r"FATAL: redis-cli --rdb from \S+ failed: .*(Connection refused|Could not connect)", out.stderr), out.stderr
        assert backups(tmp_path / "backups") == []

    @BOTH_ENGINES
    def test_tls_and_the_backup_acl_user(self, make_cluster, tmp_path, engine):
        """With TLS and ACL users the backup logs in as the backup user over TLS; that user can
        take a snapshot and nothing else."""
        c = make_cluster(engine=engine, colocated=False, values={"tls": {"enabled": True}, "acl": {"enabled": True, "existingSecret": "acl"}, **BACKUP})
        c.start_nodes()
        data = fill(c, "t", 50)
        out = run_backup(c, tmp_path / "backups")
        assert out.returncode == 0, out.stderr
        [name] = backups(tmp_path / "backups")
        assert keys_in(c, tmp_path / "backups" / name, tmp_path / "reader") == data
        # No CLIENT SETINFO handshake (lib_name/lib_version None): only the commands below are tried.
        backup_user = redis.Redis(host=c.ip(0), port=REDIS_PORT, username="backup", password=acl_password("backup"), socket_timeout=3,
                                  lib_name=None, lib_version=None, **c.tls_kwargs())
        for command in (("GET", "t:0"), ("SET", "t:0", "overwritten"), ("CONFIG", "GET", "*")):
            with pytest.raises(redis.exceptions.NoPermissionError):
                backup_user.execute_command(*command)
        # Nothing the backup needed was refused: the ACL log holds only the three commands above.
        refused = []
        for i in range(c.replicas):
            for entry in c.redis(i).execute_command("ACL", "LOG"):
                e = entry if isinstance(entry, dict) else dict(zip(entry[::2], entry[1::2]))
                refused.append((e[b"username"], e[b"object"]))
        assert sorted(refused) == sorted([(b"backup", b"get"), (b"backup", b"set"), (b"backup", b"config|get")]), refused


class TestRestoreBackup:
    @BOTH_ENGINES
    def test_a_chosen_backup_becomes_the_dataset_of_a_new_set(self, make_cluster, tmp_path, engine):
        """Backup, then every pod and its data gone; the restore puts the chosen backup on pod
        0's volume and the new set serves exactly its data on every pod."""
        c = make_cluster(engine=engine, colocated=False)
        c.start_nodes()
        data = fill(c, "r", 100)
        d = tmp_path / "backups"
        assert run_backup(c, d).returncode == 0
        [name] = backups(d)
        fill(c, "later", 10)
        c.stop_every_pod()
        for i in range(c.replicas):
            for p in (c.tmp / f"data-{i}").iterdir():
                if p.is_file():
                    p.unlink()
                else:
                    shutil.rmtree(p)
        out = c.run(0, "restore-backup.sh", BACKUP_DIR=str(d), RESTORE_FILE=name)
        assert out.returncode == 0, out.stderr
        assert (c.tmp / "data-0" / "restore.rdb").is_file()
        c.start_nodes()
        for i in range(c.replicas):
            c.wait_for(f"node {i} holds the backup", lambda i=i: c.redis(i).dbsize() == 100)
            r = c.redis(i, decode_responses=True)
            assert {k: r.get(k) for k in data} == data

    def test_latest_picks_the_newest_backup(self, make_cluster, tmp_path):
        """backup.restore.file: latest restores the newest file."""
        c = make_cluster(replicas=1)
        d = tmp_path / "backups"
        d.mkdir()
        c.start_node(0)
        c.wait_ready(0)
        c.redis(0).set("v", "1")
        assert run_backup(c, d).returncode == 0
        c.redis(0).set("v", "2")
        assert run_backup(c, d).returncode == 0
        newest = backups(d)[-1]
        data = tmp_path / "data"
        data.mkdir()
        out = c.run(0, "restore-backup.sh", BACKUP_DIR=str(d), RESTORE_FILE="latest", DATA_DIR=str(data))
        assert out.returncode == 0, out.stderr
        assert (data / "restore.rdb").read_bytes() == (d / newest).read_bytes()
        assert f"{d}/{newest} checked and placed at {data}/restore.rdb" in out.stderr

    @pytest.mark.parametrize(("content", "message"), [
        pytest.param("truncated", r"failed redis-check-rdb; nothing restored: .*(Unexpected EOF|RDB ERROR DETECTED)", id="truncated"),
        pytest.param("missing", r"backup.restore.file: \S+/19990101T000000Z.rdb does not exist; the backups in \S+ are: \d{8}T\d{6}Z.rdb", id="missing"),
    ])
    def test_a_bad_choice_fails_and_restores_nothing(self, make_cluster, tmp_path, content, message):
        """A truncated backup or a name that is not on the volume fails the restore with the
        reason; pod 0's volume gets no restore.rdb."""
        c = make_cluster(replicas=1)
        c.start_node(0)
        c.wait_ready(0)
        c.redis(0).mset({f"k{i}": "x" * 100 for i in range(100)})
        d = tmp_path / "backups"
        assert run_backup(c, d).returncode == 0
        [name] = backups(d)
        if content == "truncated":
            whole = (d / name).read_bytes()
            (d / "19990101T000000Z.rdb").write_bytes(whole[: len(whole) // 2])
        data = tmp_path / "data"
        data.mkdir()
        out = c.run(0, "restore-backup.sh", BACKUP_DIR=str(d), RESTORE_FILE="19990101T000000Z.rdb", DATA_DIR=str(data))
        assert out.returncode != 0
        assert re.search(message, out.stderr), out.stderr
        assert list(data.iterdir()) == []
