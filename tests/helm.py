# SPDX-License-Identifier: Apache-2.0
"""The one way tests render the chart: the real helm binary, values on stdin, results cached."""
from __future__ import annotations

import functools
import hashlib
import json
import os
import subprocess
from pathlib import Path

import jmespath
import yaml

ROOT = Path(__file__).resolve().parent.parent
CHART = ROOT / "charts" / "redis-ha"
KUBE_VERSION = "1.33.0"
MONITORING_APIS = ("monitoring.coreos.com/v1", "monitoring.coreos.com/v1/ServiceMonitor", "monitoring.coreos.com/v1/PodMonitor", "monitoring.coreos.com/v1/PrometheusRule")
CERT_MANAGER_APIS = ("cert-manager.io/v1", "cert-manager.io/v1/Certificate")


class HelmTemplateError(Exception):
    """helm refused to render; the message is helm's stderr."""


def helm_binary() -> str:
    return os.environ.get("HELM", "helm")


# libyaml's parser when PyYAML has it: the renders are large and parsing dominates a cached run.
_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


@functools.lru_cache(maxsize=None)
def _render(values_json: str, release: str, namespace: str, kube_version: str, api_versions: tuple[str, ...], helm: str, show_only: tuple[str, ...]) -> tuple:
    cmd = [helm, "template", release, str(CHART), "--namespace", namespace, "--kube-version", kube_version, "--values", "-"]
    for api in api_versions:
        cmd += ["--api-versions", api]
    for template in show_only:
        cmd += ["--show-only", template]
    # REDIS_HA_RENDER_CACHE (set by tests/conftest.py for a pytest session): a folder the xdist
    # workers share, so each distinct render runs helm once per session, not once per worker.
    shared = os.environ.get("REDIS_HA_RENDER_CACHE")
    entry = Path(shared) / (hashlib.sha256(json.dumps([cmd, values_json]).encode()).hexdigest()[:32] + ".json") if shared else None
    if entry and entry.exists():
        result = json.loads(entry.read_text())
    else:
        proc = subprocess.run(cmd, input=values_json, capture_output=True, text=True, check=False)
        result = {"error": proc.stderr} if proc.returncode != 0 else {"docs": [doc for doc in yaml.load_all(proc.stdout, Loader=_LOADER) if doc]}
        if entry:
            tmp = entry.with_suffix(f".{os.getpid()}.tmp")
            tmp.write_text(json.dumps(result))
            tmp.replace(entry)
    if "error" in result:
        raise HelmTemplateError(result["error"])
    return tuple(result["docs"])


def render_chart(
    values: dict | None = None,
    *,
    release: str = "redis-ha",
    namespace: str = "default",
    kube_version: str = KUBE_VERSION,
    api_versions: tuple[str, ...] = MONITORING_APIS + CERT_MANAGER_APIS,
    helm: str | None = None,
    show_only: tuple[str, ...] = (),
) -> list[dict]:
    """Render the chart with `values` and return the parsed manifests (copies, safe to mutate)."""
    docs = _render(json.dumps(values or {}, sort_keys=True), release, namespace, kube_version, tuple(api_versions), helm or helm_binary(), tuple(show_only))
    return json.loads(json.dumps(docs))


def by_kind_name(docs: list[dict], kind: str, name: str) -> dict:
    """The one manifest of `kind` called `name`; KeyError naming what exists otherwise."""
    for doc in docs:
        if doc["kind"] == kind and doc["metadata"]["name"] == name:
            return doc
    raise KeyError(f"no {kind}/{name} in {sorted((d['kind'], d['metadata']['name']) for d in docs)}")


def of_kind(docs: list[dict], kind: str) -> list[dict]:
    return [d for d in docs if d["kind"] == kind]


def container(pod_spec_owner: dict, name: str) -> dict:
    """A container found by name in a StatefulSet or Pod manifest."""
    spec = pod_spec_owner["spec"].get("template", {}).get("spec") or pod_spec_owner["spec"]
    found = jmespath.search(f"containers[?name=='{name}'] | [0]", spec)
    if found is None:
        raise KeyError(f"no container {name!r}; have {[c['name'] for c in spec['containers']]}")
    return found


def statefulset_of(docs: list[dict], name: str) -> dict:
    """The one StatefulSet whose pods run the container `name` (Redis or Sentinel set, by layout)."""
    holders = [d for d in docs if d["kind"] == "StatefulSet" and jmespath.search(f"spec.template.spec.containers[?name=='{name}'] | [0]", d)]
    if len(holders) != 1:
        have = {d["metadata"]["name"]: [c["name"] for c in d["spec"]["template"]["spec"]["containers"]] for d in of_kind(docs, "StatefulSet")}
        raise KeyError(f"container {name!r} is in {len(holders)} StatefulSets; have {have}")
    return holders[0]


def env_of(c: dict) -> dict:
    """Plain env values of a container by name (secretKeyRef entries map to their valueFrom)."""
    return {e["name"]: e.get("value", e.get("valueFrom")) for e in c.get("env", [])}


def load_values_file(path: Path) -> dict:
    return yaml.safe_load(path.read_text()) or {}
