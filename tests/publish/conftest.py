# SPDX-License-Identifier: Apache-2.0
from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from tests.helm import CHART


@pytest.fixture(scope="session")
def chart_package(tmp_path_factory) -> Path:
    """The chart packaged once, as `helm package` makes the release artifact."""
    out = tmp_path_factory.mktemp("package")
    subprocess.run(["helm", "package", str(CHART), "--destination", str(out)], check=True, capture_output=True, text=True)
    (package,) = out.glob("*.tgz")
    return package
