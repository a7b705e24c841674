# SPDX-License-Identifier: Apache-2.0
"""ci/values_docs.py: the chart README's parameter table and values.schema.json follow values.yaml."""
import importlib.util
import json
import shutil
import subprocess
import sys

import jsonschema
import pytest
import yaml

from tests.helm import CHART, ROOT

VALUES = yaml.safe_load((CHART / "values.yaml").read_text())
SCHEMA = json.loads((CHART / "values.schema.json").read_text())


def load_generator(monkeypatch):
    """A fresh copy of ci/values_docs.py (ci/ is not a package), registered for its dataclass."""
    spec = importlib.util.spec_from_file_location("values_docs", ROOT / "ci" / "values_docs.py")
    module = importlib.util.module_from_spec(spec)
    monkeypatch.setitem(sys.modules, "values_docs", module)
    spec.loader.exec_module(module)
    return module


def schema_leaves(node, path=()):
    """(path, default) of every schema property that carries a default."""
    for key, child in node.get("properties", {}).items():
        if "default" in child:
            yield path + (key,), child["default"]
        else:
            yield from schema_leaves(child, path + (key,))


def value_at(path):
    node = VALUES
    for part in path:
        node = node[part]
    return node


LEAVES = list(schema_leaves(SCHEMA))


class TestValuesDocs:
    def test_readmes_and_schema_are_current(self):
        """`ci/values_docs.py --check` passes: nobody edited values.yaml without `tox -e docs`."""
        proc = subprocess.run([sys.executable, "ci/values_docs.py", "--check"], cwd=ROOT, capture_output=True, text=True, check=False)
        assert proc.returncode == 0, proc.stdout + proc.stderr

    def test_values_yaml_validates_against_the_schema(self):
        """values.yaml defaults satisfy values.schema.json."""
        jsonschema.validate(VALUES, SCHEMA, cls=jsonschema.Draft7Validator)

    def test_schema_rejects_unknown_keys_in_chart_sections(self):
        """A misspelt key (redis.config.maxmemmory) fails validation and is named."""
        with pytest.raises(jsonschema.ValidationError, match="maxmemmory"):
            jsonschema.validate({"redis": {"config": {"maxmemmory": "1gb"}}}, SCHEMA, cls=jsonschema.Draft7Validator)

    def test_schema_has_defaults(self):
        """The walk below sees every documented parameter (guards against an empty comparison)."""
        assert len(LEAVES) > 50

    @pytest.mark.parametrize(("path", "default"), LEAVES, ids=[".".join(p) for p, _ in LEAVES])
    def test_schema_default_equals_values_yaml(self, path, default):
        """Each schema leaf default is the values.yaml default at that path."""
        assert value_at(path) == default

    def test_stale_readme_is_named(self, tmp_path, monkeypatch, capsys):
        """--check fails on an edited parameter table and names the chart README as stale."""
        gen = load_generator(monkeypatch)
        chart = tmp_path / "charts" / "redis-ha"
        (tmp_path / "ci").mkdir(parents=True)
        chart.mkdir(parents=True)
        for name in ("values.yaml", "values.schema.json", "README.md"):
            shutil.copy(CHART / name, chart / name)
        shutil.copy(ROOT / "ci" / "schema-overrides.yaml", tmp_path / "ci" / "schema-overrides.yaml")
        readme = (chart / "README.md").read_text()
        assert "| `replicas` |" in readme
        (chart / "README.md").write_text(readme.replace("| `replicas` |", "| `replicaCount` |", 1))
        monkeypatch.setattr(gen, "ROOT", tmp_path)
        monkeypatch.setattr(gen, "VALUES", chart / "values.yaml")
        monkeypatch.setattr(gen, "SCHEMA", chart / "values.schema.json")
        monkeypatch.setattr(gen, "OVERRIDES", tmp_path / "ci" / "schema-overrides.yaml")
        monkeypatch.setattr(gen, "READMES", [chart / "README.md"])
        assert gen.main(["--check"]) == 1
        out = capsys.readouterr().out
        assert out.startswith("stale")
        assert [f.strip() for f in out.split(":", 1)[1].split(",")] == ["charts/redis-ha/README.md"]
        assert gen.main([]) == 0 and gen.main(["--check"]) == 0
        assert (chart / "README.md").read_text() == readme

    def test_only_the_chart_readme_carries_the_table(self, monkeypatch):
        """One generated table: the chart README has it, the root README links to it instead."""
        gen = load_generator(monkeypatch)
        assert gen.READMES == [CHART / "README.md"]
        assert "<!-- parameters:start -->" in (CHART / "README.md").read_text()
        root = (ROOT / "README.md").read_text()
        assert "<!-- parameters:start -->" not in root and "| `replicas` |" not in root
