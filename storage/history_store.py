"""Every event, kept in MongoDB's ``events`` collection: the users' viewing and rating history.

``_id`` is the event id, so a batch redelivered after a crash inserts nothing twice: the bulk
insert is unordered and duplicate-key errors (code 11000) are the expected, ignored outcome.
"""

from __future__ import annotations

from typing import Any

from motor.motor_asyncio import AsyncIOMotorDatabase
from pymongo import ASCENDING, IndexModel
from pymongo.errors import BulkWriteError

DUPLICATE_KEY = 11000
INDEXES = [IndexModel([("user_id", ASCENDING), ("timestamp", ASCENDING)], name="user_time")]


async def ensure_indexes(db: AsyncIOMotorDatabase) -> None:
    for model in INDEXES:
        await db.events.create_indexes([model])


async def record(db: AsyncIOMotorDatabase, events: list[dict[str, Any]]) -> int:
    """Insert the events not stored yet; returns how many were new."""
    if not events:
        return 0
    try:
        result = await db.events.insert_many(events, ordered=False)
        return len(result.inserted_ids)
    except BulkWriteError as exc:
        errors = exc.details.get("writeErrors", [])
        unexpected = [e for e in errors if e.get("code") != DUPLICATE_KEY]
        if unexpected:
            raise
        return int(exc.details.get("nInserted", len(events) - len(errors)))
