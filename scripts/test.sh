#!/usr/bin/env bash
# Set up, start the local stack (cached builds), run ruff, mypy and the whole test suite.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/setup.sh
.venv/bin/cinestream stack up
.venv/bin/ruff check .
.venv/bin/mypy
.venv/bin/pytest -q "$@"
