# SPDX-License-Identifier: Apache-2.0
"""Every values set of the matrix renders, and every manifest passes strict schema validation
for Kubernetes 1.29 to 1.35."""
import json

import pytest

from tests import kube_schema
from tests.helm import render_chart
from tests.matrix import MATRIX


def test_matrix_is_large_enough():
    """The values matrix covers at least 100 combinations of the values that interact."""
    assert len(MATRIX) >= 100


@pytest.mark.parametrize("case", MATRIX, ids=[c.id for c in MATRIX])
def test_renders_and_validates_strictly(case):
    """All manifests are valid for every supported Kubernetes version."""
    docs = render_chart(case.values)
    assert any(d["kind"] == "StatefulSet" for d in docs)
    problems = []
    for doc in docs:
        if kube_schema.is_crd(doc):
            continue
        for version in kube_schema.KUBE_VERSIONS:
            problems += _errors(json.dumps(doc, sort_keys=True), version)
    assert not problems


_seen: dict = {}


def _errors(doc_json, version):
    """Identical manifests recur across combinations; validate each once per version."""
    key = (doc_json, version)
    if key not in _seen:
        _seen[key] = kube_schema.errors(json.loads(doc_json), version)
    return _seen[key]
