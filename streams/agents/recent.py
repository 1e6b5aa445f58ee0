"""Agent: each user's latest events in Redis for the history page (``storage.recent_history``),
beside the other side models; MongoDB's full history is the ``history`` agent's, in its own role."""

from __future__ import annotations

from typing import Any

from storage import applied_counts, erasure, recent_history
from streams.app import Worker
from streams.micro_batch import collect
from streams.retry import until_stored
from streams.take import side_batches


def register(worker: Worker) -> None:
    settings = worker.settings
    redis = worker.redis()

    @worker.app.agent(worker.events_topic, name=f"{__name__}.recent")
    async def recent(stream: Any) -> None:
        async for events in side_batches(stream, settings, settings.side_window_ms):
            batch = await collect(worker, events)
            e = batch.events
            packed = recent_history.records(e.kinds, e.movies, e.ratings, e.seconds, e.completed, e.timestamps)
            await until_stored("recent history", recent_history.store, redis, e.users, packed)
            await until_stored("applied count", applied_counts.add, redis, "recent", len(batch))
            if batch.erasures:
                await until_stored("erasure", erasure.forget_users, redis, batch.erasures)
