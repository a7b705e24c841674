# SPDX-License-Identifier: Apache-2.0
import shutil

import pytest

from tests.scripts.harness import Cluster


def pytest_configure(config):
    missing = [tool for tool in ("redis-server", "redis-sentinel", "redis-cli", "unshare") if not shutil.which(tool)]
    if missing:
        raise pytest.UsageError(f"the script tests need {missing} on PATH (ci/bootstrap.sh installs them)")


@pytest.fixture
def make_cluster(tmp_path):
    clusters = []

    def make(**kw):
        c = Cluster(tmp_path / f"c{len(clusters)}", **kw)
        clusters.append(c)
        return c

    yield make
    for c in clusters:
        c.release()
