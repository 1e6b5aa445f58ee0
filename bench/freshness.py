"""Freshness: how long after a rating is produced does the model in Redis reflect it?

While the dataset is replayed in the background at a steady rate (default 5,000 events/s),
``--probes`` new users each produce one rating and the probe polls Redis until that user's
vector exists (i.e. their recommendations reflect the rating). Reference in the same run: a
bare aiokafka consumer in this process, timing when the same probe message arrives — the
floor any Kafka-fed model can reach. Prints p50/p99 of both and their ratio. The first
``--warmup-s`` seconds of probes are reported apart: for a minute or two after the broker starts
its JIT is still compiling the fetch path, and even the bare consumer's latency doubles (the test
suite's traffic does not warm it: the first run after CI showed it).
Usage: ``python -m bench.freshness`` with the local stack up.

``--through-api`` measures what a person experiences instead: the same private topic, worker and
load, plus an API process of their own. Each probe is a new person (a token minted with the API's
secret) who posts a rating of the first movie of their list with ``POST /api/events/ratings`` and
polls ``GET /api/users/{id}/recommendations`` until the movie has left it. Reference in the same
run: when the same rating became visible in Redis (polled in the same loop).
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
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from functools import partial
from pathlib import Path
from typing import Any, TypeVar

import httpx
import numpy as np
import pandas as pd
import redis.asyncio as aioredis
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from rich.progress import Progress

from api.security import tokens
from bench import record
from bench.tools import free_port
from cinestream_client import ApiError, Client
from contracts.events import encode_events
from core.secrets import load_secrets
from core.settings import Settings, get_settings
from simulators.replay import load_ratings, replay
from storage.model_keys import seen_key, user_key
from streams.admin import delete_topics, ensure_topics
from streams.local_worker import start_worker, stop_worker

PROBE_BASE = 2_000_000_000
T = TypeVar("T")


@asynccontextmanager
async def _private_stream(settings: Settings, extra_env: dict[str, str] | None = None
                          ) -> AsyncIterator[tuple[str, str, dict[str, str], aioredis.Redis, Path]]:
    """A topic, a dead-letter topic and Redis database 9 of this run's own, and a learning worker
    (the online MF alone) on them: ``(run id, topic, environment, redis, work folder)``."""
    run_id = uuid.uuid4().hex[:8]
    topic = f"fresh-ratings-{run_id}"
    env = {"CINESTREAM_TOPIC_RATINGS": topic, "CINESTREAM_TOPIC_DEAD_LETTER": f"fresh-dlq-{run_id}",
           "CINESTREAM_REDIS_URL": settings.redis_url.rsplit("/", 1)[0] + "/9", "CINESTREAM_AGENTS": "online_mf",
           **(extra_env or {})}
    redis = aioredis.Redis.from_url(env["CINESTREAM_REDIS_URL"])
    await redis.flushdb()
    await ensure_topics(settings, [topic], [env["CINESTREAM_TOPIC_DEAD_LETTER"]])
    workdir = Path(tempfile.mkdtemp(prefix="cinestream-fresh-"))
    worker = start_worker(env, workdir)
    failed = True
    try:
        yield run_id, topic, env, redis, workdir
        failed = False
    finally:
        stop_worker(worker)
        await redis.flushdb()
        await redis.aclose()
        await delete_topics(settings, [topic, env["CINESTREAM_TOPIC_DEAD_LETTER"]])
        if failed:
            print(f"the worker's (and the API's) logs are kept in {workdir}")
        else:
            shutil.rmtree(workdir, ignore_errors=True)


def _background_load(settings: Settings, topic: str, ratings: pd.DataFrame, rate: float) -> asyncio.Task[None]:
    """The dataset replayed into ``topic`` at ``rate`` until cancelled (each pass with new event ids)."""
    async def load() -> None:
        while True:
            await replay(settings, topic, ratings, rate=rate)

    return asyncio.create_task(load())


async def _probes(args: argparse.Namespace, probe: Callable[[int], Awaitable[T]]) -> tuple[list[T], list[T]]:
    """``--warmup-s`` seconds of probes, then ``--probes`` more, ``--gap-ms`` apart: (warm-up, measured)."""
    warm: list[T] = []
    measured: list[T] = []
    with Progress(transient=True) as progress:
        task = progress.add_task(f"warm-up ({args.warmup_s:.0f} s)", total=args.warmup_s)
        warm_until = time.perf_counter() + args.warmup_s
        while time.perf_counter() < warm_until:
            warm.append(await probe(len(warm)))
            await asyncio.sleep(args.gap_ms / 1000)
            progress.update(task, completed=args.warmup_s - (warm_until - time.perf_counter()))
        task = progress.add_task("probes", total=args.probes)
        for _ in range(args.probes):
            measured.append(await probe(len(warm) + len(measured)))
            await asyncio.sleep(args.gap_ms / 1000)
            progress.advance(task)
    return warm, measured


async def run(args: argparse.Namespace) -> None:
    settings = get_settings()
    ratings = load_ratings(settings.data_dir / args.dataset / "ratings.csv")
    async with _private_stream(settings) as (run_id, topic, _, redis, _):
        arrivals: dict[int, float] = {}
        consumer = AIOKafkaConsumer(topic, bootstrap_servers=settings.kafka_bootstrap, auto_offset_reset="latest",
                                    group_id=f"fresh-ref-{run_id}")
        await consumer.start()

        async def reference() -> None:
            async for message in consumer:
                user = int(message.key or b"0")
                if user >= PROBE_BASE:
                    arrivals[user] = time.perf_counter()

        ref_task = asyncio.create_task(reference())
        producer = AIOKafkaProducer(bootstrap_servers=settings.kafka_bootstrap, linger_ms=0)
        await producer.start()
        background = _background_load(settings, topic, ratings, args.rate)
        await asyncio.sleep(2.0)  # let the background load reach its steady rate

        async def probe(number: int) -> tuple[float, float | None]:
            """Milliseconds until the probe's user has a vector in Redis, and until the bare consumer saw it."""
            user = PROBE_BASE + number
            payload = encode_events([{"type": "rating", "event_id": f"probe-{run_id}-{number}", "user_id": user,
                                      "movie_id": 1, "rating": 4.0, "timestamp": time.time(), "source": "probe"}])
            started = time.perf_counter()
            await producer.send_and_wait(topic, payload, key=str(user).encode())
            while not await redis.exists(user_key(user)):
                if time.perf_counter() - started > 10:
                    raise SystemExit(f"probe {number} not visible after 10 s")
                await asyncio.sleep(0.001)
            visible = (time.perf_counter() - started) * 1000
            for _ in range(200):
                if user in arrivals:
                    break
                await asyncio.sleep(0.001)
            return visible, (arrivals[user] - started) * 1000 if user in arrivals else None

        try:
            warm, measured = await _probes(args, probe)
        finally:
            background.cancel()
            ref_task.cancel()
            await producer.stop()
            await consumer.stop()
    p = np.percentile
    ours, bare = [v for v, _ in measured], [b for _, b in measured if b is not None]
    warm_ours, warm_bare = [v for v, _ in warm], [b for _, b in warm if b is not None]
    print(f"background load: {args.rate:,.0f} events/s throughout")
    if warm:
        print(f"warm-up ({len(warm)} probes in {args.warmup_s:.0f} s, not counted below): p50 "
              f"{p(warm_ours, 50):.1f} ms, p99 {p(warm_ours, 99):.1f} ms; bare consumer p50 {p(warm_bare, 50):.1f} ms")
    print(f"probes: {len(ours)}; rating produced -> visible in Redis: "
          f"p50 {p(ours, 50):.1f} ms, p99 {p(ours, 99):.1f} ms")
    print(f"reference, bare aiokafka consumer sees the probe: p50 {p(bare, 50):.1f} ms, p99 {p(bare, 99):.1f} ms "
          f"({len(bare)} seen)")
    print(f"ratio ours / bare consumer: p50 {p(ours, 50) / p(bare, 50):.1f}x, p99 {p(ours, 99) / p(bare, 99):.1f}x")
    if args.record:
        record.write("freshness", f"a rating produced → the model in Redis reflects it, {args.rate:,.0f} events/s "
                                  f"of {args.dataset} in the background, {len(ours)} probes",
                     {"p50 ms": p(ours, 50), "p99 ms": p(ours, 99), "bare consumer p50 ms": p(bare, 50),
                      "bare consumer p99 ms": p(bare, 99), "p50 ratio": p(ours, 50) / p(bare, 50),
                      "warm-up p50 ms": p(warm_ours, 50) if warm else "none",
                      "warm-up p99 ms": p(warm_ours, 99) if warm else "none"},
                     f"bare consumer: aiokafka in the bench's process seeing the same message; warm-up: the "
                     f"first {args.warmup_s:.0f} s of probes, reported apart")


