# SPDX-License-Identifier: Apache-2.0
import pytest

from tests.helm import render_chart


@pytest.fixture(scope="session")
def default_docs():
    return render_chart()
