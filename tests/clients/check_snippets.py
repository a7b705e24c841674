# SPDX-License-Identifier: Apache-2.0
"""Check that every code block in docs/clients.md marked `<!-- snippet: PATH -->` is, line for
line, the region between `BEGIN docs/clients.md` and `END docs/clients.md` in PATH, so the
documented configuration is the one compiled and run here. Exit 1 and show the first
difference otherwise. Usage: python3 tests/clients/check_snippets.py
"""

import difflib
import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
DOC = ROOT / "docs" / "clients.md"
BLOCK = re.compile(r"<!-- snippet: (\S+) -->\n```[a-z]*\n(.*?)```\n", re.S)


def region(path: Path) -> str:
    lines = path.read_text().splitlines()
    begin = next(i for i, l in enumerate(lines) if "BEGIN docs/clients.md" in l)
    end = next(i for i, l in enumerate(lines) if "END docs/clients.md" in l)
    body = lines[begin + 1:end]
    while body and not body[0].strip():
        body.pop(0)
    while body and not body[-1].strip():
        body.pop()
    return "\n".join(body) + "\n"


def main() -> int:
    blocks = BLOCK.findall(DOC.read_text())
    if not blocks:
        print(f"no snippet markers in {DOC}")
        return 1
    failed = 0
    for rel, text in blocks:
        want = region(ROOT / rel)
        if text != want:
            failed += 1
            print(f"{DOC.relative_to(ROOT)}: snippet differs from {rel}:")
            sys.stdout.writelines(difflib.unified_diff(
                want.splitlines(True), text.splitlines(True), rel, "docs/clients.md", n=1))
    print(f"{len(blocks) - failed} passed, {failed} failed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
