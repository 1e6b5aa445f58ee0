"""Helpers shared by the streaming integration tests."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pandas as pd
import redis
from redis.cluster import RedisCluster

from core.settings import Settings
from simulators.replay import load_ratings, replay
from storage.model_keys import ITEM_SETS, STATS
from storage.similarity_store import COUNT_KEYS
from streams.admin import delete_topics, ensure_topics
from streams.local_worker import start_worker, stop_worker


def isolated(stack: Settings, redis_db: int, name: str) -> dict[str, str]:
    """Topics and a Redis database of one test module alone, as ``CINESTREAM_*`` overrides."""
    run = uuid.uuid4().hex[:8]
    return {"CINESTREAM_TOPIC_RATINGS": f"{name}-ratings-{run}", "CINESTREAM_TOPIC_WATCHES": f"{name}-watches-{run}",
            "CINESTREAM_TOPIC_DEAD_LETTER": f"{name}-dlq-{run}", "CINESTREAM_TOPIC_MOVIES": f"{name}-movies-{run}",
            "CINESTREAM_TOPIC_EXPOSURES": f"{name}-exposures-{run}",
            "CINESTREAM_REDIS_URL": stack.redis_url.rsplit("/", 1)[0] + f"/{redis_db}"}


def on_cluster(overrides: dict[str, str]) -> bool:
    return overrides.get("CINESTREAM_REDIS_CLUSTER") == "true"


def prepare(stack: Settings, overrides: dict[str, str]) -> None:
    redis_client(overrides["CINESTREAM_REDIS_URL"], on_cluster(overrides)).flushdb()
    topics = [overrides["CINESTREAM_TOPIC_RATINGS"], overrides.get("CINESTREAM_TOPIC_WATCHES", "watches"),
              overrides.get("CINESTREAM_TOPIC_EXPOSURES", "exposures")]
    asyncio.run(ensure_topics(stack, topics, [overrides["CINESTREAM_TOPIC_DEAD_LETTER"],
                                              overrides.get("CINESTREAM_TOPIC_MOVIES", "movies")]))


def cleanup(stack: Settings, overrides: dict[str, str]) -> None:
    """Drop the run's topics and empty its Redis database: per-run topics would pile up on the broker."""
    redis_client(overrides["CINESTREAM_REDIS_URL"], on_cluster(overrides)).flushdb()
    names = [v for k, v in overrides.items() if k.startswith("CINESTREAM_TOPIC_")]
    asyncio.run(delete_topics(stack, names))


def wait_for_similarity(url: str, positives: int, timeout: float = 60) -> None:
    """Until the similarity agent counted ``positives`` positive events (its batches close a second
    after the MF's, so an "MF learned everything" wait does not cover it)."""
    client = redis.Redis.from_url(url)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if similarity_counted(client) >= positives:
            return
        time.sleep(0.2)
    raise AssertionError(f"similarity counted {similarity_counted(client)} of {positives}")


def similarity_counted(client: redis.Redis) -> float:
    return sum(float(c) for key in COUNT_KEYS for c in client.hvals(key))


def redis_client(url: str, cluster: bool = False) -> redis.Redis:
    """A synchronous client of the Redis (or Redis Cluster) a test's workers use."""
    return RedisCluster.from_url(url) if cluster else redis.Redis.from_url(url)  # type: ignore[return-value]


def item_members(client: redis.Redis) -> list[int]:
    """Every movie with an MF row (the item shards' member sets)."""
    return sorted(int(m) for key in ITEM_SETS for m in client.smembers(key))


def wait_for_preq(url: str, n: int, timeout: float = 60, cluster: bool = False) -> dict[bytes, bytes]:
    client = redis_client(url, cluster)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        preq = client.hgetall(STATS)
        if float(preq.get(b"n", 0)) >= n:
            return preq
        time.sleep(0.2)
    raise AssertionError(f"only {client.hgetall(STATS)} of {n} events applied")




@contextmanager
def learned_worker(stack: Settings, overrides: dict[str, str], data_dir: Path, workdir: Path, limit: int = 20000,
                   similarity: bool = False) -> Iterator[pd.DataFrame]:
    """The topics and Redis database of ``overrides`` and a worker with their agents, which has learned the first
    ``limit`` ratings of ml-latest-small (yielded), into the co-occurrence too with ``similarity``; the worker is
    stopped and the topics and database removed on leaving."""
    prepare(stack, overrides)
    proc = start_worker(overrides, workdir)
    try:
        ratings = load_ratings(data_dir / "ml-latest-small" / "ratings.csv", limit=limit)
        asyncio.run(replay(stack, overrides["CINESTREAM_TOPIC_RATINGS"], ratings))
        wait_for_preq(overrides["CINESTREAM_REDIS_URL"], len(ratings))
        if similarity:
            wait_for_similarity(overrides["CINESTREAM_REDIS_URL"], int((ratings["rating"] >= 3.5).sum()))
        yield ratings
    finally:
        stop_worker(proc)
        cleanup(stack, overrides)
