"""Load the built catalogue into MongoDB: ``movies``, ``ratings`` (``storage.rating_store``), ``user_stats``, ``meta``.

Idempotent and cheap to repeat: a build whose input fingerprint is already recorded writes
nothing; otherwise only new or changed documents are written, in bulk. FerretDB 1.x runs a
per-document upsert far slower than a bulk insert, so changed documents are deleted and
re-inserted in batches instead of upserted one by one (identical result on MongoDB).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Collection
from datetime import UTC, datetime
from typing import Any

import numpy as np
import pandas as pd
from motor.motor_asyncio import AsyncIOMotorDatabase
from pymongo import ASCENDING, DESCENDING, IndexModel

from storage import rating_store

CHUNK = 5000


def movie_key(movie_id: int) -> str:
    """A movie's ``_id``: the movieId as a string. FerretDB 1.x pushes only string/ObjectId ``_id``
    lookups down to SQLite: an integer ``_id`` scans (0.95 s vs 3 ms per lookup, measured)."""
    return str(movie_id)
Progress = Callable[[int], None]

INDEXES: dict[str, list[IndexModel]] = {
    "movies": [
        IndexModel([("movieId", ASCENDING)], unique=True, name="movieId_unique"),
        IndexModel([("search_key", ASCENDING)], name="search_key"),
        IndexModel([("genres", ASCENDING)], name="genres"),
        IndexModel([("year", ASCENDING)], name="year"),
        IndexModel([("directors", ASCENDING)], name="directors"),
        IndexModel([("cast", ASCENDING)], name="cast"),
        IndexModel([("stats.bayes_mean", DESCENDING)], name="bayes_mean"),
    ],
    "users": [
        IndexModel([("email", ASCENDING)], unique=True, name="email_unique"),
        IndexModel([("userId", ASCENDING)], unique=True, name="userId_unique"),
    ],
}


async def ensure_indexes(db: AsyncIOMotorDatabase) -> None:
    # One createIndexes per index: FerretDB 1.24 panics on a multi-index request when some exist.
    for collection, models in INDEXES.items():
        for model in models:
            await db[collection].create_indexes([model])


async def recorded_fingerprint(db: AsyncIOMotorDatabase) -> str | None:
    meta = await db.meta.find_one({"_id": "catalogue"}, {"fingerprint": 1})
    return meta.get("fingerprint") if meta else None


async def catalogue_report(db: AsyncIOMotorDatabase) -> dict[str, Any] | None:
    meta = await db.meta.find_one({"_id": "catalogue"})
    return meta.get("report") if meta else None


async def _insert_chunks(collection: Any, docs: list[dict[str, Any]], progress: Progress | None) -> None:
    for start in range(0, len(docs), CHUNK):
        chunk = docs[start:start + CHUNK]
        await collection.insert_many(chunk, ordered=False)
        if progress:
            progress(len(chunk))


async def sync_collection(collection: Any, docs: list[dict[str, Any]], compare: bool,
                          progress: Progress | None = None) -> dict[str, int]:
    """Make ``collection`` hold ``docs`` (by ``_id``): insert the new, rewrite the changed."""
    projection = None if compare else {"_id": 1}
    existing: dict[Any, dict[str, Any]] = {d["_id"]: d async for d in collection.find({}, projection)}
    new = [d for d in docs if d["_id"] not in existing]
    changed = [d for d in docs if d["_id"] in existing and compare and existing[d["_id"]] != d]
    if progress:
        progress(len(docs) - len(new) - len(changed))
    if changed:
        ids = [d["_id"] for d in changed]
        for start in range(0, len(ids), CHUNK):
            await collection.delete_many({"_id": {"$in": ids[start:start + CHUNK]}})
    await _insert_chunks(collection, new + changed, progress)
    return {"inserted": len(new), "updated": len(changed), "unchanged": len(docs) - len(new) - len(changed)}


async def sync_movies(db: AsyncIOMotorDatabase, movies: list[dict[str, Any]],
                      progress: Progress | None = None) -> dict[str, int]:
    """Insert the new movie documents and rewrite the changed ones, keyed by their movie id."""
    return await sync_collection(db.movies, [{"_id": movie_key(m["movieId"]), **m} for m in movies], compare=True,
                                 progress=progress)


async def load_catalogue(
    db: AsyncIOMotorDatabase, movies: list[dict[str, Any]], ratings: pd.DataFrame, users: pd.DataFrame,
    report: dict[str, Any], fingerprint: str, progress: Progress | None = None,
) -> dict[str, dict[str, int]]:
    await ensure_indexes(db)
    await db.movies.delete_many({"_id": {"$type": "int"}})  # documents of build version 1
    result = {
        "movies": await sync_movies(db, movies, progress),
        "ratings": await rating_store.load(db, ratings, "movielens", progress),
    }
    stats = [{"_id": int(uid), "count": int(r["count"]), "mean": round(float(r["mean"]), 4),
              "std": round(float(r["std"]), 4)} for uid, r in users.iterrows()]
    result["user_stats"] = await sync_collection(db.user_stats, stats, compare=True)
    await db.meta.delete_many({"_id": "catalogue"})
    await db.meta.insert_one({"_id": "catalogue", "fingerprint": fingerprint, "report": report,
                              "built_at": datetime.now(UTC), "result": result})
    return result



async def find_movies_by_title(db: AsyncIOMotorDatabase, key: str, year: int | None,
                               limit: int = 20) -> list[dict[str, Any]]:
    """Exact normalised-title match first, then titles with a word starting ``key``.

