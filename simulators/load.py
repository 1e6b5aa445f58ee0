"""Synthetic load: users with tastes rating and watching movies, produced to the public topics.

Each synthetic user prefers a few random "genres" (clusters of movie ids); their ratings are
higher inside their clusters, and about one in three of their events is a watch whose
completion follows the same taste. Movies are drawn as often as the release's people rated them,
so trending under load looks like a real service's, not like a lottery of obscure titles. Bounded by
count and duration; stops by itself. (``simulators.people`` is the load that reacts to what it is
shown; this one is for raw event rates.)
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections import defaultdict
from dataclasses import dataclass
from typing import Literal

import numpy as np
from aiokafka import AIOKafkaProducer

from contracts.events import KIND_FIELDS, encode_columns
from contracts.partitions import partition_of
from core.kafka_auth import client_options
from core.settings import Settings


@dataclass(frozen=True)
class LoadSummary:
    ratings: int
    watches: int
    seconds: float


def synthetic_events(rng: np.random.Generator, users: int, movies: int | np.ndarray, n: int, run: str,
                     first_user: int, clusters: int = 20, popularity: np.ndarray | None = None
                     ) -> tuple[list[dict[str, object]], list[dict[str, object]]]:
    """``movies``: the catalogue's ids to draw from (the stream refuses any other), or a count for 1..n;
    ``popularity``: each one's chance of being drawn (None: all alike)."""
    catalogue = np.arange(1, movies + 1) if isinstance(movies, int) else np.asarray(movies, dtype=np.int64)
    user = rng.integers(0, users, n)
    movie = rng.choice(len(catalogue), n, p=popularity)
    taste = rng.integers(0, clusters, (users, 3))
    liked = (taste[user] == (movie % clusters)[:, None]).any(axis=1)
    stars = np.clip(np.round((np.where(liked, 4.2, 2.8) + rng.normal(0, 0.7, n)) * 2) / 2, 0.5, 5.0)
    is_watch = rng.random(n) < 1 / 3
    now = time.time()
    ratings, watches = [], []
    for j in range(n):
        base = {"event_id": f"load-{run}-{j}", "user_id": int(first_user + user[j]),
                "movie_id": int(catalogue[movie[j]]), "timestamp": now, "source": "load"}
        if is_watch[j]:
            completion = float(np.clip(rng.normal(0.85 if liked[j] else 0.35, 0.2), 0, 1))
            watches.append({**base, "type": "watch", "seconds_watched": round(completion * 5400, 1),
                            "completed": completion > 0.9})
        else:
            ratings.append({**base, "type": "rating", "rating": float(stars[j])})
    return ratings, watches


def envelopes(kind: Literal["rating", "watch"], events: list[dict[str, object]], partitions: int
              ) -> list[tuple[int, bytes]]:
    """One columnar envelope (schema version 2) per partition: the events of this tick whose users
    Kafka's partitioner puts there, in order (``contracts.partitions``)."""
    parts = partition_of(np.array([e["user_id"] for e in events], dtype=np.int64), partitions)
    by_partition: dict[int, list[dict[str, object]]] = defaultdict(list)
    for event, partition in zip(events, parts.tolist(), strict=True):
        by_partition[partition].append(event)
    fields = ["event_id", *KIND_FIELDS[kind]]
    return [(partition, encode_columns(kind, "load", **{name: [e[name] for e in own] for name in fields}))
            for partition, own in sorted(by_partition.items())]


async def generate(settings: Settings, ratings_topic: str, watches_topic: str, users: int = 1000,
                   movies: int | np.ndarray = 9000,
                   rate: float = 1000.0, duration_s: float = 10.0, first_user: int = 1_000_000, seed: int = 0,
                   popularity: np.ndarray | None = None) -> LoadSummary:
    """``popularity``: each of ``movies``' chance of being drawn, so that what the load makes trend looks
    like what a release's people make trend (None: every movie alike)."""
    rng = np.random.default_rng(seed)
    run = uuid.uuid4().hex[:8]
    producer = AIOKafkaProducer(bootstrap_servers=settings.kafka_bootstrap, linger_ms=5, acks="all",
                                enable_idempotence=True, **client_options(settings))
    await producer.start()
    started = time.perf_counter()
    sent_r = sent_w = 0
    try:
        partitions = {topic: len(await producer.partitions_for(topic)) for topic in (ratings_topic, watches_topic)}
        tick = 0.1
        while (elapsed := time.perf_counter() - started) < duration_s:
            n = max(1, int(rate * tick))
            ratings, watches = synthetic_events(rng, users, movies, n, f"{run}-{sent_r + sent_w}", first_user,
                                                 popularity=popularity)
            batches: list[tuple[str, Literal["rating", "watch"], list[dict[str, object]]]] = [
                (ratings_topic, "rating", ratings), (watches_topic, "watch", watches)]
            deliveries = [await producer.send(topic, payload, partition=partition)
                          for topic, kind, events in batches if events
                          for partition, payload in envelopes(kind, events, partitions[topic])]
            await asyncio.gather(*deliveries)  # a failed delivery raises here instead of vanishing
            sent_r, sent_w = sent_r + len(ratings), sent_w + len(watches)
            ahead = (sent_r + sent_w) / rate - elapsed
            await asyncio.sleep(max(ahead, 0))
        await producer.flush()
    finally:
        await producer.stop()
    return LoadSummary(sent_r, sent_w, time.perf_counter() - started)
