"""Event history: every event in MongoDB (bulk, idempotent by event id), the latest per user in Redis."""

from __future__ import annotations

import uuid
from typing import Any

import numpy as np
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


async def test_batches_appended_and_compacted_show_the_same_as_the_definition(redis_db: aioredis.Redis) -> None:
    """Many batches, late and repeated events among them: what a reader gets equals every distinct
    event newest first, capped; and no string ever holds more than TRIM_AT records."""
    rng = np.random.default_rng(1)
    size = recent_history.RECORD.itemsize
    every: list[tuple[int, bytes, float]] = []
    for _ in range(40):
        n = int(rng.integers(1, 60))
        users = rng.integers(1, 4, n).astype(np.int64)
        packed = np.zeros(n, dtype=recent_history.RECORD)
        packed["t"], packed["movie"], packed["stars"] = rng.random(n) * 1e9, rng.integers(0, 10**6, n), 7
        if every and rng.random() < 0.3:  # a batch delivered again, in part
            user, raw, _ = every[int(rng.integers(len(every)))]
            users[0], packed[0] = user, np.frombuffer(raw, dtype=recent_history.RECORD)[0]
        await recent_history.store(redis_db, users, packed)
        every += [(int(u), r.tobytes(), float(r["t"])) for u, r in zip(users, packed, strict=True)]
        for user in (1, 2, 3):
            assert await redis_db.strlen(recent_history.history_key(user)) <= recent_history.TRIM_AT * size
    for user in (1, 2, 3):
        distinct = {raw: t for u, raw, t in every if u == user}
        expected = sorted(distinct, key=lambda raw: -distinct[raw])[:recent_history.KEEP]
        got = await recent_history.latest(redis_db, user, limit=recent_history.KEEP)
        assert [(e["movie_id"], e["timestamp"]) for e in got] == [
            (int(r["movie"]), float(r["t"])) for r in (np.frombuffer(raw, dtype=recent_history.RECORD)[0]
                                                       for raw in expected)]


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
