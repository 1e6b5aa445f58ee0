"""Agent: persist every rating and watch to MongoDB in bulk, one document per message, idempotent.

The system of record, in a worker role of its own (``archive`` in ``scripts/main.sh``): MongoDB
inserts (FerretDB's above all) pace nothing else. A message's events are one document of columns
(``storage.history_store``), since FerretDB spends about 35 µs of CPU on each document it stores.
The history page reads the latest events from Redis (the ``recent`` agent), so a lagging archive
delays only exports and full-history reads."""

from __future__ import annotations

from typing import Any

from storage import applied_counts, history_store
from storage.mongo import connect, database
from streams.app import Worker
from streams.event_documents import archived
from streams.micro_batch import collect
from streams.retry import until_stored


def register(worker: Worker) -> None:
    settings = worker.settings
    db = database(connect(settings), settings)
    redis = worker.redis()  # the applied-events count only

    @worker.app.task
    async def prepare_history() -> None:
        await history_store.ensure_indexes(db)

    @worker.app.agent(worker.events_topic, name=f"{__name__}.history")
    async def history(stream: Any) -> None:
        async for events in stream.take_events(settings.batch_max_messages, within=settings.side_window_ms / 1000):
            batch = await collect(worker, events)  # dead letters are sent by the agents that own the topics
            await until_stored("history batch", history_store.record, db, archived(batch))
            await until_stored("applied count", applied_counts.add, redis, "history", len(batch))
            if batch.erasures:
                await until_stored("erasure", history_store.forget, db, batch.erasures)
