"""The whole system at full speed, in the main job's own configuration: a release replayed into
Kafka while the three worker roles (learn: the online MF; side: trending, similarity, recent history;
archive: every event into MongoDB; each in its own consumer group) and the API (following the item
log) run, as ``scripts/main.sh`` starts them.

Prints per role the events/s from the first event produced to the last one applied (learn: the
model's prequential count in Redis; side and archive: their groups' committed offsets reaching the
topic's end, so within faust's 2.8 s commit interval), next to a bare aiokafka consumer reading the same messages in
the same run (the ceiling of any consumer here), and the CPU seconds of every process over the run
(workers, API, Redis, FerretDB, Kafka, this replaying process). Redis bytes per user and per movie at
the end. Its own topics, Redis database and MongoDB database, removed afterwards; needs the local stack.

Usage: ``python -m bench.whole_system --dataset ml-1m-synthetic`` (``cinestream data generate``).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import shutil
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

import numpy as np
import redis
from aiokafka import AIOKafkaConsumer
from pymongo import MongoClient

from bench.tools import free_port
from cinestream.catalogue.readers import Rejections
from cinestream.catalogue.sources import read_ratings
from cinestream.settings import Settings, get_settings
from evaluation.datasets import layout_of
from simulators.replay import replay
from streams.admin import consumer_lag, delete_topics, ensure_topics
from streams.local_worker import rss_mib, start_worker, stop_worker

REDIS_DB = 13
ROLES = {"learn": "online_mf,online_mf_watches", "side": "trending,similarity,recent", "archive": "history"}
STALL_S = 90.0
TICK = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid: int) -> float:
    """User + system CPU seconds of a process so far (``/proc/<pid>/stat``)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICK


def servers() -> dict[str, int]:
    """The local stack's server processes by name (Redis, FerretDB, Kafka)."""
    found = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            command = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode()
        except OSError:
            continue
        for name, marker in (("redis", "redis-server"), ("ferretdb", "ferretdb --handler"), ("kafka", "kafka.Kafka")):
            if marker in command and name not in found:
                found[name] = int(entry.name)
    return found


async def bare_consumer(bootstrap: str, topic: str, messages: int) -> float:
    """Seconds for one aiokafka consumer (no group, no decoding) to fetch ``messages`` from the start."""
    consumer = AIOKafkaConsumer(topic, bootstrap_servers=bootstrap, auto_offset_reset="earliest",
                                enable_auto_commit=False, group_id=None, max_partition_fetch_bytes=4 << 20)
    await consumer.start()
    try:
        started, seen = time.perf_counter(), 0
        while seen < messages:
            batches = await consumer.getmany(timeout_ms=1000, max_records=10_000)
            seen += sum(len(records) for records in batches.values())
        return time.perf_counter() - started
    finally:
        await consumer.stop()


