# SPDX-License-Identifier: Apache-2.0
"""Scheduled backups and their restore on a real cluster: while a client writes, the backup
CronJob is triggered; the release is uninstalled and its data claims deleted; the same release
installed again with backup.restore.file serves every write acknowledged before the backup
started, with its value (docs/operations.md, "Backups")."""
from __future__ import annotations

import os
import re
import time

from tests.e2e.kube import kubectl, wait_for

NS = "e2e-backup"
REL = "redis-ha"
BACKUP = {"enabled": True, "persistence": {"size": "1Gi"}}
SERVER_CLAIMS = f"app.kubernetes.io/instance={REL},app.kubernetes.io/component=server"
# For docs/performance.md: REDIS_HA_BACKUP_MB=200 adds that many MB (values of 1 KiB) before the
# backup, and the test prints the backup's duration and size.
BULK_MB = int(os.environ.get("REDIS_HA_BACKUP_MB", "0"))


def job_done(name: str) -> bool:
    """True once the Job succeeded; fails the test with its log as soon as it failed."""
    status = kubectl("get", "job", name, "-n", NS, "-o", "jsonpath={.status.succeeded}/{.status.failed}")
    succeeded, failed = status.split("/")
    if failed and int(failed) > 0:
        raise AssertionError(f"backup Job {name} failed:\n{kubectl('logs', f'job/{name}', '-n', NS, '--all-containers')}")
    return bool(succeeded) and int(succeeded) > 0


def test_a_backup_taken_under_writes_restores_into_a_new_release(make_release):
    """Every write acknowledged before the backup started is in the restored release."""
    rel = make_release(REL, NS, {"backup": BACKUP})
    if BULK_MB:
        print(f"\nbulk {BULK_MB} MB: {rel.agent('bulk', 'big', str(BULK_MB * 1024), '1024', timeout=1800)}")
    writer = rel.start_writer("bk", 600)
    wait_for("writes acknowledged", lambda: sum(r["ok"] for r in writer.records) >= 200, 60, 0.5)
    started = time.time()
    job = f"{REL}-backup-e2e"
    kubectl("create", "job", f"--from=cronjob/{REL}-backup", job, "-n", NS)
    wait_for(f"backup Job {job}", lambda: job_done(job), 300 + BULK_MB * 3, 2)
    took = time.time() - started
    log = kubectl("logs", f"job/{job}", "-n", NS)
    writer.stop()
    writer.join(120)
    done = re.search(r"backup /backups/(\d{8}T\d{6}Z\.rdb): (\d+) bytes, (\d+) keys, from (\S+) in (\d+)s; redis-check-rdb OK", log)
    assert done, log
    assert f"backing up from {done.group(4)}: replica in step with its master" in log, log
    before = {r["k"]: r["k"].split(":")[1] for r in writer.records if r["ok"] and r["t"] + r["d"] < started}
    print(f"\nbackup {done.group(1)}: {done.group(2)} bytes, {done.group(3)} keys, transfer {done.group(5)} s, "
          f"Job created to complete {took:.1f} s; {len(before)} writes acknowledged before it started, "
          f"{sum(r['ok'] for r in writer.records) - len(before)} after")

    rel.uninstall()
    wait_for("the release's pods gone", lambda: not rel.pods() and not rel.sentinel_pods(), 300, 2)
    rel.core.delete_collection_namespaced_persistent_volume_claim(NS, label_selector=SERVER_CLAIMS)
    wait_for("data claims deleted", lambda: not rel.core.list_namespaced_persistent_volume_claim(NS, label_selector=SERVER_CLAIMS).items, 300, 2)
    claims = [c.metadata.name for c in rel.core.list_namespaced_persistent_volume_claim(NS).items]
    assert claims == [f"{REL}-backup"], f"helm uninstall keeps the backup claim and only it: {claims}"

    restored_at = time.time()
    rel.install({"backup": {**BACKUP, "restore": {"file": "latest"}}})
    rel.wait_all_ready()
    rel.invariants()
    print(f"restore install to ready: {time.time() - restored_at:.0f} s")
    values = rel.agent("values", "bk", timeout=300)
    if BULK_MB:
        assert rel.agent("count", "big", timeout=600) == BULK_MB * 1024
    wrong = {k: values.get(k) for k, v in before.items() if values.get(k) != v}
    assert not wrong, f"{len(wrong)} of {len(before)} acknowledged writes missing or changed, e.g. {list(wrong.items())[:5]}"
    # A write whose reply was lost (a timeout) may have been applied before the backup: keys the
    # writer sent count as written, acknowledged or not.
    assert not (set(values) - {r["k"] for r in writer.records}), "the restored data holds keys nobody wrote"