async def run_through_api(args: argparse.Namespace) -> None:
    """The same private topic, Redis database and learning worker as ``run``, plus an API process of
    their own (``cinestream api`` on a free port): a person's rating travels the whole path."""
    settings = get_settings()
    port = free_port()
    key = load_secrets(settings).jwt_secret
    base = f"http://127.0.0.1:{port}"
    ratings = load_ratings(settings.data_dir / args.dataset / "ratings.csv")
    extra = {"CINESTREAM_API_PORT": str(port), "CINESTREAM_API_WORKERS": "1"}
    async with _private_stream(settings, extra) as (_, topic, env, redis, workdir):
        # a process group of its own, like the worker's, so stop_worker ends it; started before anything is timed
        api = subprocess.Popen([sys.executable, "-m", "cli.main", "api"],  # noqa: ASYNC220
                               env={**os.environ, **env}, stdout=(workdir / "api.log").open("wb"),
                               stderr=subprocess.STDOUT, start_new_session=True)

        async def probe(client: httpx.AsyncClient, number: int) -> tuple[float, float, float]:
            """(POST answered, visible in Redis, gone from the list) in milliseconds after the POST was sent."""
            user = PROBE_BASE + number
            # the person as an app signs them in: their own access token, over the shared connections
            person = Client(base, token=tokens.access_token(key, user, [], uuid.uuid4().hex, 10), http=client)
            listed: list[dict[str, Any]] = []
            # first a rating that makes the person known to the model (this worker keeps no trending list
            # for a newcomer), then the timed one: the first movie of their own list
            try:
                await person.rate(1, 4.0)
            except ApiError as exc:  # the API checks films against the main database's catalogue
                raise SystemExit(f"the API refused the first probe's rating ({exc}): build the main catalogue "
                                 "first (cinestream catalogue build)") from None
            while not listed:
                listed = (await person.recommendations(user))["items"]
            movie = listed[0]["movieId"]
            started = time.perf_counter()
            await person.rate(movie, 4.5)
            posted = (time.perf_counter() - started) * 1000
            in_redis: float | None = None
            while True:
                seen, answer = await asyncio.gather(redis.hexists(seen_key(user), str(movie)),
                                                    person.recommendations(user))
                now = (time.perf_counter() - started) * 1000
                if seen and in_redis is None:
                    in_redis = now
                if movie not in {item["movieId"] for item in answer["items"]}:
                    return posted, now if in_redis is None else in_redis, now
                if now > 10_000:
                    raise SystemExit(f"probe {number}: movie {movie} still listed after 10 s")

        background: asyncio.Task[None] | None = None
        try:
            async with httpx.AsyncClient(timeout=10) as client:
                await _wait_until_served(client, f"{base}/health", api)
                # the replay's own ratings first, so the list a probe starts from is the MF's (not only trending)
                await replay(settings, topic, ratings.iloc[:20_000], rate=20_000)
                background = _background_load(settings, topic, ratings, args.rate)
                await asyncio.sleep(2.0)
                _, results = await _probes(args, partial(probe, client))
        finally:
            if background is not None:
                background.cancel()
            stop_worker(api)
    p = np.percentile
    posted, in_redis, listed = (np.array(column) for column in zip(*results, strict=True))
    print(f"background load: {args.rate:,.0f} events/s throughout; {len(results)} probes, each a new person "
          "rating the first movie of their list")
    print(f"POST /api/events/ratings answered: p50 {p(posted, 50):.1f} ms, p99 {p(posted, 99):.1f} ms")
    print(f"reference, the rating visible in Redis: p50 {p(in_redis, 50):.1f} ms, p99 {p(in_redis, 99):.1f} ms")
    print(f"the movie gone from GET recommendations: p50 {p(listed, 50):.1f} ms, p99 {p(listed, 99):.1f} ms, "
          f"max {listed.max():.1f} ms")
    print(f"ratio API / Redis: p50 {p(listed, 50) / p(in_redis, 50):.2f}x, p99 {p(listed, 99) / p(in_redis, 99):.2f}x")
    if args.record:
        record.write("freshness-through-api", f"what a person sees: POST a rating, poll GET recommendations until "
                                              f"the movie leaves, {args.rate:,.0f} events/s in the background, "
                                              f"{len(results)} probes",
                     {"gone from the list p50 ms": p(listed, 50), "p99 ms": p(listed, 99), "max ms": listed.max(),
                      "visible in Redis p50 ms": p(in_redis, 50), "Redis p99 ms": p(in_redis, 99),
                      "POST answered p50 ms": p(posted, 50), "POST p99 ms": p(posted, 99)},
                     "Redis: the same rating seen in Redis, polled in the same loop")



async def _wait_until_served(client: httpx.AsyncClient, url: str, api: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if api.poll() is not None:
            raise SystemExit(f"the API exited ({api.returncode}) before serving")
        try:
            if (await client.get(url)).status_code == 200:
                return
        except httpx.TransportError:
            pass
        await asyncio.sleep(0.2)
    raise SystemExit("the API did not answer /health within 60 s")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--dataset", default="ml-latest-small")
    parser.add_argument("--rate", type=float, default=5000.0)
    parser.add_argument("--probes", type=int, default=200)
    parser.add_argument("--warmup-s", type=float, default=60.0,
                        help="seconds of the same load and probes first, reported apart: a broker started a "
                             "minute or two ago is still compiling its fetch path (its bare consumer is 2x slower)")
    parser.add_argument("--gap-ms", type=float, default=20.0)
    parser.add_argument("--through-api", action="store_true",
                        help="what a person sees: POST a rating, poll GET recommendations (main job running)")
    record.add_option(parser)
    args = parser.parse_args()
    asyncio.run(run_through_api(args) if args.through_api else run(args))


if __name__ == "__main__":
    main()
