"""The whole system at full speed, in the main job's own configuration: a release replayed into
Kafka while the three worker roles (learn: the online MF; side: trending, similarity, recent history;
archive: every event into MongoDB; each in its own consumer group) and the API (following the item
log) run, as ``scripts/main.sh`` starts them.

Prints per role the events/s from the first event produced to the last one applied, by the counts
the agents keep themselves (``storage.applied_counts``; a role is done when each of its agents has
applied every event, polled every 20 ms), next to a bare aiokafka consumer reading the same messages in
the same run (the ceiling of any consumer here), and the CPU seconds of every process over the run
(workers, API, Redis, FerretDB, Kafka, this replaying process). Redis bytes per user and per movie at
the end. Its own topics, Redis database and MongoDB database, removed afterwards; needs the local stack.

Usage: ``python -m bench.whole_system --dataset ml-1m-synthetic`` (``cinestream data generate``).

``--through-api N`` sends the events as a platform would instead: POSTs of N events each to the service-key
batch endpoint (``N=1``: one event a request), many in flight, in time order (users interleaved), into an
API that checks them against the main catalogue (build it for the release first) and packs what arrives
per partition (``api.event_sender``). It prints the events per Kafka message the API made.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import contextlib
import dataclasses
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pandas as pd
import redis
from aiokafka import AIOKafkaConsumer
from pymongo import MongoClient

from api.services.accounts import MAX_EVENTS_PER_SECOND, create_service_key, revoke_service_key
from bench import record
from bench.tools import cpu_seconds, free_port, vegeta
from cinestream_client import Client
from core.settings import ONE_BLAS_THREAD, Settings, get_settings
from simulators.replay import ReplaySummary, release_ratings, replay
from storage import applied_counts
from storage.model_keys import item_key, user_key
from storage.mongo import connect, database
from storage.similarity_store import row_key
from streams.admin import consumer_lag, delete_topics, ensure_topics
from streams.local_worker import rss_mib, start_worker, stop_worker

REDIS_DB = 13
ROLES = {"learn": "online_mf,online_mf_watches", "side": "trending,similarity,recent", "archive": "history,catalogue"}
# the agents that each apply every event of a role (the learning role's two split ratings from watches)
EVERY_EVENT = {"learn": (("online_mf", "online_mf_watches"),), "side": (("trending",), ("similarity",), ("recent",)),
               "archive": (("history",),)}
STALL_S = 90.0


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


def wait_for_api(port: int, process: subprocess.Popen[bytes], timeout_s: float = 120) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline and process.poll() is None:
        try:
            if httpx.get(f"http://127.0.0.1:{port}/health", timeout=2).status_code < 500:
                # a search waits for the catalogue's first load (the title index), which /health does not
                httpx.get(f"http://127.0.0.1:{port}/api/movies", params={"q": "a", "limit": 1}, timeout=timeout_s)
                time.sleep(1)
                return
        except httpx.TransportError:
            pass
        time.sleep(0.2)
    raise SystemExit(f"the API did not answer on port {port} (exit code {process.poll()})")


def service_events(ratings: pd.DataFrame, run: str) -> list[dict[str, Any]]:
    """The ratings as the batch endpoint takes them, in time order, with ids unique to the run."""
    columns = zip(ratings["userId"].tolist(), ratings["movieId"].tolist(), ratings["rating"].tolist(),
                  ratings["timestamp"].tolist(), strict=True)
    return [{"type": "rating", "event_id": f"{run}-{i}", "user_id": int(user), "movie_id": int(movie),
             "rating": float(stars), "timestamp": float(at)} for i, (user, movie, stars, at) in enumerate(columns)]


async def post_through_api(port: int, key: str, ratings: pd.DataFrame, per_request: int, in_flight: int,
                           run: str) -> ReplaySummary:
    """POST the ratings in time order, ``per_request`` events a request, ``in_flight`` requests at once."""
    events = service_events(ratings, run)
    chunks = asyncio.Queue[int]()
    for start in range(0, len(ratings), per_request):
        chunks.put_nowait(start)
    rejected = 0

    async def platform(api: Client) -> None:
        nonlocal rejected
        while not chunks.empty():
            start = chunks.get_nowait()
            rejected += (await api.post_events(events[start:start + per_request]))["rejected"]

    base = f"http://127.0.0.1:{port}"
    limits = httpx.Limits(max_connections=in_flight, max_keepalive_connections=in_flight)
    async with Client(base, key=key, http=httpx.AsyncClient(base_url=base, limits=limits, timeout=60)) as api:
        started = time.perf_counter()
        await asyncio.gather(*(platform(api) for _ in range(in_flight)))
        seconds = time.perf_counter() - started
    if rejected:
        raise SystemExit(f"the API refused {rejected:,} events: build the catalogue of this release first")
    return ReplaySummary(len(ratings), 0, seconds, started)


def post_singles(port: int, key: str, ratings: pd.DataFrame, rate: float, run: str) -> tuple[ReplaySummary, str]:
    """One event a request, open-loop at ``rate`` requests/s (vegeta), as platforms post them one at a time:
    the summary counts the events stored, and the line says the latencies the platforms saw."""
    url = Client(f"http://127.0.0.1:{port}").url("post_batch")
    header = {"Authorization": [f"Bearer {key}"], "Content-Type": ["application/json"]}
    with tempfile.NamedTemporaryFile("w", suffix=".targets", delete=False) as targets:
        for event in service_events(ratings, run):
            body = {"events": [event]}
            targets.write(json.dumps({"method": "POST", "url": url, "header": header,
                                      "body": base64.b64encode(json.dumps(body).encode()).decode()}) + "\n")
    try:
        started = time.perf_counter()
        attacked = subprocess.run([str(vegeta()), "attack", "-format=json", f"-targets={targets.name}",
                                   f"-rate={rate:g}/s", f"-duration={int(len(ratings) / rate * 1000)}ms",
                                   "-timeout=30s", "-keepalive=true"], capture_output=True, check=True)
        seconds = time.perf_counter() - started
    finally:
        Path(targets.name).unlink()
    report = json.loads(subprocess.run([str(vegeta()), "report", "-type=json"], input=attacked.stdout,
                                       capture_output=True, check=True).stdout)
    ok = int(report["status_codes"].get("200", 0))
    ms = {q: report["latencies"][q] / 1e6 for q in ("50th", "99th", "max")}
    line = (f"vegeta: {report['requests']:,} requests at {report['rate']:,.0f}/s, {ok:,} answered 200, "
            f"latency p50 {ms['50th']:.1f} ms, p99 {ms['99th']:.1f} ms, max {ms['max']:.1f} ms")
    return ReplaySummary(min(ok, len(ratings)), 0, seconds, started), line


@contextlib.contextmanager
def service_key(settings: Settings, run: str) -> Iterator[str]:
    """A service key for the run, in the main database (whose catalogue the API checks against), revoked after."""
    async def create() -> dict[str, Any]:
        client = connect(settings)
        try:
            # a quota above anything two cores can post: the bench measures the system, not the limit
            return await create_service_key(database(client, settings), f"bench-{run}", ["events:write"],
                                            "bench.whole_system", events_per_second=MAX_EVENTS_PER_SECOND)
        finally:
            client.close()

    async def revoke(key_id: str) -> None:
        client = connect(settings)
        try:
            await revoke_service_key(database(client, settings), key_id, "bench.whole_system")
        finally:
            client.close()

    made = asyncio.run(create())
    try:
        yield str(made["key"])
    finally:
        asyncio.run(revoke(str(made["key_id"])))


def role_applied(counts: dict[str, int], role: str) -> int:
    """The events every agent of ``role`` has applied (by their own counts)."""
    return min(sum(counts.get(agent, 0) for agent in agents) for agents in EVERY_EVENT[role])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--dataset", default="ml-latest-small", help="any release (fetched, shared or generated)")
    parser.add_argument("--limit", type=int, default=None, help="only the first N ratings in time order")
    parser.add_argument("--through-api", type=int, default=None, metavar="N",
                        help="POST N events a request to the API's batch endpoint instead of replaying into Kafka")
    parser.add_argument("--in-flight", type=int, default=32, help="concurrent requests with --through-api N > 1")
    parser.add_argument("--rate", type=float, default=1000.0,
                        help="requests/s with --through-api 1 (open-loop, vegeta)")
    record.add_option(parser)
    args = parser.parse_args()
    settings = get_settings()
    ratings = release_ratings(settings, args.dataset, args.limit)
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
        # Through the API, it checks movies against the main catalogue; the workers archive into the run's database.
        api_env = {**base, "CINESTREAM_MONGO_DB": settings.mongo_db} if args.through_api else base
        procs["api"] = subprocess.Popen(
            [sys.executable, "-m", "uvicorn", "api.main:create_app", "--factory", "--port", str(port),
             "--log-level", "warning"], env={**os.environ, **ONE_BLAS_THREAD, **api_env}, stdout=subprocess.DEVNULL,
            stderr=(workdir / "api.log").open("wb"), start_new_session=True)
        pids = {**{name: proc.pid for name, proc in procs.items()}, **servers(), "replay (this)": os.getpid()}
        wait_for_api(port, procs["api"])  # its start-up (title index, item factors) is not the run's
        before = {name: cpu_seconds(pid) for name, pid in pids.items()}
        if args.through_api:
            with service_key(settings, run) as key:
                if args.through_api == 1:
                    summary, singles = post_singles(port, key, ratings, args.rate, run)
                else:
                    summary = asyncio.run(post_through_api(port, key, ratings, args.through_api, args.in_flight,
                                                           run))
        else:
            summary = asyncio.run(replay(settings, topic, ratings))
        done: dict[str, float] = {}
        applied: dict[str, int] = {}
        last_change = time.monotonic()
        while len(done) < len(ROLES):
            time.sleep(0.02)
            now = applied_counts.read_sync(client)
            if now != applied:
                applied, last_change = now, time.monotonic()
            for role in ROLES.keys() - done.keys():
                if role_applied(applied, role) >= summary.events:
                    done[role] = time.perf_counter() - summary.started
            if time.monotonic() - last_change > STALL_S:
                raise SystemExit(f"the stream stalled: {applied} of {summary.events:,} events applied "
                                 f"(logs in {workdir})")
        cpu = {name: cpu_seconds(pid) - before[name] for name, pid in pids.items()}
        if args.through_api:  # what the API made of the requests: the topic's end, summed over partitions
            ends = asyncio.run(consumer_lag(settings, [topic]))
            summary = dataclasses.replace(summary, messages=max(r["end"] for r in ends))
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
    sample_users = [user_key(int(u)) for u in users[:200]] + [f"recent:{u}" for u in users[:200]]
    sample_movies = [item_key(int(m)) for m in movies[:200]] + [row_key(int(m)) for m in movies[:200]]
    per_user = sum(client.memory_usage(k) or 0 for k in sample_users) / min(len(users), 200)
    per_movie = sum(client.memory_usage(k) or 0 for k in sample_movies) / min(len(movies), 200)
    client.flushdb()
    asyncio.run(delete_topics(settings, [topic, watches, dlq]))
    MongoClient(settings.mongo_uri).drop_database(base["CINESTREAM_MONGO_DB"])
    shutil.rmtree(workdir, ignore_errors=True)

    print(f"{args.dataset}: {n:,} ratings of {len(users):,} users on {len(movies):,} movies, "
          f"{summary.messages:,} messages ({n / summary.messages:.1f} events each), {settings.partitions} partitions")
    if args.through_api == 1:
        print(singles)
    source = ("producer alone" if not args.through_api else f"POSTed one a request at {args.rate:g}/s"
              if args.through_api == 1 else f"POSTed {args.through_api} a request, {args.in_flight} in flight")
    print(f"{source}: {n / summary.seconds:,.0f} events/s; a bare consumer (no group, no decoding) in the same "
          f"run: {n / bare:,.0f} events/s")
    for role in ROLES:
        rate = n / done[role]
        counted = ", ".join(f"{a} {applied.get(a, 0):,}" for agents in EVERY_EVENT[role] for a in agents)
        print(f"{role:>7} role: {done[role]:6.2f} s from first produced to last applied = {rate:,.0f} events/s "
              f"({rate / (n / bare):.2f}x the bare consumer); RSS {rss[role]:.0f} MiB; applied: {counted}")
    print(f"CPU seconds over the {wall:.1f} s run (cores busy on average):")
    for name, seconds in sorted(cpu.items(), key=lambda kv: -kv[1]):
        print(f"  {name:>14}: {seconds:6.1f} s  ({seconds / wall:.2f})")
    print(f"Redis used_memory {memory / 2**20:.1f} MiB (this run's database and the rest of the instance); "
          f"per user {per_user:,.0f} B (row + recent history), per movie {per_movie:,.0f} B (row + co-occurrences)")
    if args.record:
        mode = "" if not args.through_api else "-api-singles" if args.through_api == 1 else "-api-batches"
        record.write(f"whole-system-{args.dataset}{mode}",
                     f"the whole system in the main job's configuration (three roles, the API following), "
                     f"{args.dataset}'s {n:,} ratings "
                     + (source if args.through_api else "replayed into Kafka at full speed"),
                     {"source events/s": n / summary.seconds, "bare consumer events/s": n / bare}
                     | {f"{role} events/s": n / done[role] for role in ROLES}
                     | {"events a message": n / summary.messages, "Redis B per user": per_user,
                        "Redis B per movie": per_movie}
                     | {f"CPU s: {name}": seconds for name, seconds in sorted(cpu.items(), key=lambda kv: -kv[1])[:4]},
                     "each role: first event produced → last applied, by the agents' own counts; the bare consumer "
                     "reads the same topic with no group and no decoding")


if __name__ == "__main__":
    main()
