#!/usr/bin/env bash
# The main job: set up, start the local stack, get the data, build the catalogue, serve the app.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/setup.sh
cs=.venv/bin/cinestream
$cs stack up
$cs data fetch "${CINESTREAM_DATASET:-ml-latest-small}"
$cs catalogue build
$cs api
