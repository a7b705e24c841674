#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""Generate the parameter table of the chart README and values.schema.json from values.yaml.

values.yaml documents every parameter with `## @param <path> <description>` and groups them
with `## @section <title>`. A path that has its own @param is a leaf: the schema gives it the
type of its default and does not constrain what is inside it (resources, affinity, ...); the
objects above the leaves reject unknown keys. ci/schema-overrides.yaml adds constraints.

    values_docs.py           rewrite the table and the schema
    values_docs.py --check   exit 1 and name the stale files instead of writing
"""
from __future__ import annotations

import json
import re
import sys
from dataclasses import dataclass
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parent.parent
CHART = ROOT / "charts" / "redis-ha"
VALUES = CHART / "values.yaml"
SCHEMA = CHART / "values.schema.json"
OVERRIDES = ROOT / "ci" / "schema-overrides.yaml"
# The one parameter table lives in the chart README, the manual `helm show readme` and Artifact
# Hub display; the root README links there instead of carrying a copy.
READMES = [CHART / "README.md"]
START, END = "<!-- parameters:start -->", "<!-- parameters:end -->"
PARAM = re.compile(r"^\s*## @param (\S+) (.+)$")
SECTION = re.compile(r"^\s*## @section (.+)$")


@dataclass
class Param:
    path: str
    description: str
    section: str
    default: object


def lookup(values: dict, path: str) -> object:
    node: object = values
    for part in path.split("."):
        if not isinstance(node, dict) or part not in node:
            raise KeyError(f"@param {path}: no such key in values.yaml")
        node = node[part]
    return node


def parse_params(text: str, values: dict) -> list[Param]:
    params, section = [], ""
    for line in text.splitlines():
        if m := SECTION.match(line):
            section = m.group(1).strip()
        elif m := PARAM.match(line):
            path = m.group(1)
            params.append(Param(path, m.group(2).strip(), section, lookup(values, path)))
    return params


def leaf_paths(values: dict, prefix: str = "") -> list[str]:
    """Every key path of values.yaml down to scalars, lists and empty maps."""
    out = []
    for key, val in values.items():
        path = f"{prefix}{key}"
        if isinstance(val, dict) and val:
            out.append(path)
            out.extend(leaf_paths(val, path + "."))
        else:
            out.append(path)
    return out


def undocumented(values: dict, params: list[Param]) -> list[str]:
    documented = {p.path for p in params}
    missing = []
    for path in leaf_paths(values):
        covered = any(path == d or path.startswith(d + ".") for d in documented)
        is_parent = any(d.startswith(path + ".") for d in documented)
        if not covered and not is_parent:
            missing.append(path)
    return missing


# bool before int: True is an int in Python.
JSON_TYPES = ((bool, "boolean"), (int, "integer"), (float, "number"), (str, "string"), (list, "array"), (dict, "object"))


def json_type(value: object) -> str:
    return next((name for kind, name in JSON_TYPES if isinstance(value, kind)), "null")


def build_schema(params: list[Param], overrides: dict) -> dict:
    root: dict = {
        "$schema": "http://json-schema.org/draft-07/schema#",
        "title": "redis-ha values",
        "type": "object",
        "additionalProperties": False,
        # Helm passes `global` to every chart; accept it so umbrella charts work.
        "properties": {"global": {"type": "object", "description": "Values shared with parent charts; unused here."}},
    }
    for p in params:
        node = root
        parts = p.path.split(".")
        for part in parts[:-1]:
            node = node["properties"].setdefault(
                part, {"type": "object", "additionalProperties": False, "properties": {}}
            )
        leaf = {"type": json_type(p.default), "description": p.description, "default": p.default}
        extra = overrides.get(p.path, {})
        if "anyOf" in extra:
            leaf.pop("type")
        leaf.update(extra)
        node["properties"][parts[-1]] = leaf
    return root


def table(params: list[Param]) -> str:
    out, section = [], None
    for p in params:
        if p.section != section:
            section = p.section
            out += ["", f"### {section}", "", "| Name | Description | Default |", "| --- | --- | --- |"]
        default = json.dumps(p.default) if not isinstance(p.default, str) else f'"{p.default}"'
        desc = p.description.replace("|", "\\|")
        out.append(f"| `{p.path}` | {desc} | `{default.replace('|', chr(92) + '|')}` |")
    return "\n".join(out).lstrip("\n")


def with_table(readme: str, rendered: str) -> str:
    if START not in readme or END not in readme:
        raise SystemExit(f"README lacks the {START} / {END} markers")
    head, rest = readme.split(START, 1)
    _, tail = rest.split(END, 1)
    return f"{head}{START}\n{rendered}\n{END}{tail}"


def generate() -> dict[Path, str]:
    text = VALUES.read_text()
    values = yaml.safe_load(text)
    params = parse_params(text, values)
    if missing := undocumented(values, params):
        raise SystemExit("values.yaml keys without ## @param: " + ", ".join(missing))
    overrides = yaml.safe_load(OVERRIDES.read_text()) or {}
    if unknown := sorted(set(overrides) - {p.path for p in params}):
        raise SystemExit("schema overrides for unknown parameters: " + ", ".join(unknown))
    files = {SCHEMA: json.dumps(build_schema(params, overrides), indent=2) + "\n"}
    rendered = table(params)
    for readme in READMES:
        files[readme] = with_table(readme.read_text(), rendered)
    return files


def main(argv: list[str]) -> int:
    files = generate()
    if "--check" in argv:
        stale = [str(p.relative_to(ROOT)) for p, text in files.items() if not p.exists() or p.read_text() != text]
        if stale:
            print("stale, run `tox -e docs`: " + ", ".join(stale))
            return 1
        return 0
    for path, text in files.items():
        path.write_text(text)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
