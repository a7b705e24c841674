# SPDX-License-Identifier: Apache-2.0
"""The chart's alerts and dashboard against real data: Redis, Sentinel and redis_exporter
processes on loopback (tests/metrics/stack.py) scraped by a real Prometheus that evaluates the
rules rendered from the chart. No mocks: every metric name, expression and alert is checked
against what the exporter really exports."""
from __future__ import annotations

import contextlib
import json
import re

import pytest

from tests.helm import CHART
from tests.metrics.conftest import VARIANTS
from tests.metrics.rules import alerts, rule_groups
from tests.metrics.stack import JOB, wait_for

pytestmark = pytest.mark.xdist_group("metrics-live")

ALERT_NAMES = sorted(alerts(rule_groups()))
DASHBOARD = json.loads((CHART / "files" / "dashboards" / "redis-ha.json").read_text())
PANEL_TARGETS = [
    pytest.param(t["expr"], id=f"{p['title']}/{t['refId']}")
    for p in DASHBOARD["panels"] for t in p.get("targets", [])
]
# Dashboard variables as Grafana fills them for the healthy release.
VARIABLES = {"$namespace": "cache", "$release": "redis-ha", "$__rate_interval": "1m"}
METRIC = re.compile(r"\b([a-zA-Z_:][a-zA-Z0-9_:]*)\{")


def variants_of(name: str) -> list[str]:
    return [v for v, (_, _, firing) in VARIANTS.items() if name in firing]


def firing(prom, variant: str) -> set[str]:
    namespace = VARIANTS[variant][0]
    result = prom.query(f'ALERTS{{alertstate="firing",variant="{variant}",namespace="{namespace}"}}')
    return {s["metric"]["alertname"] for s in result}


def dashboard_expr(expr: str) -> str:
    for var, value in VARIABLES.items():
        expr = expr.replace(var, value)
    assert "$" not in expr, expr
    return expr


def test_metric_names_come_from_a_live_scrape(live):
    """Every metric the alerts and the dashboard use is in a real exporter's /metrics output."""
    exported = set()
    for target in live.stack.targets:
        try:
            text = live.stack.scrape(target.address)
        except OSError:
            continue  # the target with no exporter behind it
        exported |= {line.split("{")[0].split(" ")[0] for line in text.splitlines() if line and not line.startswith("#")}
    used = {m for rule in live.rules["default"].values() for m in METRIC.findall(rule["expr"])}
    used |= {m for p in PANEL_TARGETS for m in METRIC.findall(p.values[0])}
    used -= {"up", "ALERTS"}  # Prometheus' own series
    assert used and not used - exported, f"not exported by redis_exporter: {sorted(used - exported)}"


@pytest.mark.parametrize("name", ALERT_NAMES)
def test_alert_fires_on_real_data(live, name):
    """The alert's expression returns data through the HTTP API and the alert fires in Prometheus:
    on the broken release's real faults, or on the healthy release with thresholds lowered."""
    assert variants_of(name), f"{name} has no live scenario in tests/metrics/conftest.py"
    for variant in variants_of(name):
        expr = live.rules[variant][name]["expr"]
        assert wait_for(f"data for {name} ({variant})", lambda: live.prometheus.query(expr), timeout=60), expr
        wait_for(f"{name} firing ({variant})", lambda: name in firing(live.prometheus, variant), timeout=60)


def test_each_rule_set_fires_exactly_its_alerts(live):
    """No alert fires where it should not: the default thresholds stay quiet on the healthy
    release, and the broken release raises only the alerts of its faults."""
    # Every `for` is 0s here, so a single late scrape on a busy machine can flash an alert for a
    # second; an alert that really fires where it should not keeps the sets apart until the timeout.
    for variant, (_, _, expected) in VARIANTS.items():
        with contextlib.suppress(TimeoutError):
            wait_for(f"{variant} settled", lambda: firing(live.prometheus, variant) == expected, timeout=60)
        assert firing(live.prometheus, variant) == expected, variant


@pytest.mark.parametrize("expr", PANEL_TARGETS)
def test_dashboard_query_returns_data(live, expr):
    """Every panel query of the dashboard, with its variables set to the healthy release, returns data."""
    query = dashboard_expr(expr)
    result = wait_for(f"data for {query}", lambda: live.prometheus.query(query), timeout=60)
    assert all(s["value"][1] not in ("NaN", "+Inf", "-Inf") for s in result), result


def test_dashboard_variables_find_the_release(live):
    """The namespace and release variables' queries list the healthy release as Grafana shows it."""
    variables = {v["name"]: v for v in DASHBOARD["templating"]["list"]}
    namespaces = live.prometheus.get("/api/v1/label/namespace/values", **{"match[]": "redis_up"})
    assert "cache" in namespaces
    jobs = live.prometheus.get("/api/v1/label/job/values", **{"match[]": 'redis_up{namespace="cache"}'})
    pattern = re.compile(variables["release"]["regex"].strip("/"))
    assert jobs == [JOB] and [pattern.match(j).group(1) for j in jobs] == [VARIABLES["$release"]]
    assert variables["namespace"]["query"]["query"] == "label_values(redis_up, namespace)"
    assert variables["release"]["query"]["query"] == 'label_values(redis_up{namespace="$namespace"}, job)'
