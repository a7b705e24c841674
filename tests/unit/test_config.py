# SPDX-License-Identifier: Apache-2.0
"""files/scripts as the scripts ConfigMap ships them. The ConfigMaps' rendered lines are their
helm-unittest suite's (configmaps_test)."""
from pathlib import Path

from tests.helm import CHART, by_kind_name, render_chart


class TestScripts:
    def test_every_script_is_shipped(self):
        """All files/scripts/*.sh are in the scripts ConfigMap, byte for byte."""
        data = by_kind_name(render_chart(), "ConfigMap", "redis-ha-scripts")["data"]
        scripts = {p.name: p.read_text() for p in (CHART / "files" / "scripts").glob("*.sh")}
        assert data == scripts

    def test_scripts_have_no_template_actions(self):
        """The scripts are plain POSIX sh, not templates (CONTRIBUTING.md, "Add script behaviour")."""
        for p in Path(CHART / "files" / "scripts").glob("*.sh"):
            assert "{{" not in p.read_text(), p.name
