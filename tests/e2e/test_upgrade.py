# SPDX-License-Identifier: Apache-2.0
"""Upgrading a release of the previous chart version to this one while a client writes, the way
the chart README's "Upgrading" section tells users to: the previous version is built from the git
history (the newest commit whose Chart.yaml has the version before this one), installed with that
commit's e2e values, and upgraded to the working tree. The previous version ran Sentinel inside
the Redis pods with OrderedReady; this one runs Sentinel pods and starts Redis pods in parallel,
so the upgrade also moves between layouts (docs/operations.md, "Moving between Sentinel layouts")."""
from __future__ import annotations

import io
import subprocess
import tarfile
import time
from pathlib import Path

import yaml

from tests.e2e.conftest import fresh_namespace
from tests.e2e.kube import ROOT, Release, figures, kubectl

NS = "e2e-upgrade"
NAME = "redis-ha"  # the harness derives the pods' names from the release name (fullname = release)
CHART = "charts/redis-ha"
VALUES = "ci/e2e/values-e2e.yaml"


def git(*args: str) -> bytes:
    proc = subprocess.run(["git", "-C", str(ROOT), *args], capture_output=True, check=False)
    assert proc.returncode == 0, f"git {' '.join(args)}: {proc.stderr.decode()}"
    return proc.stdout


def previous_chart(dest: Path) -> tuple[str, str, Path, Path]:
    """(version, commit, chart directory, e2e values file) of the chart version before this one,
    extracted from the git history into dest."""
    current = yaml.safe_load((ROOT / CHART / "Chart.yaml").read_text())["version"]
    bump = None  # the oldest commit of the current version: its parent is the previous version's last
    for commit in git("log", "--format=%H", "--", f"{CHART}/Chart.yaml").decode().split():
        version = yaml.safe_load(git("show", f"{commit}:{CHART}/Chart.yaml"))["version"]
        if version != current:
            break
        bump = commit
    else:
        bump = None
    assert bump, (f"no chart version before {current} in the git history of {ROOT} "
                  "(a shallow clone? `git fetch --unshallow` brings the history)")
    commit = git("rev-parse", f"{bump}^").decode().strip()
    version = yaml.safe_load(git("show", f"{commit}:{CHART}/Chart.yaml"))["version"]
    tarfile.open(fileobj=io.BytesIO(git("archive", commit, CHART, VALUES))).extractall(dest, filter="data")
    return version, commit, dest / CHART, dest / VALUES


def test_upgrade_from_the_previous_chart_version_under_writes(core, chart, record, tmp_path):
    """Install the previous version, write, then upgrade to this one under writes as documented
    (the Redis StatefulSet deleted with --cascade=orphan first, as podManagementPolicy cannot
    change in place): the invariants hold in the new layout, every key written before is there,
    and no acknowledged write is lost."""
    version, commit, old_chart, old_values = previous_chart(tmp_path)
    fresh_namespace(core, NS)  # deleted with the module (conftest)
    old = Release(core, old_chart, NAME, NS, {}, 3, colocated=True, values_files=[old_values])
    new = Release(core, chart, NAME, NS, {}, 3)
    assert not new.is_colocated, "this version's default layout runs Sentinel pods"
    old.install()
    # The writer lists the Sentinels of both layouts, as an application moving with the release
    # would; the ones that do not exist yet or any more fail fast and are skipped.
    sentinels = [old.sentinel_host(i) for i in range(old.sentinels)] + [new.sentinel_host(i) for i in range(new.sentinels)]
    old.start_client(env={"SENTINEL_HOSTS": ",".join(sentinels), "SENTINELS": str(len(sentinels))})
    before = old.agent("bulk", "before", "2000", "64")
    assert before["written"] == 2000 and before["replicas_acked"] == 2, before

    writer = old.start_writer("upgrade", 900)
    time.sleep(4)
    old_master = old.master_host()
    at = time.time()
    kubectl("delete", "statefulset", old.fullname, "-n", NS, "--cascade=orphan")
    new.install(action="upgrade")
    new.wait_rolled()
    time.sleep(5)
    writer.stop()
    writer.join(120)
    assert not writer.is_alive() and writer.records, f"the writer produced nothing: {writer.error}"

    # From here on the client speaks to this version's layout only.
    core.delete_namespaced_pod(old.client_pod, NS, grace_period_seconds=0)
    deadline = time.monotonic() + 120
    while any(p.metadata.name == old.client_pod for p in core.list_namespaced_pod(NS).items):
        assert time.monotonic() < deadline, "the old client pod did not go away"
        time.sleep(1)
    new.start_client()
    new.wait_all_ready()
    master = new.invariants()
    assert new.agent("count", "before") == 2000
    figs = figures(writer.records, at, new.stored_keys("upgrade"), {old_master})
    figs.update({"from_version": version, "from_commit": commit, "old_master": old_master, "new_master": master, "event_at": at})
    record(f"upgrade-from-{version}", figs, writer.records)
    print(f"upgrade from {version} ({commit[:7]}): longest stall {figs['longest_stall_s']} s, {figs['failed']} failed writes, "
          f"{figs['acknowledged']} acknowledged, {len(figs['wait_acked_lost'])} WAIT-acked lost, {figs['async_acked_lost']} async lost")
    assert figs["wait_acked_lost"] == [] and figs["async_acked_lost"] == 0