def side_done(settings: Settings, group: str, topic: str) -> bool:
    rows = asyncio.run(consumer_lag(settings.kafka_bootstrap, [topic]))
    mine = [r for r in rows if r["group"] == group]
    return bool(mine) and all(r["lag"] == 0 for r in mine)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--dataset", default="ml-latest-small", help="any release (fetched, shared or generated)")
    parser.add_argument("--limit", type=int, default=None, help="only the first N ratings in time order")
    args = parser.parse_args()
    settings = get_settings()
    layout = layout_of(settings.release_dir(args.dataset).parent, args.dataset)
    ratings = read_ratings(layout, Rejections()).sort_values("timestamp", kind="stable")
    ratings = ratings.iloc[: args.limit] if args.limit else ratings
    n = len(ratings)
    run = uuid.uuid4().hex[:8]
    topic, dlq, watches = f"whole-ratings-{run}", f"whole-dlq-{run}", f"whole-watches-{run}"
    url = settings.redis_url.rsplit("/", 1)[0] + f"/{REDIS_DB}"
    base = {"CINESTREAM_TOPIC_RATINGS": topic, "CINESTREAM_TOPIC_WATCHES": watches,
            "CINESTREAM_TOPIC_DEAD_LETTER": dlq, "CINESTREAM_REDIS_URL": url,
            "CINESTREAM_MONGO_DB": f"cinestream_bench_{run}"}  # no catalogue there: every movie is let through
    client = redis.Redis.from_url(url)
    client.flushdb()
    asyncio.run(ensure_topics(settings, [topic, watches], [dlq]))
    workdir = Path(tempfile.mkdtemp(prefix="cinestream-whole-"))
    procs: dict[str, subprocess.Popen[bytes]] = {}
    try:
        for role, agents in ROLES.items():
            procs[role] = start_worker({**base, "CINESTREAM_AGENTS": agents,
                                        "CINESTREAM_WORKER_GROUP": f"whole-{role}-{run}"}, workdir / role)
        port = free_port()
        procs["api"] = subprocess.Popen(
            [sys.executable, "-m", "uvicorn", "api.main:create_app", "--factory", "--port", str(port),
             "--log-level", "warning"], env={**os.environ, **base}, stdout=subprocess.DEVNULL,
            stderr=(workdir / "api.log").open("wb"), start_new_session=True)
        pids = {**{name: proc.pid for name, proc in procs.items()}, **servers(), "replay (this)": os.getpid()}
        time.sleep(3)  # the API's start-up (title index, item factors) is not the run's
        before = {name: cpu_seconds(pid) for name, pid in pids.items()}
        summary = asyncio.run(replay(settings.kafka_bootstrap, topic, ratings))
        done: dict[str, float] = {}
        learned, last_change, side_checked = 0.0, time.monotonic(), 0.0
        while len(done) < len(ROLES):
            time.sleep(0.02)
            now = float(client.hget("mf:preq", "n") or 0)
            if now > learned:
                learned, last_change = now, time.monotonic()
            if "learn" not in done and learned >= n:
                done["learn"] = time.perf_counter() - summary.started
            if time.monotonic() - side_checked > 0.25:
                side_checked = time.monotonic()
                for role in ROLES.keys() - done.keys() - {"learn"}:
                    if side_done(settings, f"whole-{role}-{run}", topic):
                        done[role] = time.perf_counter() - summary.started
                        last_change = time.monotonic()
            if time.monotonic() - last_change > STALL_S and "learn" not in done:
                raise SystemExit(f"the learning role stalled at {learned:,.0f} of {n:,}: logs in {workdir}")
        cpu = {name: cpu_seconds(pid) - before[name] for name, pid in pids.items()}
        rss = {role: rss_mib(procs[role]) for role in ROLES}
    finally:
        for name, proc in procs.items():
            if name == "api":
                proc.terminate()
                proc.wait(10)
            else:
                stop_worker(proc)
    wall = max(done.values())
    bare = asyncio.run(bare_consumer(settings.kafka_bootstrap, topic, summary.messages))
    users = np.unique(ratings["userId"].to_numpy())
    movies = np.unique(ratings["movieId"].to_numpy())
    memory = client.info("memory")["used_memory"]
    sample_users = [f"mf:u:{u}" for u in users[:200]] + [f"recent:{u}" for u in users[:200]]
    sample_movies = [f"mf:i:{m}" for m in movies[:200]] + [f"sim:row:{m}" for m in movies[:200]]
    per_user = sum(client.memory_usage(k) or 0 for k in sample_users) / min(len(users), 200)
    per_movie = sum(client.memory_usage(k) or 0 for k in sample_movies) / min(len(movies), 200)
    client.flushdb()
    asyncio.run(delete_topics(settings.kafka_bootstrap, [topic, watches, dlq]))
    MongoClient(settings.mongo_uri).drop_database(base["CINESTREAM_MONGO_DB"])
    shutil.rmtree(workdir, ignore_errors=True)

    print(f"{args.dataset}: {n:,} ratings of {len(users):,} users on {len(movies):,} movies, "
          f"{summary.messages:,} messages ({n / summary.messages:.1f} events each), {settings.partitions} partitions")
    print(f"producer alone: {n / summary.seconds:,.0f} events/s; a bare consumer (no group, no decoding) in the same "
          f"run: {n / bare:,.0f} events/s")
    for role in ROLES:
        rate = n / done[role]
        print(f"{role:>7} role: {done[role]:6.2f} s from first produced to last applied = {rate:,.0f} events/s "
              f"({rate / (n / bare):.2f}x the bare consumer); RSS {rss[role]:.0f} MiB")
    print(f"CPU seconds over the {wall:.1f} s run (cores busy on average):")
    for name, seconds in sorted(cpu.items(), key=lambda kv: -kv[1]):
        print(f"  {name:>14}: {seconds:6.1f} s  ({seconds / wall:.2f})")
    print(f"Redis used_memory {memory / 2**20:.1f} MiB (this run's database and the rest of the instance); "
          f"per user {per_user:,.0f} B (row + recent history), per movie {per_movie:,.0f} B (row + co-occurrences)")


if __name__ == "__main__":
    main()
