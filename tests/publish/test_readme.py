# SPDX-License-Identifier: Apache-2.0
"""The READMEs a user meets first. The chart README is the manual that ships in the package:
`helm show readme` of the real `helm package` output must carry install, connect, upgrading and
the parameter table, and every link in it must work where it is read (Artifact Hub, a terminal):
absolute, to a file of this repository that exists, or an anchor of the page itself. The root
README stays short, and its test command is exactly what .ci/run runs."""
from __future__ import annotations

import re
import subprocess
import tarfile
import pytest
import yaml

from tests.helm import CHART, ROOT

LINK = re.compile(r"(?<!!)\[[^\]]*\]\(([^)\s]+)\)")
CHART_YAML = yaml.safe_load((CHART / "Chart.yaml").read_text())
REPO_URL = CHART_YAML["home"].rstrip("/")
PARAMS = re.findall(r"^\s*## @param (\S+) ", (CHART / "values.yaml").read_text(), re.M)


@pytest.fixture(scope="module")
def shown(chart_package) -> str:
    return subprocess.run(["helm", "show", "readme", str(chart_package)], check=True, capture_output=True, text=True).stdout


def anchors(markdown: str) -> set[str]:
    """GitHub's heading ids: lower case, punctuation dropped, spaces to hyphens."""
    out = set()
    for heading in re.findall(r"^#{1,6} (.+)$", re.sub(r"```.*?```", "", markdown, flags=re.S), re.M):
        out.add(re.sub(r"[^\w\- ]", "", heading.strip().lower()).replace(" ", "-"))
    return out


def section(markdown: str, title: str) -> str:
    match = re.search(rf"^## {re.escape(title)}\n(.*?)(?=^## |\Z)", markdown, re.M | re.S)
    assert match, f"no '## {title}' section"
    return match.group(1)


def test_helm_show_readme_is_the_chart_readme(shown):
    """The package ships charts/redis-ha/README.md unchanged; it is what Artifact Hub displays."""
    assert shown.strip() == (CHART / "README.md").read_text().strip()


def test_shipped_readme_has_install_connect_and_upgrading(shown):
    """Install commands, redis-py and StackExchange.Redis through Sentinel, and the upgrade note."""
    assert "helm install redis-ha oci://" in section(shown, "Install")
    connect = section(shown, "Connect")
    assert "from redis.sentinel import Sentinel" in connect and "master_for(" in connect
    assert "new ConfigurationOptions" in connect and "ServiceName" in connect
    assert "--cascade=orphan" in section(shown, "Upgrading")


def test_shipped_readme_has_one_row_per_parameter(shown):
    """The generated table lists every ## @param of values.yaml exactly once."""
    table = section(shown, "Parameters")
    rows = re.findall(r"^\| `([^`]+)` \|", table, re.M)
    assert len(PARAMS) > 50
    assert rows == PARAMS


def test_shipped_readme_links_work_inside_the_package(shown, chart_package):
    """No relative link leaves the package: each is absolute, an anchor of the page, or a file in it."""
    with tarfile.open(chart_package) as tar:
        packaged = {n.split("/", 1)[1] for n in tar.getnames() if "/" in n}
    ids = anchors(shown)
    links = LINK.findall(shown)
    assert links
    dead = []
    for link in links:
        if link.startswith("#"):
            ok = link[1:] in ids
        elif re.match(r"https?://", link):
            ok = link.startswith("https://")
        else:
            ok = link.split("#")[0] in packaged
        if not ok:
            dead.append(link)
    assert not dead, f"links dead in `helm show readme` / Artifact Hub: {dead}"


def test_shipped_readme_links_into_the_repository_name_existing_files(shown):
    """Absolute links to this repository point at files and headings that exist here."""
    prefix = f"{REPO_URL}/blob/main/"
    links = [link for link in LINK.findall(shown) if link.startswith(prefix)]
    assert links
    for link in links:
        path, _, anchor = link[len(prefix):].partition("#")
        assert (ROOT / path).is_file(), link
        if anchor:
            assert anchor in anchors((ROOT / path).read_text()), link


def test_root_readme_is_short_and_links_only_to_existing_files():
    """At most 8 KB, no parameter table, and every relative link names a file of the repository."""
    readme = (ROOT / "README.md").read_text()
    assert len(readme.encode()) <= 8192
    assert "<!-- parameters:start -->" not in readme
    for link in LINK.findall(readme):
        if not re.match(r"https?://|#", link):
            assert (ROOT / link.split("#")[0]).exists(), link


def test_ci_runs_exactly_the_readme_test_command():
    """.ci/run runs the second command of the README's first code block, character for character."""
    readme = (ROOT / "README.md").read_text()
    block = re.search(r"```bash\n(.*?)```", readme, re.S).group(1)
    commands = [line.split("#")[0].strip() for line in block.splitlines() if line.strip()]
    assert commands[0] == "ci/e2e/up.sh"
    run = [line.strip() for line in (ROOT / ".ci" / "run").read_text().splitlines() if line.strip() and not line.startswith("#")]
    assert run[-1] == commands[1]
    assert "set -euo pipefail" in run
