# SPDX-License-Identifier: Apache-2.0
"""Cross-cutting invariants over every values set of the matrix: labels, hardening, secret hygiene."""
import pytest

from tests.matrix import MATRIX
from tests.helm import render_chart

REQUIRED_LABELS = {"app.kubernetes.io/name", "app.kubernetes.io/instance", "app.kubernetes.io/component", "app.kubernetes.io/version", "app.kubernetes.io/managed-by", "helm.sh/chart"}
PASSWORD = "matrix-password-%#&"


def containers_of(doc):
    spec = doc["spec"].get("template", {}).get("spec") if doc["kind"] in ("StatefulSet", "Job") else doc["spec"]
    return spec.get("initContainers", []) + spec["containers"], spec


def workloads(docs):
    return [d for d in docs if d["kind"] in ("StatefulSet", "Job", "Pod")]


@pytest.fixture(params=MATRIX, ids=[m.id for m in MATRIX], scope="module")
def docs(request):
    values = request.param.values
    if values.get("auth", {}).get("enabled", True):
        values = {**values, "auth": {**values.get("auth", {}), "password": PASSWORD}}
    return render_chart(values)


def test_every_object_has_the_standard_labels(docs):
    """Every object carries the recommended app.kubernetes.io labels."""
    for d in docs:
        assert REQUIRED_LABELS <= set(d["metadata"]["labels"]), d["metadata"]["name"]


def test_every_container_is_hardened(docs):
    """Non-root, read-only root, no privilege escalation, no capabilities, RuntimeDefault seccomp, resources."""
    for d in workloads(docs):
        containers, spec = containers_of(d)
        assert spec["securityContext"]["runAsNonRoot"] is True
        assert spec["securityContext"]["seccompProfile"] == {"type": "RuntimeDefault"}
        for c in containers:
            sc = c["securityContext"]
            assert sc["readOnlyRootFilesystem"] is True and sc["allowPrivilegeEscalation"] is False, c["name"]
            assert sc["capabilities"]["drop"] == ["ALL"], c["name"]
            assert c["resources"]["requests"], c["name"]


def test_password_only_in_secret(docs):
    """docs/design.md rule 4: not in ConfigMaps, args, commands or env values."""
    for d in docs:
        if d["kind"] == "Secret":
            continue
        if d["kind"] == "ConfigMap":
            assert PASSWORD not in str(d)
        for c in containers_of(d)[0] if d["kind"] in ("StatefulSet", "Job", "Pod") else []:
            assert PASSWORD not in str(c.get("command", [])) + str(c.get("args", []))
            for e in c.get("env", []):
                assert PASSWORD not in str(e.get("value", "")), e["name"]
                assert "secretKeyRef" in e.get("valueFrom", {"secretKeyRef": 1}) or "fieldRef" in e["valueFrom"]


def test_secret_volumes_are_0400(docs):
    """docs/design.md rule 4: mounted secret files (plain or projected Secret volumes) are owner-read-only."""
    for d in workloads(docs):
        for v in containers_of(d)[1]["volumes"]:
            if "secret" in v:
                assert v["secret"]["defaultMode"] == 0o400, v["name"]
            if "projected" in v:
                assert v["projected"]["defaultMode"] == 0o400, v["name"]
                # The role-label container's API token and the API server's CA; every other projection holds Secrets only.
                allowed = [{"serviceAccountToken"}, {"configMap"}] if v["name"] == "kube-api" else [{"secret"}]
                assert all(set(source) in allowed for source in v["projected"]["sources"]), v["name"]
            assert "mode" not in str(v).replace("defaultMode", ""), f"a per-item mode overrides 0400 in {v['name']}"


def test_probes_on_chart_containers(docs):
    """docs/design.md rule 7: every long-running chart container has a liveness probe, and every one
    that serves something a readiness probe; role-label serves nothing, and a readiness probe it
    failed would take the Redis pod out of its Services (docs/design.md, "Role Services")."""
    for d in docs:
        if d["kind"] != "StatefulSet":
            continue
        for c in d["spec"]["template"]["spec"]["containers"]:
            assert "livenessProbe" in c, c["name"]
            assert ("readinessProbe" in c) == (c["name"] != "role-label"), c["name"]
