#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Runs pytest for a tox env with default test paths that arguments naming a path replace:
#   ci/pytest.sh PYTHON "DEFAULT PATHS" [pytest arguments...]
# so `tox -e unit -- tests/unit/test_validation.py` runs only that file, while
# `tox -e unit -- -k full_restart` keeps the default paths and filters them. An argument is a
# path when it exists (a node id like tests/x.py::test_y counts by its file).
set -euo pipefail
python=$1 defaults=$2
shift 2
for arg in "$@"; do
  case $arg in -*) continue ;; esac
  if [ -e "${arg%%::*}" ]; then exec "$python" -m pytest "$@"; fi
done
# shellcheck disable=SC2086 # the default paths are separate words
exec "$python" -m pytest "$@" $defaults
