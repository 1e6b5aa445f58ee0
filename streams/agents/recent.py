"""Agent: each user's latest events in Redis for the history page (``storage.recent_history``),
beside the other side models; MongoDB's full history is the ``history`` agent's, in its own role."""

from __future__ import annotations

from typing import Any

from storage import erasure, recent_history
from storage.redis_store import connect
from streams.app import app, events_topic, settings
from streams.batch import collect
from streams.event_documents import documents
from streams.retry import until_stored

redis = connect(settings)


@app.agent(events_topic)
async def recent(stream: Any) -> None:
    async for events in stream.take_events(settings.batch_max_messages, within=settings.side_window_ms / 1000):
        batch = await collect(events)
        await until_stored("recent history", recent_history.add, redis, documents(batch))
        if batch.erasures:
            await until_stored("erasure", erasure.forget_users, redis, batch.erasures)
