"""Agent: time-decayed popularity from ratings and watches; owns the watches topic's dead letters."""

from __future__ import annotations

from typing import Any

from online_models.trending import Trending
from storage import applied_counts
from storage.redis_store import connect
from storage.trending_store import TrendingStore
from streams.app import app, events_topic, settings
from streams.batch import collect
from streams.retry import until_stored
from streams.take import side_batches

store = TrendingStore(connect(settings), Trending())


@app.agent(events_topic)
async def trending(stream: Any) -> None:
    async for events in side_batches(stream, settings, settings.side_window_ms):
        batch = await collect(events, frozenset({settings.topic_watches}))  # ratings': online_mf
        if len(batch):
            await until_stored("trending batch", store.add, batch.events.movies, batch.confidence,
                              batch.events.timestamps)
            await until_stored("applied count", applied_counts.add, store.redis, "trending", len(batch))
