"""Replay a MovieLens ratings file into Kafka in timestamp order, through the public topic only.

Events are packed per partition, not per user (``contracts.partitions``): one envelope carries up
to ``per_message`` events of any users of that partition. Packed per user, ml-1m-shaped data
(interleaved users) made 915,466 messages of 1.08 events for 984,991 ratings. The stream is cut into
windows of ``per_message`` x partitions events in time order, so a paced replay stays in time order.
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

from catalogue.readers import Rejections
from catalogue.sources import read_ratings
from contracts.events import encode_columns
from contracts.partitions import partition_of
from core.kafka_auth import client_options
from core.settings import Settings
from evaluation.datasets import layout_of
from online_models.runs import run_starts


@dataclass(frozen=True)
class ReplaySummary:
    events: int
    messages: int
    seconds: float
    started: float  # ``time.perf_counter()`` when the first message was handed to the producer


def envelopes(ratings: pd.DataFrame, per_message: int, source: str, partitions: int
              ) -> list[tuple[int, bytes, int]]:
    """``(partition, payload, n_events)`` per message (columnar, schema version 2), in time windows."""
    users = ratings["userId"].to_numpy()
    parts = partition_of(users, partitions)
    window = np.arange(len(users)) // (per_message * partitions)
    order = np.lexsort((parts, window))  # stable: each partition's events keep their time order
    key = window[order] * partitions + parts[order]
    cut = run_starts(key)
    runs = zip(cut.tolist(), [*cut[1:].tolist(), len(order)], strict=True)
    bounds = [(a, min(a + per_message, end)) for start, end in runs for a in range(start, end, per_message)]
    run = uuid.uuid4().hex[:8]
    event_ids = np.array([f"{source}-{run}-{j}" for j in range(len(users))], dtype=object)[order]
    users, parts = users[order], parts[order]
    movies, stars = ratings["movieId"].to_numpy()[order], ratings["rating"].to_numpy(dtype=np.float64)[order]
    times = ratings["timestamp"].to_numpy(dtype=np.float64)[order]
    return [(int(parts[a]), encode_columns("rating", source, event_id=event_ids[a:b].tolist(), user_id=users[a:b],
                                           movie_id=movies[a:b], rating=stars[a:b], timestamp=times[a:b]), b - a)
            for a, b in bounds]


def in_replay_order(frame: pd.DataFrame, limit: int | None = None) -> pd.DataFrame:
    """The ratings in time order (ties as in the file), the first ``limit`` of them."""
    frame = frame.sort_values("timestamp", kind="stable")
    return frame.iloc[:limit] if limit else frame


def load_ratings(path: Path, limit: int | None = None) -> pd.DataFrame:
    return in_replay_order(pd.read_csv(path), limit)


def release_ratings(settings: Settings, dataset: str, limit: int | None = None) -> pd.DataFrame:
    """Any release's ratings (shared, fetched or generated: any layout), in replay order; rows the
    catalogue build rejects are left out, as it leaves them out."""
    layout = layout_of(settings.release_dir(dataset).parent, dataset)
    return in_replay_order(read_ratings(layout, Rejections()), limit)


async def replay(settings: Settings, topic: str, ratings: pd.DataFrame, rate: float | None = None,
                 per_message: int = 200, source: str = "replay",
                 progress: Callable[[int], None] | None = None) -> ReplaySummary:
    """Produce ``ratings``; ``rate`` caps events per second (None: as fast as the broker takes them)."""
    producer = AIOKafkaProducer(bootstrap_servers=settings.kafka_bootstrap, linger_ms=5, acks="all",
                                enable_idempotence=True, max_batch_size=256 * 1024, **client_options(settings))
    await producer.start()
    try:
        messages = envelopes(ratings, per_message, source, len(await producer.partitions_for(topic)))
        started = time.perf_counter()
        sent = 0
        deliveries = []
        for partition, payload, n in messages:
            deliveries.append(await producer.send(topic, payload, partition=partition))
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
