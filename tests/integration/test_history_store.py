"""Event history: every event in MongoDB (bulk, idempotent by event id), the latest per user in Redis."""

from __future__ import annotations

import uuid
from typing import Any

import pytest
import redis.asyncio as aioredis
from motor.motor_asyncio import AsyncIOMotorDatabase

from storage import history_store, recent_history

pytestmark = pytest.mark.integration
REDIS_DB = 7


def events_of(user: int, n: int, run: str) -> list[dict[str, Any]]:
    return [{"_id": f"{run}-{i}", "type": "rating", "user_id": user, "movie_id": i, "rating": 4.0,
             "timestamp": float(i), "source": "test"} for i in range(n)]


def messages_of(events: list[dict[str, Any]], size: int) -> list[dict[str, Any]]:
    """The events as the archive stores them: ``size`` a message (column documents)."""
    docs = []
    for offset, start in enumerate(range(0, len(events), size)):
        part = events[start:start + size]
        docs.append({"_id": part[0]["_id"], "partition": 0, "offset": offset, "n": len(part),
                     "event_id": [e["_id"] for e in part], **{name: [e.get(name) for e in part] for name in (
                         "type", "user_id", "movie_id", "rating", "timestamp", "source")}})
    return docs


async def test_redelivered_messages_are_stored_once_and_erasure_keeps_other_people_s_events(
        db: AsyncIOMotorDatabase) -> None:
    run = uuid.uuid4().hex[:8]
    own = db.client[f"history_{run}"]  # a database of its own: FerretDB scans a collection for any filter
    events = [e | {"user_id": 7 + j % 2} for j, e in enumerate(events_of(7, 300, run))]
    legacy = {"_id": f"{run}-legacy", "type": "rating", "user_id": 7, "movie_id": 1, "rating": 3.0, "timestamp": 0.5}
    try:
        await own.events.create_index([("user_id", 1), ("timestamp", 1)], name="user_time")  # an earlier version's
        await history_store.ensure_indexes(own)
        assert set(await own.events.index_information()) == {"_id_", "user"}  # MongoDB: no two arrays in one index
        assert await history_store.record(own, messages_of(events[:200], 50)) == 200
        assert await history_store.record(own, messages_of(events, 50)) == 100  # the first 4 messages again, 2 new
        assert await own.events.count_documents({}) == 6
        await own.events.insert_one(legacy)  # one event a document: what earlier versions stored
        mine = await history_store.of_user(own, 7)
        assert [e["event_id"] for e in mine[:2]] == [f"{run}-0", f"{run}-2"] and len(mine) == 151
        assert {"movie_id": 4, "type": "rating", "rating": 4.0, "timestamp": 4.0}.items() <= mine[2].items()
        assert len(await history_store.all_events(own)) == 301
        assert await history_store.forget(own, [7]) == 151
        assert await history_store.of_user(own, 7) == []
        assert [e["movie_id"] for e in await history_store.of_user(own, 8)] == list(range(1, 300, 2))
        assert await own.events.count_documents({}) == 6  # each message keeps user 8's half
    finally:
        await db.client.drop_database(own.name)


async def test_the_latest_events_per_user_are_kept_once_newest_first(redis_db: aioredis.Redis) -> None:
    events = events_of(7, recent_history.KEEP + 100, "r") + events_of(8, 3, "s")
    await recent_history.add(redis_db, events[:200])
    await recent_history.add(redis_db, events)  # a batch delivered again, then newer events
    latest = await recent_history.latest(redis_db, 7, limit=recent_history.KEEP + 50)
    assert len(latest) == recent_history.KEEP  # capped, and nothing counted twice
    newest = recent_history.KEEP + 99
    assert [e["movie_id"] for e in latest[:3]] == [newest, newest - 1, newest - 2]
    assert latest[0] == {"user_id": 7, "movie_id": newest, "type": "rating", "rating": 4.0, "seconds_watched": None,
                         "completed": None, "timestamp": float(newest)}
    assert [e["movie_id"] for e in await recent_history.latest(redis_db, 8)] == [2, 1, 0]
    assert await recent_history.latest(redis_db, 9) == []


async def test_a_person_s_history_is_compact_packed_events(redis_db: aioredis.Redis) -> None:
    watch = {"user_id": 5, "movie_id": 2571, "type": "watch", "seconds_watched": 8160.5, "completed": True,
             "timestamp": 1_700_000_000.0, "source": "api", "_id": "w1"}
    half = {"user_id": 5, "movie_id": 1, "type": "rating", "rating": 3.5, "timestamp": 1_700_000_100.0}
    await recent_history.add(redis_db, [watch, half, *events_of(5, recent_history.KEEP - 2, "p")])
    latest = await recent_history.latest(redis_db, 5, limit=recent_history.KEEP)
    assert {"movie_id": 1, "type": "rating", "rating": 3.5}.items() <= latest[0].items()
    assert {"movie_id": 2571, "type": "watch", "seconds_watched": 8160.5, "completed": True,
            "rating": None}.items() <= latest[1].items()
    assert await redis_db.strlen(recent_history.history_key(5)) == recent_history.KEEP * 18
    assert (await redis_db.memory_usage(recent_history.history_key(5)) or 0) < 6_000  # was ~38 KB as JSON
