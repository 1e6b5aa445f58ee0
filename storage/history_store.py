"""Every event, kept in MongoDB's ``events`` collection: the users' viewing and rating history.

One document per Kafka message (per kind of event in it), its events as columns::

    {"_id": <the message's first event id>, "partition": p, "offset": o, "n": 130,
     "event_id": [...], "type": [...], "user_id": [...], "movie_id": [...], "timestamp": [...],
     "source": [...], "rating": [... or None], "seconds_watched": [... or None], "completed": [... or None]}

Why columns: the MongoDB-protocol server here (FerretDB on SQLite) spent about 35 µs of CPU on each
stored document, which held the archive role to 21,000-24,000 events/s on ml-1m and under 11,000
at ml-25m's size; it stores a message's 130 events as columns at about 200,000 events/s (measured
with pymongo, same machine). MongoDB's array semantics keep the queries simple: ``{"user_id": u}``
matches every document holding one of the person's events, on FerretDB and MongoDB alike.

Exactly once: a message delivered again after a crash is the same document (``_id``: its first
event id; duplicate-key errors, code 11000, are the expected, ignored outcome of the unordered bulk
insert). The API refuses an event id it has seen (``duplicate``), so an event is in one message.
A single event a document (``_id`` its event id, scalar fields) is what earlier versions wrote;
every reader here takes both.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

import pandas as pd
from motor.motor_asyncio import AsyncIOMotorDatabase
from pymongo import ASCENDING, IndexModel
from pymongo.errors import BulkWriteError

DUPLICATE_KEY = 11000
INDEXES = [IndexModel([("user_id", ASCENDING)], name="user")]  # multikey: each person in a message's document
# Earlier versions' index on (user_id, timestamp): MongoDB refuses a document with two array fields in one
# index ("cannot index parallel arrays"), so it goes before the first message's document does.
REPLACED_INDEXES = ("user_time",)
FIELDS = ("event_id", "type", "user_id", "movie_id", "timestamp", "source", "rating", "seconds_watched", "completed")


async def ensure_indexes(db: AsyncIOMotorDatabase) -> None:
    existing = await db.events.index_information()
    for name in REPLACED_INDEXES:
        if name in existing:
            await db.events.drop_index(name)
    for model in INDEXES:
        await db.events.create_indexes([model])


async def record(db: AsyncIOMotorDatabase, documents: list[dict[str, Any]]) -> int:
    """Insert the documents (``streams.event_documents.archived``) not stored yet; returns how many
    events were new."""
    if not documents:
        return 0
    try:
        await db.events.insert_many(documents, ordered=False)
        return sum(_size(doc) for doc in documents)
    except BulkWriteError as exc:
        errors = exc.details.get("writeErrors", [])
        if any(e.get("code") != DUPLICATE_KEY for e in errors):
            raise
        there = {int(e["index"]) for e in errors}
        return sum(_size(doc) for j, doc in enumerate(documents) if j not in there)


def _size(doc: dict[str, Any]) -> int:
    return int(doc.get("n", 1))


def rows(doc: dict[str, Any]) -> Iterable[dict[str, Any]]:
    """The events a stored document holds, each as its own document (without MongoDB's ``_id``)."""
    if not isinstance(doc.get("user_id"), list):
        yield {name: value for name, value in doc.items() if name != "_id"}
        return
    for j in range(len(doc["user_id"])):
        yield {name: doc[name][j] for name in FIELDS if name in doc and doc[name][j] is not None} | {
            "partition": doc.get("partition"), "offset": doc.get("offset")}


async def of_user(db: AsyncIOMotorDatabase, user_id: int) -> list[dict[str, Any]]:
    """Every stored event of one person (a scan on FerretDB: exports, not requests)."""
    return [row for doc in await db.events.find({"user_id": user_id}).to_list(None) for row in rows(doc)
            if row.get("user_id") == user_id]


async def all_events(db: AsyncIOMotorDatabase) -> pd.DataFrame:
    """Every stored event as columns, oldest first (a full scan: repair jobs, not requests)."""
    names = ["type", "user_id", "movie_id", "rating", "seconds_watched", "completed", "timestamp", "source"]
    frame = pd.DataFrame([{name: row.get(name) for name in names}
                          for doc in await db.events.find({}).to_list(None) for row in rows(doc)], columns=names)
    frame["watch"] = frame["type"] == "watch"
    frame["completed"] = frame["completed"].astype("boolean").fillna(False).astype(bool)
    frame[["rating", "seconds_watched", "timestamp"]] = frame[["rating", "seconds_watched", "timestamp"]].astype(float)
    return frame.sort_values("timestamp", kind="stable").reset_index(drop=True)


async def forget(db: AsyncIOMotorDatabase, users: Sequence[int]) -> int:
    """Delete every stored event of these people (erasure); returns how many. A message's document
    loses their events and keeps the others', or goes when nothing is left."""
    doomed = set(users)
    removed = 0
    for doc in await db.events.find({"user_id": {"$in": list(doomed)}}).to_list(None):
        if not isinstance(doc["user_id"], list):
            removed += (await db.events.delete_one({"_id": doc["_id"]})).deleted_count
            continue
        keep = [j for j, user in enumerate(doc["user_id"]) if user not in doomed]
        removed += len(doc["user_id"]) - len(keep)
        if not keep:
            await db.events.delete_one({"_id": doc["_id"]})
        else:
            await db.events.replace_one({"_id": doc["_id"]}, {
                **doc, "n": len(keep), **{name: [doc[name][j] for j in keep] for name in FIELDS if name in doc}})
    return removed
