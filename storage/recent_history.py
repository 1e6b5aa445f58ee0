"""Each user's latest events in Redis: what the history page reads.

MongoDB keeps every event (``storage.history_store``), but the local MongoDB-protocol server
(FerretDB on SQLite) pushes down no filter but ``_id`` equality: finding one user's events scans
the whole collection (measured: 30 s over 271,000 events). Here one string per user,
``recent:<user>``, holds their latest events as packed ``RECORD``s, and answers in one round trip on
any deployment; readers put them newest first, each once, the latest ``KEEP`` (``compact``).

Bound: ``TRIM_AT`` records of 18 bytes, 4.5 KB a user whatever the dataset (an event's canonical
JSON had taken 38 KB per user after ml-latest-small). The same event delivered twice is the same
record: it is shown once. The event id and source stay in MongoDB (the export holds them).

How it is written: a batch appends each user's new records (``APPEND``, one round trip), and only a
user whose string grew past ``TRIM_AT`` records is compacted to ``KEEP`` (``MGET``, merge in numpy,
``MSET``). Until this layout every batch rewrote each of its users' whole 3.6 KB for one or two new
records: 45 % of the append-only file and of the bytes Redis copied at 2,000 events/s, while the
API's reads queued behind it. (Before that, a sorted set per user cost Redis 27 µs a ``ZADD``.) Each
user belongs to one partition, so to one worker of the ``recent`` agent, the only writer: the
compaction's read-merge-write needs no compare-and-set.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, cast

import numpy as np
import redis.asyncio as aioredis

from online_models.runs import rank_in_runs, run_starts
from storage.model_keys import seen_key
from storage.redis_store import mget_chunked, mset_chunked

KEEP = 200  # the most the API serves
TRIM_AT = 250  # records a user's string may grow to before it is compacted to KEEP
RECORD = np.dtype([("t", "<f8"), ("movie", "<i4"), ("flags", "u1"), ("stars", "u1"), ("seconds", "<f4")])
WATCH, COMPLETED = 1, 2  # flags; stars are the rating times two

PREFIX = "recent:"


def history_key(user: int) -> str:
    return f"{PREFIX}{user}"


def records(watch: np.ndarray, movies: np.ndarray, ratings: np.ndarray, seconds: np.ndarray, completed: np.ndarray,
            timestamps: np.ndarray) -> np.ndarray:
    """Events given as columns (NaN ratings for watches, NaN seconds for ratings), packed."""
    packed = np.zeros(len(movies), dtype=RECORD)
    packed["t"], packed["movie"] = timestamps, movies
    packed["flags"] = np.where(watch, WATCH, 0) | np.where(watch & completed, COMPLETED, 0)
    packed["stars"] = np.where(watch, 0, np.rint(np.nan_to_num(ratings) * 2))
    packed["seconds"] = np.where(watch, np.nan_to_num(seconds), 0.0)
    return packed


def _newest_first(users: np.ndarray, events: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Sorted by user, then newest first (ties by the record's fields), each record once."""
    order = np.lexsort((events["seconds"], events["stars"], events["flags"], events["movie"], -events["t"], users))
    users, events = users[order], events[order]
    first = run_starts(users, events)  # a record repeated is one run
    return users[first], events[first]


