#!/usr/bin/env bash
# The main job: set up, start the local stack, get the data, build the catalogue, start a stream
# worker, replay the ratings into Kafka (the worker learns them into Redis), serve the app.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/setup.sh
cs=.venv/bin/cinestream
dataset=${CINESTREAM_DATASET:-ml-latest-small}
$cs stack up
$cs data fetch "$dataset"
$cs catalogue build
logs="${CINESTREAM_STACK_DIR:-$HOME/.local/share/cinestream}/logs"
mkdir -p "$logs"
# In the background, while the stream runs: the hybrid's lists for the API, then the offline
# evaluation the dashboard shows (tables and precision–recall curves).
( $cs model publish && $cs evaluate --dataset "$dataset" ) >"$logs/batch.log" 2>&1 &
worker_log="$logs/worker.log"
$cs worker --loglevel info >"$worker_log" 2>&1 &
worker_pid=$!
trap 'kill "$worker_pid" 2>/dev/null || true' EXIT
until grep -q "Worker ready" "$worker_log" 2>/dev/null; do
  kill -0 "$worker_pid" 2>/dev/null || { echo "worker failed to start, see $worker_log"; exit 1; }
  sleep 0.5
done
$cs replay --dataset "$dataset"
$cs api
