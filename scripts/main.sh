#!/usr/bin/env bash
# The main job: set up, start the local stack, get the data, build the catalogue, start a stream
# worker, replay the ratings into Kafka (the worker learns them into Redis), serve the app.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/setup.sh
cs=.venv/bin/cinestream
dataset=${CINESTREAM_DATASET:-ml-latest-small}
# One machine for everything: the stream (workers, FerretDB) and the batch jobs run on the CPU
# time the API, Redis and Kafka leave (core/settings.py, background_idle). Kafka keeps what waits.
export CINESTREAM_BACKGROUND_IDLE=${CINESTREAM_BACKGROUND_IDLE:-true}
background=(nice -n 15)
[ "$CINESTREAM_BACKGROUND_IDLE" = true ] && background=(.venv/bin/python -m deploy.local.background)
$cs stack up
$cs data fetch "$dataset"
$cs catalogue build
logs="${CINESTREAM_STACK_DIR:-$HOME/.local/share/cinestream}/logs"
mkdir -p "$logs"
# In the background, while the stream runs: the hybrid's lists for the API, then the offline
# evaluation the dashboard shows (tables and precision–recall curves).
( "${background[@]}" $cs model publish && "${background[@]}" $cs evaluate --dataset "$dataset" ) >"$logs/batch.log" 2>&1 &
# Three worker roles, as in docker-compose.yml: the learning path, the side models (trending,
# similarity, recent history in Redis) and the archive (every event and the catalogue's changes into
# MongoDB), each in a consumer group of its own so MongoDB inserts pace neither the model nor the side models.
pids=()
trap 'kill "${pids[@]}" 2>/dev/null || true' EXIT
for role in "learn:online_mf,online_mf_watches" "side:trending,similarity,recent,experiments" "archive:history,catalogue"; do
  name=${role%%:*}
  CINESTREAM_AGENTS=${role#*:} CINESTREAM_WORKER_GROUP="cinestream-$name" \
    CINESTREAM_KAFKA_USER=worker CINESTREAM_REDIS_USER=worker \
    $cs worker --loglevel info >"$logs/worker-$name.log" 2>&1 &
  pids+=($!)
done
for name in learn side archive; do
  until grep -q "Worker ready" "$logs/worker-$name.log" 2>/dev/null; do
    kill -0 "${pids[@]}" 2>/dev/null || {
      echo "error: the $name worker failed to start: $(grep -v '^\s*$' "$logs/worker-$name.log" | tail -1) (log: $logs/worker-$name.log)"
      exit 1; }
    sleep 0.5
  done
done
CINESTREAM_KAFKA_USER=platform $cs replay --dataset "$dataset" --once
# The scheduler role: refits the ranker lists are served by (its first run now, then every 6 hours,
# after 100,000 new events or on drift), each candidate judged before it goes live; its lines appear
# here and in $logs/scheduler.log.
CINESTREAM_REDIS_USER=worker $cs scheduler > >(tee "$logs/scheduler.log") 2>&1 &
pids+=($!)  # a second run of the main job does not teach every rating twice
# A login for a real MovieLens user of the replayed dataset, whose history the app then shows; it is
# an admin too, so the demo reaches the admin area (the stream, the model versions, the evaluation).
$cs users demo --user-id "${CINESTREAM_DEMO_USER:-1}" --admin
# Kafka principals and Redis users (asked only by a SASL cluster, CINESTREAM_KAFKA_BROKERS=3, and a Redis
# with ACL users, CINESTREAM_REDIS_ACL=true): the workers consume and write the model, the replay
# produces as a platform would, the API produces events and reads the model.
CINESTREAM_KAFKA_USER=api CINESTREAM_REDIS_USER=api $cs api
