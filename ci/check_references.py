#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""Fail on references a reader of this repository cannot follow: documents that live outside it
(the design and style notes the project started from, a shared folder), issue numbers and
scenario letters. Code, comments, docs and test names cite `docs/...` and name behaviour instead.
Upstream references in the owner/repo#N form (redis/redis-py#3874) stay allowed.

    check_references.py [PATH ...]   default: the repository's sources and docs; exit 1 and
                                     print file:line: text for every hit
"""
from __future__ import annotations

import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_PATHS = ["charts", "ci", "docs", "examples", "tests", ".github", ".ci", "README.md", "CONTRIBUTING.md",
                 "CHANGELOG.md", "tox.ini", "pytest.ini"]
SKIP_DIRS = {".git", ".tox", "__pycache__", ".pytest_cache", "build", "node_modules", "bin", "obj", "target"}
SKIP_SUFFIXES = {".png", ".tgz", ".gz", ".whl", ".jar", ".dll", ".pyc"}

# Spelled in pieces so that this file does not match itself.
PATTERNS = [
    ("a document outside the repository", re.compile("(DESI" + "GN|STY" + r"LE)\.md")),
    ("a document outside the repository", re.compile(r"\b(DESI" + "GN|STY" + r"LE)\b|\b[Ss]tyle rule")),
    # The HA rules are numbered in docs/design.md; a bare "rule N" leaves the reader guessing.
    ("a rule without its document", re.compile(r"(?<!design\.md )(?<!design\.md\) )\b[Rr]ule [0-9]")),
    ("a path outside the repository", re.compile(r"/shared" + "/")),
    ("an issue number", re.compile(r"\b[Ii]ssue" + r"s? #?[0-9]")),
    # A number sign and digits alone; owner/repo#N (an upstream reference) and hex colours are fine.
    ("an issue number", re.compile(r"(?<![\w/.&$#-])#[0-9]{1,5}\b(?![0-9a-fA-F])")),
    ("a scenario letter", re.compile(r"\b[Ss]cenario" + r"s? (\([a-zA-Z]\)|[A-Z]\b)")),
]


def files(paths: list[Path]):
    for path in paths:
        if path.is_file():
            yield path
        elif path.is_dir():
            for child in sorted(path.rglob("*")):
                if child.is_file() and not SKIP_DIRS & set(child.relative_to(path).parts[:-1]) \
                        and child.suffix not in SKIP_SUFFIXES:
                    yield child


def hits(paths: list[Path]):
    for path in files(paths):
        try:
            text = path.read_text()
        except (UnicodeDecodeError, OSError):
            continue
        for number, line in enumerate(text.splitlines(), 1):
            for what, pattern in PATTERNS:
                if pattern.search(line):
                    yield path, number, what, line.strip()
                    break


def main(argv: list[str]) -> int:
    paths = [Path(a) for a in argv] or [ROOT / p for p in DEFAULT_PATHS]
    found = list(hits(paths))
    for path, number, what, line in found:
        shown = path.relative_to(ROOT) if path.is_relative_to(ROOT) else path
        print(f"{shown}:{number}: {what}: {line[:160]}")
    if found:
        print(f"{len(found)} reference(s) a reader of this repository cannot follow: cite docs/... or name the behaviour")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
