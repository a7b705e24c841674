# SPDX-License-Identifier: Apache-2.0
"""Release metadata: Chart.yaml's Artifact Hub annotations agree with values.yaml and
CHANGELOG.md, and artifacthub-repo.yml parses (https://artifacthub.io/docs/topics/annotations/helm/)."""
from __future__ import annotations

import re

import yaml

from tests.helm import CHART, ROOT, by_kind_name, container, render_chart

CHART_YAML = yaml.safe_load((CHART / "Chart.yaml").read_text())
VALUES = yaml.safe_load((CHART / "values.yaml").read_text())
ANNOTATIONS = CHART_YAML["annotations"]
CHANGE_KINDS = {"added", "changed", "deprecated", "removed", "fixed", "security"}


def annotation(key: str):
    """An annotation whose value is itself a YAML document, parsed."""
    return yaml.safe_load(ANNOTATIONS[f"artifacthub.io/{key}"])


def image_ref(image: dict) -> str:
    repo = f"{image['registry']}/{image['repository']}" if image["registry"] else image["repository"]
    return f"{repo}@{image['digest']}" if image["digest"] else f"{repo}:{image['tag']}"


def changelog_section(version: str) -> str:
    text = (ROOT / "CHANGELOG.md").read_text()
    match = re.search(rf"^## \[{re.escape(version)}\].*?$(.*?)(?=^## |\Z)", text, re.M | re.S)
    assert match, f"CHANGELOG.md has no '## [{version}]' section"
    return match.group(1)


def server_image(engine: str) -> str:
    """The image the chart runs for `engine` with the default image values."""
    return container(by_kind_name(render_chart({"engine": engine}), "StatefulSet", "redis-ha"), "redis")["image"]


def test_should_list_the_images_values_yaml_deploys():
    """artifacthub.io/images names exactly the default Redis and Valkey images and the exporter image."""
    listed = {entry["image"] for entry in annotation("images")}
    assert listed == {server_image("redis"), server_image("valkey"), image_ref(VALUES["metrics"]["image"])}


def test_should_report_the_default_redis_tag_as_app_version():
    """appVersion (the app.kubernetes.io/version label) is the tag of the default engine's image."""
    assert VALUES["engine"] == "redis"
    assert server_image("redis").endswith(":" + str(CHART_YAML["appVersion"]))


def test_should_name_an_spdx_license_and_https_links():
    """artifacthub.io/license and every artifacthub.io/links entry are well formed."""
    assert ANNOTATIONS["artifacthub.io/license"] == "Apache-2.0"
    links = annotation("links")
    assert links and all(set(link) == {"name", "url"} and link["url"].startswith("https://") for link in links)


def test_should_describe_each_change_with_an_artifact_hub_kind():
    """artifacthub.io/changes entries use the kinds Artifact Hub knows."""
    changes = annotation("changes")
    assert changes
    for change in changes:
        assert change["kind"] in CHANGE_KINDS and change["description"].strip()


def test_should_keep_the_changelog_and_the_changes_annotation_in_step():
    """Every change of this version is in CHANGELOG.md under the chart's version."""
    section = changelog_section(str(CHART_YAML["version"]))
    for change in annotation("changes"):
        assert f"### {change['kind'].capitalize()}" in section
        assert f"- {change['description']}" in section


def test_should_ship_parseable_artifact_hub_repository_metadata():
    """artifacthub-repo.yml is YAML with only keys Artifact Hub reads."""
    meta = yaml.safe_load((ROOT / "artifacthub-repo.yml").read_text()) or {}
    assert set(meta) <= {"repositoryID", "owners", "ignore"}
