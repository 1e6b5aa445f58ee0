"""Each user's latest events in Redis: what the history page reads.

MongoDB keeps every event (``storage.history_store``), but the local MongoDB-protocol server
(FerretDB on SQLite) pushes down no filter but ``_id`` equality: finding one user's events scans
the whole collection (measured: 30 s over 271,000 events). Here one string per user,
``recent:<user>``, holds the latest ``KEEP`` events as packed ``RECORD``s, newest first, and answers
in one round trip on any deployment.

Bound: ``KEEP`` records of 18 bytes, 3.6 KB a user whatever the dataset (an event's canonical JSON
had taken 38 KB per user after ml-latest-small). The same event delivered twice is the same record:
it is kept once. The event id and source stay in MongoDB (the export holds them).

Why strings merged by the worker and not a sorted set per user (``hist:<user>``, until this
layout): a ``ZADD`` into a 200-entry listpack cost Redis 27 µs, the largest item of Redis' time at
2,000 events/s (``SLOWLOG`` at threshold 0), while the API's requests waited behind it. Now a batch
reads its users' records with ``MGET``, merges them in numpy and writes them back with ``MSET``: a
few microseconds of Redis a user. Each user belongs to one partition, so to one worker of the
``recent`` agent, the only writer: the read-merge-write needs no compare-and-set.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, cast

import numpy as np
import redis.asyncio as aioredis

from online_models.runs import rank_in_runs, run_starts
from storage.model_store import seen_key
from storage.redis_store import mget_chunked, mset_chunked

KEEP = 200  # the most the API serves
RECORD = np.dtype([("t", "<f8"), ("movie", "<i4"), ("flags", "u1"), ("stars", "u1"), ("seconds", "<f4")])
_BYTES = np.dtype((np.void, RECORD.itemsize))
WATCH, COMPLETED = 1, 2  # flags; stars are the rating times two


def history_key(user: int) -> str:
    return f"recent:{user}"


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


def merge(stored: np.ndarray, sizes: np.ndarray, users: np.ndarray, events: np.ndarray
          ) -> tuple[np.ndarray, np.ndarray]:
    """Each user's new ``events`` merged into their ``stored`` records (``sizes[i]`` records of user
    ``i`` after user ``i - 1``'s, each user's newest first and every record once; ``users`` holds
    these indexes): every user's records newest first, each once, at most ``KEEP``, as (user index,
    record) sorted by user.

    Events usually arrive in time order, newer than all a user has stored: their records are then
    put in front, and only a user with an older or repeated event is sorted again, since a
    several-key ``lexsort`` of everyone's 200 stored records took 7 ms a batch."""
    users, events = _newest_first(users, events)
    newest = np.full(len(sizes), -np.inf)
    newest[sizes > 0] = stored["t"][(np.cumsum(sizes) - sizes)[sizes > 0]]
    late = np.bincount(users[events["t"] <= newest[users]], minlength=len(sizes)) > 0  # users to sort again
    owner = np.r_[users, np.repeat(np.arange(len(sizes)), sizes)]
    merged = np.concatenate([events.view(_BYTES), stored.view(_BYTES)])  # as bytes: 10x faster to copy
    order = np.argsort(owner, kind="stable")  # two runs grouped by user: new records, then stored ones
    owner, merged = owner[order], merged[order]
    again = late[owner]
    if again.any():
        owner_again, merged_again = _newest_first(owner[again], merged[again].view(RECORD))
        owner = np.r_[owner[~again], owner_again]
        merged = np.concatenate([merged[~again], merged_again.view(_BYTES)])
        order = np.argsort(owner, kind="stable")
        owner, merged = owner[order], merged[order]
    kept = rank_in_runs(owner) < KEEP
    return owner[kept], merged[kept].view(RECORD)


async def store(redis: aioredis.Redis, users: np.ndarray, events: np.ndarray) -> None:
    """Add packed events (``RECORD``) to their users' lists: two round trips (``MGET``, ``MSET``)."""
    if not len(users):
        return
    distinct, index = np.unique(users, return_inverse=True)
    blobs = [blob or b"" for blob in await mget_chunked(redis, [history_key(u) for u in distinct.tolist()])]
    sizes = np.fromiter(map(len, blobs), dtype=np.int64, count=len(blobs)) // RECORD.itemsize
    owners, merged = merge(np.frombuffer(b"".join(blobs), dtype=RECORD), sizes, index.ravel(), events)
    bounds = np.searchsorted(owners, np.arange(len(distinct)), side="right")
    raw = merged.tobytes()
    size = RECORD.itemsize
    await mset_chunked(redis, {history_key(u): raw[start * size:end * size] for u, start, end
                               in zip(distinct.tolist(), np.r_[0, bounds[:-1]].tolist(), bounds.tolist(), strict=True)})


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


async def latest(redis: aioredis.Redis, user: int, limit: int = 100) -> list[dict[str, Any]]:
    """The user's latest ``limit`` events, newest first."""
    blob = cast(bytes | None, await redis.getrange(history_key(user), 0, limit * RECORD.itemsize - 1))
    return [_unpack(user, r) for r in np.frombuffer(blob or b"", dtype=RECORD)]


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
