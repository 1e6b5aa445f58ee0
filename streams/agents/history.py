"""Agent: persist every rating and watch to MongoDB in bulk, idempotent by event id, and keep
each user's latest events in Redis for the history page (``storage.recent_history``)."""

from __future__ import annotations

from typing import Any

from storage import erasure, history_store, recent_history
from storage.mongo import connect, database
from storage.redis_store import connect as connect_redis
from streams.app import app, events_topic, settings
from streams.batch import Batch, collect
from streams.retry import until_stored

db = database(connect(settings), settings)
redis = connect_redis(settings)


@app.task
async def prepare_history() -> None:
    await history_store.ensure_indexes(db)


def documents(batch: Batch) -> list[dict[str, Any]]:
    """One document per event, ``_id`` its event id; a watch keeps its seconds, a rating its stars."""
    e = batch.events
    common = zip(e.event_ids, e.kinds.tolist(), e.users.tolist(), e.movies.tolist(), e.timestamps.tolist(), e.sources,
                 batch.partitions.tolist(), batch.offsets.tolist(), strict=True)
    kind_fields = zip(e.ratings.tolist(), e.seconds.tolist(), e.completed.tolist(), strict=True)
    return [{"_id": event_id, "type": "watch" if watch else "rating", "user_id": user, "movie_id": movie,
             "timestamp": timestamp, "source": source, "partition": partition, "offset": offset,
             **({"seconds_watched": seconds, "completed": completed} if watch else {"rating": rating})}
            for (event_id, watch, user, movie, timestamp, source, partition, offset), (rating, seconds, completed)
            in zip(common, kind_fields, strict=True)]


@app.agent(events_topic)
async def history(stream: Any) -> None:
    async for events in stream.take_events(settings.batch_max_messages, within=settings.side_window_ms / 1000):
        batch = await collect(events)  # dead letters are sent by the agents that own the topics
        stored = documents(batch)
        await until_stored("history batch", history_store.record, db, stored)
        await until_stored("recent history", recent_history.add, redis, stored)
        if batch.erasures:
            await until_stored("erasure", history_store.forget, db, batch.erasures)
            await until_stored("erasure", erasure.forget_users, redis, batch.erasures)
