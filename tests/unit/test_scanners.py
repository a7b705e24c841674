# SPDX-License-Identifier: Apache-2.0
"""checkov and kube-score on the default render, every charts/redis-ha/ci/*-values.yaml render and
the AIKernel reference deployment: nothing fails without a reason annotation on the object (the
form each scanner honours, templates/_scan.tpl), every annotation gives its reason, and every
annotation is still needed: with the annotations stripped, exactly the annotated checks fail."""
from __future__ import annotations

import fcntl
import hashlib
import json
import os
import shutil
import subprocess
import sysconfig
from pathlib import Path

import pytest
import yaml

from tests.helm import CHART, ROOT, load_values_file, render_chart

# One worker runs every scanner test (--dist loadgroup): the others go on while checkov scans.
pytestmark = [pytest.mark.scan, pytest.mark.xdist_group("scanners")]

CHECKOV = [str(Path(sysconfig.get_path("scripts")) / "checkov"), "--framework", "kubernetes", "--skip-download", "--output", "json"]
# Offline: no PyPI version check (made at import unless skipped), no platform mappings; no API key
# or config from the environment, so nothing is uploaded and no check is skipped but by annotation.
OFFLINE_ENV = {"CKV_SKIP_PACKAGE_UPDATE_CHECK": "true", "BC_SKIP_MAPPING": "TRUE"}
# (values, release, namespace); not the namespace "default", which CKV_K8S_21 rejects.
RENDERS = (
    {"defaults": ({}, "redis-ha", "redis-ha")}
    | {f"ci/{p.name}": (load_values_file(p), "redis-ha", "redis-ha") for p in sorted((CHART / "ci").glob("*-values.yaml"))}
    | {"examples/aikernel-values.yaml": (load_values_file(ROOT / "examples" / "aikernel-values.yaml"), "redis", "aikernel")}
)
SCAN_ANNOTATIONS = ("checkov.io/skip", "ignore-check.kube-linter.io/", "kube-score/ignore", "redis-ha/kube-score-reason.")


def strip(docs: list[dict]) -> list[dict]:
    """The render without the scanners' annotations: what the chart would be without its reasons."""
    for doc in docs:
        annotations = doc.get("metadata", {}).get("annotations") or {}
        for key in [k for k in annotations if k.startswith(SCAN_ANNOTATIONS)]:
            del annotations[key]
    return docs


def kube_score() -> str:
    binary = shutil.which("kube-score")
    if not binary:
        pytest.fail("kube-score is not on PATH; ci/build-tools.sh builds it into $REDIS_HA_CACHE/bin")
    return binary


