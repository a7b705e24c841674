# SPDX-License-Identifier: Apache-2.0
"""Two tool bootstraps that start at once on an empty cache both succeed (ci/atomic.sh).

`tox -e unit` in one terminal and ci/e2e/up.sh in another both run ci/build-tools.sh. The Go
builds themselves need the module proxy, so the empty cache is seeded with the tool folders this
machine already built (hard links, nothing is rebuilt); everything after the build — the plugin
install, the links in bin/ — runs for real, twice at once, on the temporary cache.
"""
from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
REAL_CACHE = Path(os.environ.get("REDIS_HA_CACHE") or Path.home() / ".cache" / "redis-ha")
TOOLS = ("ct-v3.14.0", "actionlint-v1.7.12", "kube-score-v1.20.0", "helm-unittest-v1.1.2")
ROUNDS = 3


def _copy_tree(src: Path, dst: Path) -> None:
    def link_or_copy(a: str, b: str) -> None:
        try:
            os.link(a, b)
        except OSError:
            shutil.copy2(a, b)

    shutil.copytree(src, dst, copy_function=link_or_copy)


def _env(cache: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("HELM_", "REDIS_HA_"))}
    env["REDIS_HA_CACHE"] = str(cache)
    return env


def _run_at_once(commands: list[list[str]], env: dict[str, str]) -> list[subprocess.CompletedProcess]:
    procs = [subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for cmd in commands]
    results = []
    for cmd, proc in zip(commands, procs):
        out, err = proc.communicate(timeout=300)
        results.append(subprocess.CompletedProcess(cmd, proc.returncode, out, err))
    return results


@pytest.fixture
def seeded_cache(tmp_path: Path) -> Path:
    missing = [t for t in TOOLS if not (REAL_CACHE / "tools" / t).is_dir()]
    if missing:
        pytest.fail(f"{REAL_CACHE}/tools lacks {missing}: run `bash ci/bootstrap.sh` first")
    cache = tmp_path / "cache"
    for tool in TOOLS:
        _copy_tree(REAL_CACHE / "tools" / tool, cache / "tools" / tool)
    return cache


@pytest.mark.parametrize("round_", range(ROUNDS))
def test_two_build_tools_runs_at_once_both_succeed(seeded_cache: Path, round_: int) -> None:
    """ci/build-tools.sh twice at once on an empty cache: both exit 0, one whole plugin, no temp folders."""
    results = _run_at_once([["bash", "ci/build-tools.sh"]] * 2, _env(seeded_cache))
    for result in results:
        assert result.returncode == 0, result.stderr
    plugin = seeded_cache / "helm" / "data" / "plugins" / "helm-unittest"
    tool = seeded_cache / "tools" / "helm-unittest-v1.1.2"
    diff = subprocess.run(["diff", "-r", str(tool), str(plugin)], capture_output=True, text=True)
    assert diff.returncode == 0, diff.stdout + diff.stderr
    for name in ("ct", "actionlint", "kube-score"):
        link = seeded_cache / "bin" / name
        assert link.resolve() == (seeded_cache / "tools").resolve() / next(t for t in TOOLS if t.startswith(name + "-v")) / name
    leftovers = [p.name for d in (seeded_cache / "tools", seeded_cache / "bin", plugin.parent) for p in d.iterdir() if ".tmp." in p.name]
    assert leftovers == []


def test_installed_plugin_loads_in_helm(seeded_cache: Path) -> None:
    """The plugin that two concurrent runs installed is one helm lists and runs."""
    env = _env(seeded_cache)
    for result in _run_at_once([["bash", "ci/build-tools.sh", "helm-unittest"]] * 2, env):
        assert result.returncode == 0, result.stderr
    env["HELM_DATA_HOME"] = str(seeded_cache / "helm" / "data")
    env["HELM_PLUGINS"] = env["HELM_DATA_HOME"] + "/plugins"
    helm = shutil.which("helm", path=str(REAL_CACHE / "bin")) or "helm"
    listed = subprocess.run([helm, "plugin", "list"], env=env, capture_output=True, text=True, check=True)
    assert "unittest" in listed.stdout


def test_with_lock_runs_one_holder_at_a_time(tmp_path: Path) -> None:
    """with_lock: two holders of one lock never overlap (the second mkdir of the marker would fail)."""
    script = (
        f". {ROOT}/ci/atomic.sh; "
        f'with_lock "{tmp_path}" step sh -c \'mkdir "{tmp_path}/held" && sleep 0.5 && rmdir "{tmp_path}/held"\''
    )
    results = _run_at_once([["bash", "-c", script]] * 3, os.environ.copy())
    for result in results:
        assert result.returncode == 0, result.stderr


def test_with_lock_fails_when_the_step_fails(tmp_path: Path) -> None:
    """with_lock passes the step's failure on, and a failed step leaves no temporary folder."""
    script = (
        f". {ROOT}/ci/atomic.sh; step() {{ atomic_tmpdir {tmp_path}/tool >/dev/null; exit 3; }}; "
        f'with_lock "{tmp_path}" step step'
    )
    result = subprocess.run(["bash", "-c", script], capture_output=True, text=True)
    assert result.returncode == 3
    assert [p.name for p in tmp_path.iterdir() if ".tmp." in p.name] == []