def compact(owners: np.ndarray, events: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Each owner's records newest first, each once, at most ``KEEP``, as (owner, record) sorted by owner."""
    owners, events = _newest_first(owners, events)
    kept = rank_in_runs(owners) < KEEP
    return owners[kept], events[kept]


async def store(redis: aioredis.Redis, users: np.ndarray, events: np.ndarray) -> None:
    """Add packed events (``RECORD``) to their users' strings: one ``APPEND`` each in one round trip,
    then the users past ``TRIM_AT`` compacted (two more round trips, every ~50 events of theirs)."""
    if not len(users):
        return
    order = np.argsort(users, kind="stable")  # each user's records in their arrival order
    users, raw, size = users[order], events[order].tobytes(), RECORD.itemsize
    starts = run_starts(users)
    distinct = users[starts]
    async with redis.pipeline(transaction=False) as pipe:
        for user, start, end in zip(distinct.tolist(), starts.tolist(), [*starts[1:].tolist(), len(users)],
                                    strict=True):
            pipe.append(history_key(user), raw[start * size:end * size])
        lengths = np.asarray(await pipe.execute(), dtype=np.int64)
    full = distinct[lengths > TRIM_AT * size]
    if not len(full):
        return
    blobs = [blob or b"" for blob in await mget_chunked(redis, [history_key(u) for u in full.tolist()])]
    sizes = np.fromiter(map(len, blobs), dtype=np.int64, count=len(blobs)) // size
    owners, kept = compact(np.repeat(np.arange(len(full)), sizes), np.frombuffer(b"".join(blobs), dtype=RECORD))
    bounds = np.searchsorted(owners, np.arange(len(full)), side="right")
    packed = kept.tobytes()
    await mset_chunked(redis, {history_key(u): packed[start * size:end * size] for u, start, end
                               in zip(full.tolist(), np.r_[0, bounds[:-1]].tolist(), bounds.tolist(), strict=True)})


async def add(redis: aioredis.Redis, events: Sequence[dict[str, Any]]) -> None:
    """Events as documents (``user_id``, ``movie_id``, ``type``, ``timestamp``, …): for callers
    that hold a few, such as tests and imports."""
    if not events:
        return
    watch = np.array([e.get("type") == "watch" for e in events])
    await store(redis, np.array([int(e["user_id"]) for e in events], dtype=np.int64), records(
        watch, np.array([int(e["movie_id"]) for e in events]), np.array([float(e.get("rating") or 0) for e in events]),
        np.array([float(e.get("seconds_watched") or 0) for e in events]),
        np.array([bool(e.get("completed")) for e in events]), np.array([float(e["timestamp"]) for e in events])))


def _unpack(user: int, record: np.void) -> dict[str, Any]:
    watch = bool(record["flags"] & WATCH)
    return {"user_id": user, "movie_id": int(record["movie"]), "type": "watch" if watch else "rating",
            "rating": None if watch else int(record["stars"]) / 2,
            "seconds_watched": round(float(record["seconds"]), 1) if watch else None,
            "completed": bool(record["flags"] & COMPLETED) if watch else None, "timestamp": float(record["t"])}


def in_time_order(blob: bytes | None, movies: np.ndarray) -> np.ndarray:
    """``movies`` (the films a person rated) oldest first, each placed at its latest event in the
    history ``blob``; films with none there come first, as the oldest (trimmed away, or not written
    yet: the history's length is part of the version a list is kept under, so the next request
    after it is written orders them again). What the live ranker's recency weights need: the rated
    set itself is a hash, which keeps no order."""
    events = np.frombuffer(blob or b"", dtype=RECORD)
    if not len(events) or not len(movies):
        return np.asarray(movies)
    order = np.lexsort((np.arange(len(events)), events["t"]))  # ties: the order they were stored in
    seen, last = np.unique(events["movie"][order][::-1], return_index=True)  # each film's latest event
    when = np.full(len(movies), -1, dtype=np.int64)
    at = np.minimum(np.searchsorted(seen, movies), len(seen) - 1)
    found = seen[at] == movies
    when[found] = len(events) - 1 - last[at[found]]  # its place in time, higher is later
    return np.asarray(movies)[np.argsort(when, kind="stable")]


async def latest(redis: aioredis.Redis, user: int, limit: int = 100) -> list[dict[str, Any]]:
    """The user's latest ``limit`` events, newest first."""
    stored = np.frombuffer(cast(bytes | None, await redis.get(history_key(user))) or b"", dtype=RECORD)
    _, newest = compact(np.zeros(len(stored), dtype=np.int64), stored)
    return [_unpack(user, r) for r in newest[:limit]]


async def about_movie(redis: aioredis.Redis, user: int, movie: int) -> dict[str, Any]:
    """The person's rating of the movie (from the model's ratings, which keep every one) and whether
    their recent history holds a watch of it, in one round trip."""
    async with redis.pipeline(transaction=False) as pipe:
        pipe.hget(seen_key(user), str(movie))
        pipe.get(history_key(user))
        rating, blob = await pipe.execute()
    events = np.frombuffer(blob or b"", dtype=RECORD)
    watches = events[(events["movie"] == movie) & (events["flags"] & WATCH > 0)]
    return {"movieId": movie, "rating": float(rating) if rating is not None else None,
            "watched": bool(len(watches)), "watchedAt": float(watches["t"].max()) if len(watches) else None}
