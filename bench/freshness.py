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
"""

from __future__ import annotations

import argparse
import asyncio
import tempfile
import time
import uuid
from pathlib import Path

import numpy as np
import redis.asyncio as aioredis
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from rich.progress import Progress

from cinestream.settings import get_settings
from simulators.replay import load_ratings, replay
from storage.model_store import user_key
from streams.admin import delete_topics, ensure_topics
from streams.local_worker import start_worker, stop_worker
from streams.schemas import encode_events

PROBE_BASE = 2_000_000_000


async def run(args: argparse.Namespace) -> None:
    settings = get_settings()
    run_id = uuid.uuid4().hex[:8]
    topic = f"fresh-ratings-{run_id}"
    env = {"CINESTREAM_TOPIC_RATINGS": topic, "CINESTREAM_TOPIC_DEAD_LETTER": f"fresh-dlq-{run_id}",
           "CINESTREAM_REDIS_URL": settings.redis_url.rsplit("/", 1)[0] + "/9", "CINESTREAM_AGENTS": "online_mf"}
    redis = aioredis.Redis.from_url(env["CINESTREAM_REDIS_URL"])
    await redis.flushdb()
    await ensure_topics(settings.kafka_bootstrap, settings.partitions, [topic], [env["CINESTREAM_TOPIC_DEAD_LETTER"]])
    proc = start_worker(env, Path(tempfile.mkdtemp(prefix="cinestream-fresh-")))
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
    ratings = load_ratings(settings.data_dir / args.dataset / "ratings.csv")

    async def background_load() -> None:
        while True:  # each pass with new event ids: the load runs until the probes are done
            await replay(settings.kafka_bootstrap, topic, ratings, rate=args.rate)

    background = asyncio.create_task(background_load())
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
        await asyncio.sleep(args.gap_ms / 1000)
        return visible, (arrivals[user] - started) * 1000 if user in arrivals else None

    warm: list[tuple[float, float | None]] = []
    measured: list[tuple[float, float | None]] = []
    try:
        with Progress(transient=True) as progress:
            task = progress.add_task(f"warm-up ({args.warmup_s:.0f} s)", total=args.warmup_s)
            warm_until = time.perf_counter() + args.warmup_s
            while time.perf_counter() < warm_until:
                warm.append(await probe(len(warm)))
                progress.update(task, completed=args.warmup_s - (warm_until - time.perf_counter()))
            task = progress.add_task("probes", total=args.probes)
            for _ in range(args.probes):
                measured.append(await probe(len(warm) + len(measured)))
                progress.advance(task)
    finally:
        background.cancel()
        ref_task.cancel()
        await producer.stop()
        await consumer.stop()
        stop_worker(proc)
        await redis.flushdb()
        await redis.aclose()
        await delete_topics(settings.kafka_bootstrap, [topic, env["CINESTREAM_TOPIC_DEAD_LETTER"]])
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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--dataset", default="ml-latest-small")
    parser.add_argument("--rate", type=float, default=5000.0)
    parser.add_argument("--probes", type=int, default=200)
    parser.add_argument("--warmup-s", type=float, default=60.0,
                        help="seconds of the same load and probes first, reported apart: a broker started a "
                             "minute or two ago is still compiling its fetch path (its bare consumer is 2x slower)")
    parser.add_argument("--gap-ms", type=float, default=20.0)
    asyncio.run(run(parser.parse_args()))


if __name__ == "__main__":
    main()
