#!/usr/bin/env bash
# Set up, start the local stack (cached builds), run ruff, mypy, the import contracts and the whole test suite.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/setup.sh
.venv/bin/cinestream stack up
.venv/bin/ruff check .
.venv/bin/mypy
.venv/bin/lint-imports --no-cache
.venv/bin/pytest -q "$@"
