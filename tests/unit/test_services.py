# SPDX-License-Identifier: Apache-2.0
"""What the Services, the Secret and the budgets share with the StatefulSets. Each template's own
fields are its helm-unittest suite's (services_test, secret_test, pdb_test, pdb-sentinel_test,
servicemonitor_test); these checks need two templates at once."""
import base64

import pytest

from tests.helm import by_kind_name, of_kind, render_chart

RELEASE_PODS = {"app.kubernetes.io/name": "redis-ha", "app.kubernetes.io/instance": "redis-ha"}
LAYOUTS = [pytest.param({}, id="sentinel-pods"), pytest.param({"sentinel": {"colocated": True}}, id="colocated")]


@pytest.mark.parametrize("layout", LAYOUTS)
@pytest.mark.parametrize("service", ["redis-ha", "redis-ha-headless"])
def test_services_select_every_pod_of_the_release(service, layout):
    """Both Services select Redis and Sentinel pods (name and instance, no component); each port reaches the pods that have it."""
    docs = render_chart(layout)
    svc = by_kind_name(docs, "Service", service)["spec"]
    assert svc["selector"] == RELEASE_PODS
    named_ports = {p["name"] for sts in of_kind(docs, "StatefulSet") for c in sts["spec"]["template"]["spec"]["containers"] for p in c.get("ports", [])}
    assert {p["targetPort"] for p in svc["ports"]} <= named_ports
    for sts in of_kind(docs, "StatefulSet"):
        assert RELEASE_PODS.items() <= sts["spec"]["template"]["metadata"]["labels"].items()


def test_checksum_matches_the_rendered_secret():
    """The generated password is computed once, so the checksum is that of the Secret actually rendered."""
    docs = render_chart({"nameOverride": "once"})
    password = base64.b64decode(by_kind_name(docs, "Secret", "redis-ha-once")["data"]["password"]).decode()
    given = render_chart({"nameOverride": "once", "auth": {"password": password}})

    def checksum(d):
        return by_kind_name(d, "StatefulSet", "redis-ha-once")["spec"]["template"]["metadata"]["annotations"]["checksum/secret"]

    assert checksum(docs) == checksum(given)


def test_pdb_min_available_is_for_redis_pods_only():
    """pdb.minAvailable sets the Redis budget; the Sentinel budget stays a majority of the Sentinels."""
    docs = render_chart({"replicas": 5, "pdb": {"minAvailable": 4}})
    assert by_kind_name(docs, "PodDisruptionBudget", "redis-ha")["spec"]["minAvailable"] == 4
    assert by_kind_name(docs, "PodDisruptionBudget", "redis-ha-sentinel")["spec"]["minAvailable"] == 2


def test_each_budget_selects_exactly_its_statefulset_pods():
    """Each budget's selector is its StatefulSet's, not the other one's."""
    docs = render_chart()
    for pdb, own, other in (("redis-ha-sentinel", "redis-ha-sentinel", "redis-ha"), ("redis-ha", "redis-ha", "redis-ha-sentinel")):
        selector = by_kind_name(docs, "PodDisruptionBudget", pdb)["spec"]["selector"]
        assert selector == by_kind_name(docs, "StatefulSet", own)["spec"]["selector"]
        assert selector != by_kind_name(docs, "StatefulSet", other)["spec"]["selector"]
