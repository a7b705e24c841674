# SPDX-License-Identifier: Apache-2.0
"""ci/check_references.py, which the lint tier runs: it names file and line of every reference a
reader of the repository cannot follow, and lets upstream owner/repo#N references through."""
import subprocess
import sys

from tests.helm import ROOT

SCRIPT = ROOT / "ci" / "check_references.py"
# Built from pieces so that this file itself stays clean for the check.
DOC, NOTES = "DESI" + "GN.md", "STY" + "LE.md"
BAD = [
    f"the boot rule, see {DOC}",
    f"naming as {NOTES} asks",
    "fixed in iss" + "ue 10",
    "Iss" + "ue #" + "7 again",
    "see #" + "10",
    "like scenario" + " B",
    "as in scenario" + " (b)",
    "read /work/sha" + "red/notes.txt",
    "labels that never change (STY" + "LE 4)",
    "Ru" + "le 6: the handover",
]
GOOD = [
    "redis-py reconnects to the old address (redis/redis-py#3874)",
    "helm/helm#13144 is why the test pins helm",
    'EVENT_COLOURS = {"+sdown": "#999999"}',
    'set -- "$@"; echo "$#"',
    "docs/design.md rule 3",
]


def run(*paths) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, str(SCRIPT), *map(str, paths)], capture_output=True, text=True, check=False)


def test_names_file_and_line_of_each_dangling_reference(tmp_path):
    """Every planted reference is reported as file:line, and the run fails."""
    f = tmp_path / "notes.md"
    f.write_text("\n".join(GOOD + BAD) + "\n")
    proc = run(tmp_path)
    assert proc.returncode == 1
    reported = [line.split(":", 2)[1] for line in proc.stdout.splitlines() if line.startswith(str(f))]
    assert reported == [str(len(GOOD) + i + 1) for i in range(len(BAD))], proc.stdout
    assert f"{len(BAD)} reference(s)" in proc.stdout


def test_upstream_references_and_colours_pass(tmp_path):
    """owner/repo#N, hex colours, `$#` and docs/ citations are not dangling."""
    (tmp_path / "ok.py").write_text("\n".join(f"# {line}" for line in GOOD) + "\n")
    proc = run(tmp_path)
    assert proc.returncode == 0 and proc.stdout == "", proc.stdout
