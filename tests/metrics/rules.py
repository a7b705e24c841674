# SPDX-License-Identifier: Apache-2.0
"""The chart's alerts as Prometheus sees them: rule groups taken from the rendered PrometheusRule,
and the few Go-template functions their annotations use, to predict what promtool renders."""
from __future__ import annotations

import math
import re
import shutil
from pathlib import Path

import yaml

from tests.helm import by_kind_name, render_chart

RELEASE = "redis-ha"


def rule_groups(values: dict | None = None, *, namespace: str = "default") -> list[dict]:
    """spec.groups of the PrometheusRule rendered with `values` (monitoring APIs present)."""
    docs = render_chart(values, release=RELEASE, namespace=namespace)
    return by_kind_name(docs, "PrometheusRule", RELEASE)["spec"]["groups"]


def alerts(groups: list[dict]) -> dict[str, dict]:
    """Alerting rules by name."""
    return {r["alert"]: r for g in groups for r in g["rules"] if "alert" in r}


def write_rules(groups: list[dict], path: Path) -> Path:
    path.write_text(yaml.safe_dump({"groups": groups}, sort_keys=False))
    return path


def binary(name: str) -> str:
    """Absolute path of a tool ci/bootstrap.sh installs; fails with the fix when it is missing."""
    found = shutil.which(name)
    if not found:
        raise RuntimeError(f"{name} is not installed; run `bash ci/bootstrap.sh` (Debian packages prometheus, prometheus-redis-exporter)")
    return found


def seconds(duration: str) -> int:
    """Prometheus duration ("1h30m", "0m", "90s") in seconds."""
    units = {"ms": 0.001, "s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800, "y": 31536000}
    parts = re.findall(r"(\d+)(ms|s|m|h|d|w|y)", duration)
    if "".join(n + u for n, u in parts) != duration:
        raise ValueError(f"not a Prometheus duration: {duration!r}")
    return int(sum(int(n) * units[u] for n, u in parts))


def go_value(v: float) -> str:
    """fmt %v of a float64, as `{{ $value }}` prints it."""
    if v == int(v) and abs(v) < 1e21:
        return str(int(v))
    return repr(v)


def _g4(v: float) -> str:
    """Go's %.4g."""
    return "%.4g" % v


def humanize(v: float) -> str:
    """Prometheus' humanize template function."""
    if v == 0 or math.isnan(v) or math.isinf(v):
        return _g4(v)
    prefix = ""
    if abs(v) >= 1:
        for p in ("k", "M", "G", "T", "P", "E", "Z", "Y"):
            if abs(v) < 1000:
                break
            prefix, v = p, v / 1000
        return _g4(v) + prefix
    for p in ("m", "u", "n", "p", "f", "a", "z", "y"):
        if abs(v) >= 1:
            break
        prefix, v = p, v * 1000
    return _g4(v) + prefix


def humanize1024(v: float) -> str:
    """Prometheus' humanize1024 template function."""
    if abs(v) <= 1 or math.isnan(v) or math.isinf(v):
        return _g4(v)
    prefix = ""
    for p in ("ki", "Mi", "Gi", "Ti", "Pi", "Ei", "Zi", "Yi"):
        if abs(v) < 1024:
            break
        prefix, v = p, v / 1024
    return _g4(v) + prefix


FILTERS = {"": go_value, "humanize": humanize, "humanize1024": humanize1024, "humanizePercentage": lambda v: _g4(v * 100) + "%"}
ACTION = re.compile(r"\{\{\s*(\$labels\.(\w+)|\$value(?:\s*\|\s*(\w+))?)\s*\}\}")


def expand(text: str, labels: dict[str, str], value: float) -> str:
    """The annotation `text` as Prometheus renders it for an alert with `labels` and `value`.
    Supports `{{ $labels.x }}` and `{{ $value }}` with the filters above; anything else fails, so
    an annotation using more templating must extend this first."""

    def one(m: re.Match) -> str:
        if m.group(2):
            return labels.get(m.group(2), "<no value>")
        return FILTERS[m.group(3) or ""](value)

    out = ACTION.sub(one, text)
    if "{{" in out:
        raise ValueError(f"annotation uses templating tests/metrics/rules.py cannot predict: {text!r}")
    return out