No ``$text`` index: FerretDB lacks it, so word matching is a regex over ``search_key``.
"""
    query: dict[str, Any] = {"search_key": key}
    if year is not None:
        query["year"] = year
    found = await db.movies.find(query).to_list(limit)
    if not found:
        query["search_key"] = {"$regex": "(^| )" + re.escape(key)}
        found = await db.movies.find(query).sort("stats.count", DESCENDING).to_list(limit)
    return found


async def movie_ids(db: AsyncIOMotorDatabase) -> np.ndarray:
    """Every movie id of the catalogue but the retired (int64), for the stream's check of incoming events."""
    ids = np.array([d["movieId"] async for d in db.movies.find({}, {"movieId": 1, "_id": 0})], dtype=np.int64)
    return np.setdiff1d(ids, np.fromiter(await retired_ids(db), dtype=np.int64))


async def retired_ids(db: AsyncIOMotorDatabase) -> set[int]:
    """Titles retired while the system ran: a collection of their own, because FerretDB took 0.2-0.8 s
    to change a stored title and milliseconds to insert a small document."""
    return {d["movieId"] async for d in db.retired_titles.find({}, {"movieId": 1, "_id": 0})}


async def retire_titles(db: AsyncIOMotorDatabase, movie_ids: list[int], at: datetime) -> None:
    """Out of search, pages and lists from now on; people's histories keep them."""
    if movie_ids:
        await db.retired_titles.insert_many([{"_id": movie_key(m), "movieId": m, "retired_at": at}
                                             for m in movie_ids], ordered=False)


async def restore_titles(db: AsyncIOMotorDatabase, movie_ids: list[int]) -> None:
    """Retired titles back in the catalogue (a change to a retired title restores it)."""
    for movie in movie_ids:
        await db.retired_titles.delete_one({"_id": movie_key(movie)})


async def public_rows(db: AsyncIOMotorDatabase, fields: tuple[str, ...]) -> list[dict[str, Any]]:
    """Every movie's ``fields``, search key and whether and when it was added or retired while the
    system ran, in one scan (the API's in-memory catalogue)."""
    projection = {"_id": 0, "search_key": 1, "added_at": 1, **dict.fromkeys(fields, 1)}
    rows = await db.movies.find({}, projection).to_list(None)
    retired = await retired_ids(db)
    return [{**r, "retired": True} if r["movieId"] in retired else r for r in rows]


async def titles(db: AsyncIOMotorDatabase, movie_ids: list[int]) -> dict[int, dict[str, Any]]:
    """The stored documents of these movies (ids the caller knows are stored), by id.

    One lookup per id: FerretDB pushes an ``_id`` equality down to SQLite (milliseconds), but scans
    for ``$in`` (seven seconds for one title among 9,742, measured) and for an ``_id`` it does not
    hold (about 0.3 s), so callers ask only for what exists."""
    found = [await db.movies.find_one({"_id": movie_key(m)}) for m in movie_ids]
    return {d["movieId"]: d for d in found if d is not None}


REPLACE_AT_MOST = 20  # stored titles replaced one by one; more are deleted in one scan, then re-inserted


async def write_titles(db: AsyncIOMotorDatabase, documents: list[dict[str, Any]], stored: Collection[int]) -> None:
    """Store whole title documents (``_id`` = ``movie_key``), replacing those of ``stored`` ids.

    FerretDB 1.x (SQLite) took 0.2 s for a ``replace_one`` by ``_id`` and 7 s for a ``$in`` delete
    (a scan) on ml-latest-small's catalogue: a few titles are replaced one by one, a platform's
    batch of many in one delete and one insert."""
    new = [d for d in documents if d["movieId"] not in stored]
    old = [d for d in documents if d["movieId"] in stored]
    if len(old) > REPLACE_AT_MOST:
        await db.movies.delete_many({"_id": {"$in": [d["_id"] for d in old]}})
        new, old = new + old, []
    for doc in old:
        await db.movies.replace_one({"_id": doc["_id"]}, doc)
    if new:
        await db.movies.insert_many(new, ordered=False)


CONTENT_FIELDS = ("genres", "tags", "directors", "writers", "cast", "keywords", "year", "overview", "tagline")


async def stored_movies(db: AsyncIOMotorDatabase) -> dict[int, dict[str, Any]]:
    """Every stored movie document by id (a scan: the catalogue build compares them with a new build)."""
    return {d["movieId"]: d for d in await db.movies.find({}).to_list(None)}


async def content_documents(db: AsyncIOMotorDatabase) -> dict[int, dict[str, Any]]:
    """The metadata content-based models read, by movieId, for every movie."""
    projection = {"_id": 0, "movieId": 1, "title": 1, **dict.fromkeys(CONTENT_FIELDS, 1)}
    retired = await retired_ids(db)
    return {d["movieId"]: {**d, "retired": d["movieId"] in retired} for d in await db.movies.find({}, projection)
            .to_list(None)}
