# SPDX-License-Identifier: Apache-2.0
"""What the chart creates, by (kind, name), for the defaults, the co-located layout and the non-HA mode."""
from pathlib import Path

import pytest
import yaml

from tests.helm import CHART, of_kind, render_chart

COLOCATED = {"sentinel": {"colocated": True}}


def kinds_names(docs):
    return sorted((d["kind"], d["metadata"]["name"]) for d in docs)


COLOCATED_OBJECTS = [
    ("ConfigMap", "redis-ha-config"),
    ("ConfigMap", "redis-ha-scripts"),
    ("Job", "redis-ha-rollout"),
    ("NetworkPolicy", "redis-ha"),
    ("Pod", "redis-ha-test"),
    ("PodDisruptionBudget", "redis-ha"),
    ("Role", "redis-ha-role-label"),
    ("RoleBinding", "redis-ha-role-label"),
    ("Secret", "redis-ha"),
    ("Service", "redis-ha"),
    ("Service", "redis-ha-headless"),
    ("Service", "redis-ha-master"),
    ("Service", "redis-ha-replicas"),
    ("ServiceAccount", "redis-ha"),
    ("StatefulSet", "redis-ha"),
]
# Sentinels in pods of their own (the default): their StatefulSet and its PodDisruptionBudget.
DEFAULT_OBJECTS = COLOCATED_OBJECTS + [("PodDisruptionBudget", "redis-ha-sentinel"), ("StatefulSet", "redis-ha-sentinel")]


def test_default_render_is_exactly_the_expected_objects(default_docs):
    """Defaults on a cluster with the Prometheus Operator API: the HA topology with the Sentinel StatefulSet, plus the PrometheusRule."""
    assert kinds_names(default_docs) == sorted(DEFAULT_OBJECTS + [("PrometheusRule", "redis-ha")])


def test_default_render_without_the_operator_api_has_no_prometheus_rule():
    """metrics.prometheusRule.enabled is on by default but skipped where the API is missing."""
    assert kinds_names(render_chart(api_versions=())) == sorted(DEFAULT_OBJECTS)


def test_colocated_render_has_no_sentinel_statefulset_or_budget():
    """sentinel.colocated: true is the earlier layout: one StatefulSet, one PodDisruptionBudget."""
    assert kinds_names(render_chart(COLOCATED, api_versions=())) == sorted(COLOCATED_OBJECTS)


@pytest.mark.parametrize("layout", [{}, COLOCATED], ids=["sentinel-pods", "colocated"])
def test_single_replica_mode_drops_pdbs_and_sentinel(layout):
    """replicas: 1 is the non-HA mode in either layout: no PDB, no Sentinel StatefulSet, no sentinel container."""
    docs = render_chart({"replicas": 1, **layout})
    assert not of_kind(docs, "PodDisruptionBudget")
    (sts,) = of_kind(docs, "StatefulSet")
    assert sts["metadata"]["name"] == "redis-ha"
    assert [c["name"] for c in sts["spec"]["template"]["spec"]["containers"]] == ["redis", "role-label", "metrics"]


def test_existing_secret_and_no_service_account_drop_those_objects():
    """auth.existingSecret and serviceAccount.create=false: the chart creates neither."""
    docs = render_chart({"auth": {"existingSecret": "mine"}, "serviceAccount": {"create": False}, "roleServices": {"enabled": False}, "tests": {"enabled": False}})
    assert {k for k, _ in kinds_names(docs)} == {"ConfigMap", "NetworkPolicy", "PodDisruptionBudget", "PrometheusRule", "Service", "StatefulSet"}


def test_every_template_has_a_helm_unittest_suite():
    """helm-unittest owns each template's contract: every file under templates/ (helpers aside) has a
    suite in charts/redis-ha/tests/ named after it (<template>_test.yaml, listing it), or shares one
    with one other template (the two ConfigMaps, the two Services); suites over many templates,
    like labels or tls, don't count."""
    own = set()
    for suite in sorted((CHART / "tests").glob("*_test.yaml")):
        listed = [t for t in yaml.safe_load(suite.read_text()).get("templates", []) if "*" not in t]
        named = [t for t in listed if Path(t).stem == suite.name.removesuffix("_test.yaml")]
        own.update(listed if len(listed) <= 2 else named)
    templates = {str(p.relative_to(CHART / "templates")) for p in (CHART / "templates").rglob("*") if p.is_file() and not p.name.startswith("_")}
    assert sorted(templates - own) == []
