# SPDX-License-Identifier: Apache-2.0
"""checkov on the default render and on every charts/redis-ha/ci/*-values.yaml render: the failed
checks are exactly the deliberate exceptions of the "Security scan" table in the chart README."""
from __future__ import annotations

import fcntl
import hashlib
import json
import os
import re
import subprocess
import sysconfig
from pathlib import Path

import pytest
import yaml

from tests.helm import CHART, load_values_file, render_chart

RELEASE = NAMESPACE = "redis-ha"  # fullname = release; not "default", which CKV_K8S_21 rejects
FULLNAME = "<fullname>"
README = CHART / "README.md"
CHECKOV = [str(Path(sysconfig.get_path("scripts")) / "checkov"), "--framework", "kubernetes", "--skip-download", "--output", "json"]
# Offline: no PyPI version check (made at import unless skipped), no platform mappings; no API key
# or config from the environment, so nothing is uploaded and no check is skipped.
OFFLINE_ENV = {"CKV_SKIP_PACKAGE_UPDATE_CHECK": "true", "BC_SKIP_MAPPING": "TRUE"}
RENDERS = {"defaults": {}} | {f"ci/{p.name}": load_values_file(p) for p in sorted((CHART / "ci").glob("*-values.yaml"))}
ROW = re.compile(r"^\| `(CKV2?_K8S_\d+)`[^|]*\| `(\w+)/([^`]+)` \|(.*)\|\s*$")


def exceptions() -> set[tuple[str, str]]:
    """(check id, Kind/<fullname>suffix) rows of the README's deliberate exceptions table."""
    section = README.read_text().split("\n## Security scan\n", 1)[1].split("\n## ", 1)[0]
    rows = [ROW.match(line) for line in section.splitlines() if line.startswith("| `CKV")]
    assert rows and all(rows), "every exception row reads | `CHECK_ID` title | `Kind/<fullname>suffix` | reason |"
    assert all(len(r.group(4).split()) >= 5 for r in rows), "every exception gives its reason"
    return {(r.group(1), f"{r.group(2)}/{r.group(3)}") for r in rows}


def resource(checkov_resource: str) -> str:
    """checkov's `Kind.namespace.name` as `Kind/<fullname>suffix`."""
    kind, _, name = checkov_resource.split(".", 2)
    return f"{kind}/{FULLNAME}{name.removeprefix(RELEASE)}" if name.startswith(RELEASE) else f"{kind}/{name}"


@pytest.fixture(scope="session")
def scan(tmp_path_factory):
    """checkov's JSON report of a render. Reports are kept by the render's hash in a directory all
    xdist workers share, and a lock per render makes every distinct render scanned once per session."""
    base = tmp_path_factory.getbasetemp()
    cache = (base.parent if os.environ.get("PYTEST_XDIST_WORKER") else base) / "checkov"
    cache.mkdir(exist_ok=True)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("BC_", "CKV_", "CHECKOV_", "PRISMA_"))} | OFFLINE_ENV

    def run(values: dict) -> dict:
        manifests = yaml.safe_dump_all(render_chart(values, release=RELEASE, namespace=NAMESPACE), sort_keys=False)
        key = hashlib.sha256(manifests.encode()).hexdigest()[:16]
        report = cache / f"{key}.json"
        with open(cache / f"{key}.lock", "w") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            if not report.exists():
                (cache / f"{key}.yaml").write_text(manifests)
                proc = subprocess.run([*CHECKOV, "--file", f"{key}.yaml"], cwd=cache, env=env, capture_output=True, text=True, check=False)
                assert proc.returncode in (0, 1), proc.stderr  # 1: some check failed
                report.write_text(proc.stdout)
        result = json.loads(report.read_text())
        assert result["summary"]["parsing_errors"] == 0 and result["summary"]["resource_count"] > 0, result["summary"]
        return result

    return run


def failures(report: dict) -> dict[tuple[str, str], str]:
    return {(f["check_id"], resource(f["resource"])): f["check_name"] for f in report["results"]["failed_checks"]}


@pytest.mark.parametrize("values_file", RENDERS)
def test_only_deliberate_checks_fail(scan, values_file):
    """Every failed check is a deliberate exception listed with its reason in the chart README."""
    allowed = exceptions()
    unexpected = sorted((key, name) for key, name in failures(scan(RENDERS[values_file])).items() if key not in allowed)
    assert not unexpected, "\n".join(
        f"{values_file}: checkov fails {check} ({name}) on {res}; fix the chart, or add a row with the reason to the Security scan table of charts/redis-ha/README.md"
        for (check, res), name in unexpected
    )


def test_every_exception_is_still_needed(scan):
    """A listed exception that no render fails any more is stale and must leave the README."""
    failing = set().union(*(failures(scan(values)) for values in RENDERS.values()))
    stale = sorted(exceptions() - failing)
    assert not stale, "\n".join(f"README Security scan lists {check} on {res}, but no render fails it any more: remove the row" for check, res in stale)
