"""Replay a MovieLens ratings file into Kafka in timestamp order, through the public topic only.

Consecutive ratings of one user are packed into one envelope (up to ``per_message`` events),
keyed by the user id so a user's events stay in order on one partition.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
from aiokafka import AIOKafkaProducer

from streams.schemas import encode_columns


@dataclass(frozen=True)
class ReplaySummary:
    events: int
    messages: int
    seconds: float
    started: float  # ``time.perf_counter()`` when the first message was handed to the producer


def envelopes(ratings: pd.DataFrame, per_message: int, source: str) -> list[tuple[int, bytes, int]]:
    """``(user, payload, n_events)`` per message (columnar, schema version 2), in the ratings' order."""
    users = ratings["userId"].to_numpy()
    starts = np.flatnonzero(np.r_[True, users[1:] != users[:-1]])
    runs = zip(starts.tolist(), [*starts[1:].tolist(), len(users)], strict=True)
    bounds = [(a, min(a + per_message, end)) for start, end in runs for a in range(start, end, per_message)]
    run = uuid.uuid4().hex[:8]
    event_ids = [f"{source}-{run}-{j}" for j in range(len(users))]
    movies, stars = ratings["movieId"].to_numpy(), ratings["rating"].to_numpy(dtype=np.float64)
    times = ratings["timestamp"].to_numpy(dtype=np.float64)
    return [(int(users[a]), encode_columns("rating", source, event_id=event_ids[a:b], user_id=users[a:b],
                                           movie_id=movies[a:b], rating=stars[a:b], timestamp=times[a:b]), b - a)
            for a, b in bounds]


def load_ratings(path: Path, limit: int | None = None) -> pd.DataFrame:
    frame = pd.read_csv(path).sort_values("timestamp", kind="stable")
    return frame.iloc[:limit] if limit else frame


async def replay(bootstrap: str, topic: str, ratings: pd.DataFrame, rate: float | None = None,
                 per_message: int = 200, source: str = "replay",
                 progress: Callable[[int], None] | None = None) -> ReplaySummary:
    """Produce ``ratings``; ``rate`` caps events per second (None: as fast as the broker takes them)."""
    messages = envelopes(ratings, per_message, source)
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, linger_ms=5, acks="all",
                                max_batch_size=256 * 1024)
    await producer.start()
    started = time.perf_counter()
    sent = 0
    deliveries = []
    try:
        for user, payload, n in messages:
            deliveries.append(await producer.send(topic, payload, key=str(user).encode()))
            sent += n
            if progress:
                progress(n)
            if rate:
                ahead = sent / rate - (time.perf_counter() - started)
                if ahead > 0:
                    await asyncio.sleep(ahead)
        await producer.flush()
        await asyncio.gather(*deliveries)  # a failed delivery raises here instead of vanishing
    finally:
        await producer.stop()
    return ReplaySummary(sent, len(messages), time.perf_counter() - started, started)
