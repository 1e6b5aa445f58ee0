"""Agent: time-decayed popularity from ratings and watches; owns the watches topic's dead letters."""

from __future__ import annotations

from typing import Any

from online_models.trending import Trending
from storage import applied_counts
from storage.trending_store import TrendingStore
from streams.app import Worker
from streams.micro_batch import collect
from streams.retry import until_stored
from streams.side_learning import learn_trending
from streams.take import side_batches


def register(worker: Worker) -> None:
    settings = worker.settings
    model, store = Trending(), TrendingStore(worker.redis())

    @worker.app.agent(worker.events_topic, name=f"{__name__}.trending")
    async def trending(stream: Any) -> None:
        async for events in side_batches(stream, settings, settings.side_window_ms):
            batch = await collect(worker, events, frozenset({settings.topic_watches}))  # ratings': online_mf
            if len(batch):
                await until_stored("trending batch", learn_trending, store, model, batch.events.movies,
                                   batch.confidence, batch.events.timestamps)
                await until_stored("applied count", applied_counts.add, store.redis, "trending", len(batch))
