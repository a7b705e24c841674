# SPDX-License-Identifier: Apache-2.0
"""Chaos profiles (tests/chaos/profiles/*.yaml): which chart to install and how to find its
pods, master set, password and Sentinels. The format is documented in tests/chaos/README.md."""
from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from tests.e2e.kube import ROOT, Layout, Release

PROFILES = Path(__file__).with_name("profiles")
LAYOUT_KEYS = {f for f in Layout.__dataclass_fields__ if f not in ("fullname", "namespace", "replicas", "sentinels", "colocated", "release")}


def deep_merge(a: dict, b: dict) -> dict:
    out = dict(a)
    for k, v in b.items():
        out[k] = deep_merge(out[k], v) if isinstance(v, dict) and isinstance(out.get(k), dict) else v
    return out


def resolve(path: str) -> Path:
    p = Path(os.path.expandvars(os.path.expanduser(path)))
    return p if p.is_absolute() else ROOT / p


@dataclass
class Profile:
    name: str
    file: Path
    chart: str
    release: str
    namespace: str
    values_files: list[Path] = field(default_factory=list)
    set: dict = field(default_factory=dict)
    layout: dict | str = "chart"
    auth: dict | None = None
    client_labels: dict | None = None
    pod_security: str = "restricted"
    skip: dict = field(default_factory=dict)
    helm_args: list = field(default_factory=list)
    dns_probe: bool = True

    @classmethod
    def load(cls, name_or_path: str) -> "Profile":
        path = Path(name_or_path)
        if not path.suffix:
            path = PROFILES / f"{name_or_path}.yaml"
        path = path if path.is_absolute() or path.exists() else resolve(str(path))
        if not path.exists():
            raise AssertionError(f"chaos profile {name_or_path!r} not found (looked for {path})")
        doc = yaml.safe_load(path.read_text()) or {}
        unknown = set(doc) - {"name", "chart", "release", "namespace", "values", "set", "layout", "auth", "client_labels",
                              "pod_security", "skip", "helm_args", "dns_probe", "description"}
        if unknown:
            raise AssertionError(f"{path}: unknown keys {sorted(unknown)}")
        for key in ("name", "chart", "release"):
            if key not in doc:
                raise AssertionError(f"{path}: '{key}' is required")
        chart = doc["chart"]
        if not chart.startswith(("oci://", "http://", "https://")) and "/" in chart and not chart.startswith(("./", "../")) and resolve(chart).exists():
            chart = str(resolve(chart))
        skip = doc.get("skip") or {}
        if isinstance(skip, list):
            skip = {s: "skipped by the profile" for s in skip}
        return cls(doc["name"], path, chart, doc["release"], doc.get("namespace") or f"chaos-{doc['name']}",
                   [resolve(v) for v in doc.get("values") or []], doc.get("set") or {}, doc.get("layout", "chart"),
                   doc.get("auth"), doc.get("client_labels"), doc.get("pod_security", "restricted"), skip,
                   list(doc.get("helm_args") or []), doc.get("dns_probe", True))

    def merged_values(self) -> dict:
        merged: dict = {}
        for f in self.values_files:
            merged = deep_merge(merged, yaml.safe_load(f.read_text()) or {})
        return deep_merge(merged, self.set)

    def make_layout(self, namespace: str) -> Layout:
        """layout: chart (or {from: chart, colocated: ...}) derives our chart's layout from the
        values, as the e2e harness does; a mapping with fullname, replicas, sentinels and templates
        describes another chart."""
        spec = self.layout
        if spec == "chart" or (isinstance(spec, dict) and spec.get("from") == "chart"):
            colocated = spec.get("colocated") if isinstance(spec, dict) else None
            return Layout.for_chart(self.release, namespace, self.merged_values(), colocated=colocated)
        if not isinstance(spec, dict):
            raise AssertionError(f"{self.file}: layout must be 'chart' or a mapping")
        missing = {"fullname", "replicas", "sentinels"} - set(spec)
        if missing:
            raise AssertionError(f"{self.file}: layout needs {sorted(missing)}")
        unknown = set(spec) - LAYOUT_KEYS - {"fullname", "replicas", "sentinels", "colocated"}
        if unknown:
            raise AssertionError(f"{self.file}: unknown layout keys {sorted(unknown)} (known: {sorted(LAYOUT_KEYS)})")
        layout = Layout(spec["fullname"].format(release=self.release), namespace, int(spec["replicas"]), int(spec["sentinels"]),
                        bool(spec.get("colocated", False)), release=self.release,
                        **{k: v for k, v in spec.items() if k in LAYOUT_KEYS})
        return layout

    def make_release(self, core, namespace: str | None = None) -> Release:
        namespace = namespace or self.namespace
        layout = self.make_layout(namespace)
        auth = self.auth or {}
        secret = (auth["secret"].format(fullname=layout.fullname, release=self.release), auth.get("key", "password")) if auth.get("secret") else None
        rel = Release(core, Path(self.chart), self.release, namespace, dict(self.set), layout.replicas, layout=layout,
                      values_files=list(self.values_files), password_secret=secret, sentinel_auth=auth.get("sentinel", True),
                      client_labels=self.client_labels, extra_helm_args=list(self.helm_args))
        if auth.get("enabled") is False:
            rel.values = deep_merge(rel.values, {"auth": {"enabled": False}})
        return rel
