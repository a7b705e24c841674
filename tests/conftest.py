# SPDX-License-Identifier: Apache-2.0
import os

import pytest

from tests.helm import render_chart


@pytest.fixture(scope="session")
def default_docs():
    return render_chart()


@pytest.fixture(scope="session", autouse=True)
def shared_render_cache(tmp_path_factory):
    """Renders kept for this session in a folder every xdist worker sees (tests/helm.py)."""
    base = tmp_path_factory.getbasetemp()
    shared = (base.parent if os.environ.get("PYTEST_XDIST_WORKER") else base) / "renders"
    shared.mkdir(exist_ok=True)
    os.environ["REDIS_HA_RENDER_CACHE"] = str(shared)
    yield shared
