"""Event history in the real MongoDB-protocol server: bulk and idempotent by event id."""

from __future__ import annotations

import uuid

import pytest
from motor.motor_asyncio import AsyncIOMotorDatabase

from storage import history_store

pytestmark = pytest.mark.integration


async def test_redelivered_events_are_stored_once(db: AsyncIOMotorDatabase) -> None:
    run = uuid.uuid4().hex[:8]
    user = 800_000_000 + int(run[:4], 16)
    events = [{"_id": f"{run}-{i}", "type": "rating", "user_id": user, "movie_id": i, "rating": 4.0,
               "timestamp": float(i), "source": "test"} for i in range(300)]
    await history_store.ensure_indexes(db)
    assert await history_store.record(db, events[:200]) == 200
    assert await history_store.record(db, events) == 100  # the first 200 again, then 100 new
    history = await history_store.user_history(db, user, limit=500)
    assert len(history) == 300 and history[0]["movie_id"] == 299  # newest first
    await db.events.delete_many({"user_id": user})