@pytest.fixture(scope="session")
def reports(tmp_path_factory) -> dict[tuple[str, str], dict]:
    """{(render, "annotated"|"stripped"): {"checkov": [...results], "kube-score": [...objects]}}.
    One checkov process scans every file (its start-up dominates); the reports are kept in a
    directory the xdist workers share, under a lock, so they are made once. They are keyed by what
    the renders are made from (the chart's files and the values), not by the renders: those differ
    from one render to the next (generated passwords and certificates)."""
    files = {}
    for name, (values, release, namespace) in RENDERS.items():
        docs = render_chart(values, release=release, namespace=namespace)
        files[(name, "annotated")] = yaml.safe_dump_all(docs, sort_keys=False)
        files[(name, "stripped")] = yaml.safe_dump_all(strip(docs), sort_keys=False)
    digest = hashlib.sha256(json.dumps(RENDERS, sort_keys=True, default=str).encode())
    for path in sorted(p for p in CHART.rglob("*") if p.is_file()):
        digest.update(str(path.relative_to(CHART)).encode() + b"\0" + path.read_bytes())
    key = digest.hexdigest()[:16]
    base = tmp_path_factory.getbasetemp()
    cache = (base.parent if os.environ.get("PYTEST_XDIST_WORKER") else base) / "scanners"
    cache.mkdir(exist_ok=True)
    report = cache / f"{key}.json"
    with open(cache / f"{key}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not report.exists():
            scan_dir = cache / key
            scan_dir.mkdir(exist_ok=True)
            paths = {}
            for i, ((name, variant), text) in enumerate(sorted(files.items())):
                path = scan_dir / f"{i:02d}-{variant}.yaml"
                path.write_text(text)
                paths[path.name] = (name, variant)
            env = {k: v for k, v in os.environ.items() if not k.startswith(("BC_", "CKV_", "CHECKOV_", "PRISMA_"))} | OFFLINE_ENV
            proc = subprocess.run([*CHECKOV, "--directory", key], cwd=cache, env=env, capture_output=True, text=True, check=False)
            assert proc.returncode in (0, 1), proc.stderr  # 1: some check failed
            checkov = json.loads(proc.stdout)
            assert checkov["summary"]["parsing_errors"] == 0, checkov["summary"]
            out: dict[str, dict] = {f"{n}|{v}": {"checkov": [], "kube-score": None} for n, v in paths.values()}
            for result in ("failed_checks", "skipped_checks"):
                for r in checkov["results"][result]:
                    name, variant = paths[Path(r["file_path"]).name]
                    out[f"{name}|{variant}"]["checkov"].append(
                        {"check": r["check_id"], "resource": r["resource"], "result": r["check_result"]["result"], "reason": r["check_result"].get("suppress_comment", "")})
            for filename, (name, variant) in paths.items():
                proc = subprocess.run([kube_score(), "score", "--output-format", "json", str(scan_dir / filename)], capture_output=True, text=True, check=False)
                assert proc.returncode in (0, 1), proc.stderr  # 1: some check is critical
                out[f"{name}|{variant}"]["kube-score"] = json.loads(proc.stdout)
            report.write_text(json.dumps(out))
    data = json.loads(report.read_text())
    return {tuple(k.split("|")): v for k, v in data.items()}


def checkov(reports, name: str, variant: str, result: str) -> dict[tuple[str, str], str]:
    return {(r["check"], r["resource"]): r["reason"] for r in reports[(name, variant)]["checkov"] if r["result"] == result}


def kube_score_findings(reports, name: str, variant: str) -> dict[tuple[str, str], list[str]]:
    """(object, check) -> comments of every check kube-score grades below OK and did not skip."""
    found = {}
    for obj in reports[(name, variant)]["kube-score"]:
        for check in obj["checks"]:
            if check["grade"] < 10 and not check["skipped"]:
                found[(obj["object_name"], check["check"]["id"])] = [c["summary"] for c in check["comments"]]
    return found


def kube_score_ignored(name: str) -> dict[tuple[str, str], str]:
    """(object, check) -> reason, from the kube-score/ignore annotations of the annotated render."""
    values, release, namespace = RENDERS[name]
    ignored = {}
    for doc in render_chart(values, release=release, namespace=namespace):
        annotations = doc["metadata"].get("annotations") or {}
        version = doc["apiVersion"]
        obj = f"{doc['kind']}/{version}/{namespace}/{doc['metadata']['name']}"
        for check in filter(None, annotations.get("kube-score/ignore", "").split(",")):
            ignored[(obj, check)] = annotations.get(f"redis-ha/kube-score-reason.{check}", "")
    return ignored


@pytest.mark.parametrize("name", RENDERS)
class TestCheckov:
    def test_nothing_fails_without_a_reason(self, reports, name):
        """Every check checkov fails on the render is skipped by an annotation with the reason."""
        failed = checkov(reports, name, "annotated", "FAILED")
        assert not failed, "\n".join(
            f"{name}: checkov fails {check} on {res}; fix the chart, or add the reason to templates/_scan.tpl" for check, res in sorted(failed))

    def test_every_skip_gives_its_reason(self, reports, name):
        skipped = checkov(reports, name, "annotated", "SKIPPED")
        short = {k: v for k, v in skipped.items() if len(v.split()) < 8}
        assert not short, short

    def test_every_skip_is_still_needed(self, reports, name):
        """Without the annotations exactly the annotated checks fail: none is stale, none hides a pass."""
        assert set(checkov(reports, name, "annotated", "SKIPPED")) == set(checkov(reports, name, "stripped", "FAILED"))


@pytest.mark.parametrize("name", RENDERS)
class TestKubeScore:
    def test_nothing_fails_without_a_reason(self, reports, name):
        """kube-score grades every check OK, or the object's kube-score/ignore annotation names it."""
        found = kube_score_findings(reports, name, "annotated")
        assert not found, "\n".join(f"{name}: kube-score {check} on {obj}: {comments}" for (obj, check), comments in sorted(found.items()))

    def test_every_ignore_gives_its_reason(self, name):
        ignored = kube_score_ignored(name)
        short = {k: v for k, v in ignored.items() if len(v.split()) < 8}
        assert not short, short

    def test_every_ignore_is_still_needed(self, reports, name):
        """Without the annotations exactly the ignored checks fail."""
        assert set(kube_score_ignored(name)) == set(kube_score_findings(reports, name, "stripped"))


@pytest.mark.parametrize("name", RENDERS)
def test_every_kube_linter_ignore_gives_its_reason(name):
    """kube-linter reads ignore-check.kube-linter.io/<check>: <reason>; no reason is empty."""
    values, release, namespace = RENDERS[name]
    for doc in render_chart(values, release=release, namespace=namespace):
        for key, reason in (doc["metadata"].get("annotations") or {}).items():
            if key.startswith("ignore-check.kube-linter.io/"):
                assert len(reason.split()) >= 8, (doc["metadata"]["name"], key)


def test_annotations_go_when_the_values_remove_their_cause():
    """The annotations follow the values: a digest, pull policy Always and every limit (the role-label
    container's included) leave none on the StatefulSets but the role-label container's missing
    readiness probe, which goes with roleServices.enabled."""
    values = {
        "image": {"digest": "sha256:" + "0" * 64, "pullPolicy": "Always"},
        "metrics": {"image": {"digest": "sha256:" + "1" * 64, "pullPolicy": "Always"},
                    "resources": {"requests": {"ephemeral-storage": "1Mi"}, "limits": {"cpu": "100m", "memory": "64Mi", "ephemeral-storage": "64Mi"}}},
        "redis": {"resources": {"requests": {"ephemeral-storage": "1Mi"}, "limits": {"cpu": "1", "memory": "1Gi", "ephemeral-storage": "64Mi"}}},
        "sentinel": {"resources": {"requests": {"ephemeral-storage": "1Mi"}, "limits": {"cpu": "100m", "memory": "128Mi", "ephemeral-storage": "64Mi"}}},
        "roleServices": {"image": {"digest": "sha256:" + "2" * 64, "pullPolicy": "Always"},
                         "resources": {"requests": {"ephemeral-storage": "1Mi"}, "limits": {"cpu": "100m", "memory": "32Mi", "ephemeral-storage": "16Mi"}}},
    }
    for role_services, left in ((True, {"checkov.io/skip1": "CKV_K8S_9="}), (False, {})):
        for doc in render_chart({**values, "roleServices": {**values["roleServices"], "enabled": role_services}}):
            if doc["kind"] == "StatefulSet":
                found = {k: v for k, v in (doc["metadata"].get("annotations") or {}).items() if k.startswith(SCAN_ANNOTATIONS)}
                expected = left if doc["metadata"]["name"] == "redis-ha" else {}
                assert {k: v[:len(expected[k])] for k, v in found.items() if k in expected} == expected, doc["metadata"]["name"]
                assert set(found) == set(expected), (doc["metadata"]["name"], found)
