"""Every event, kept in MongoDB's ``events`` collection: the users' viewing and rating history.

``_id`` is the event id, so a batch redelivered after a crash inserts nothing twice: the bulk
insert is unordered and duplicate-key errors (code 11000) are the expected, ignored outcome.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import pandas as pd
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


async def all_events(db: AsyncIOMotorDatabase) -> pd.DataFrame:
    """Every stored event as columns, oldest first (a full scan: repair jobs, not requests)."""
    projection = {"_id": 0, "type": 1, "user_id": 1, "movie_id": 1, "rating": 1, "seconds_watched": 1,
                  "completed": 1, "timestamp": 1}
    frame = pd.DataFrame(await db.events.find({}, projection).to_list(None),
                         columns=["type", "user_id", "movie_id", "rating", "seconds_watched", "completed", "timestamp"])
    frame["watch"] = frame["type"] == "watch"
    frame["completed"] = frame["completed"].astype("boolean").fillna(False).astype(bool)
    frame[["rating", "seconds_watched", "timestamp"]] = frame[["rating", "seconds_watched", "timestamp"]].astype(float)
    return frame.sort_values("timestamp", kind="stable").reset_index(drop=True)


async def forget(db: AsyncIOMotorDatabase, users: Sequence[int]) -> int:
    """Delete every stored event of these people (erasure); returns how many."""
    result = await db.events.delete_many({"user_id": {"$in": list(users)}})
    return int(result.deleted_count)
