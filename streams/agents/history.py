"""Agent: persist every rating and watch to MongoDB in bulk, idempotent by event id."""

from __future__ import annotations

from typing import Any

from storage import history_store
from storage.mongo import connect, database
from streams.app import app, events_topic, settings
from streams.retry import until_stored
from streams.schemas import Invalid, Rating, parse_message

db = database(connect(settings), settings)


@app.task
async def prepare_history() -> None:
    await history_store.ensure_indexes(db)


@app.agent(events_topic)
async def history(stream: Any) -> None:
    async for events in stream.take_events(settings.batch_max_messages, within=settings.side_window_ms / 1000):
        documents = []
        for event in events:
            parsed = parse_message(event.value)
            if isinstance(parsed, Invalid):
                continue  # dead-lettered by the agent that owns the topic
            for item in parsed:
                doc = item._asdict()
                doc["_id"] = doc.pop("event_id")
                doc["type"] = "rating" if isinstance(item, Rating) else "watch"
                doc["partition"], doc["offset"] = event.message.partition, event.message.offset
                documents.append(doc)
        await until_stored("history batch", history_store.record, db, documents)
