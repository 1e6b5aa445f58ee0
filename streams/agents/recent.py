"""Agent: each user's latest events in Redis for the history page (``storage.recent_history``),
beside the other side models; MongoDB's full history is the ``history`` agent's, in its own role."""

from __future__ import annotations

from typing import Any

from storage import applied_counts, erasure, recent_history
from storage.redis_store import connect
from streams.app import app, events_topic, settings
from streams.batch import collect
from streams.retry import until_stored
from streams.take import side_batches

redis = connect(settings)


@app.agent(events_topic)
async def recent(stream: Any) -> None:
    async for events in side_batches(stream, settings, settings.side_window_ms):
        batch = await collect(events)
        e = batch.events
        packed = recent_history.records(e.kinds, e.movies, e.ratings, e.seconds, e.completed, e.timestamps)
        await until_stored("recent history", recent_history.store, redis, e.users, packed)
        await until_stored("applied count", applied_counts.add, redis, "recent", len(batch))
        if batch.erasures:
            await until_stored("erasure", erasure.forget_users, redis, batch.erasures)
