"""Each user's latest events in Redis: what the history page reads.

MongoDB keeps every event (``storage.history_store``), but the local MongoDB-protocol server
(FerretDB on SQLite) pushes down no filter but ``_id`` equality: finding one user's events scans
the whole collection (measured: 30 s over 271,000 events). Here a sorted set per user,
``hist:<user>``, scored by timestamp and capped at ``KEEP``, answers in one round trip on any
deployment.

A member is 10 packed bytes (movie int32, flags, half-stars, seconds watched float32): the event's
canonical JSON had taken 38 KB per user after ml-latest-small (``bench.whole_system``), which at
ml-25m's 162,541 users alone would be 6 GB. Bound: ``KEEP`` members of about 20 bytes each in a
listpack (the stack's Redis keeps sorted sets of up to 256 entries as listpacks), about 4 KB a user,
whatever the dataset. The same event delivered twice is the same member: nothing is added; the
event id and source stay in MongoDB (the export holds them).
"""

from __future__ import annotations

import struct
from collections import defaultdict
from typing import Any, cast

import redis.asyncio as aioredis

from storage.model_store import seen_key

KEEP = 200  # the most the API serves
_MEMBER = struct.Struct("<iBBf")  # movie, flags (1: a watch, 2: completed), rating x 2, seconds watched
WATCH, COMPLETED = 1, 2


def history_key(user: int) -> str:
    return f"hist:{user}"


def _pack(event: dict[str, Any]) -> bytes:
    watch = event.get("type") == "watch"
    flags = (WATCH if watch else 0) | (COMPLETED if event.get("completed") else 0)
    stars = 0 if watch else round(float(event.get("rating") or 0) * 2)
    return _MEMBER.pack(int(event["movie_id"]), flags, stars, float(event.get("seconds_watched") or 0.0))


def _unpack(user: int, member: bytes, timestamp: float) -> dict[str, Any]:
    movie, flags, stars, seconds = _MEMBER.unpack(member)
    watch = bool(flags & WATCH)
    return {"user_id": user, "movie_id": movie, "type": "watch" if watch else "rating",
            "rating": None if watch else stars / 2, "seconds_watched": round(seconds, 1) if watch else None,
            "completed": bool(flags & COMPLETED) if watch else None, "timestamp": timestamp}


async def add(redis: aioredis.Redis, events: list[dict[str, Any]]) -> None:
    """Add events (with ``user_id`` and ``timestamp``) to their users' lists, in one round trip."""
    by_user: dict[int, dict[bytes, float]] = defaultdict(dict)
    for event in events:
        by_user[int(event["user_id"])][_pack(event)] = float(event["timestamp"])
    if not by_user:
        return
    async with redis.pipeline(transaction=False) as pipe:
        for user, members in by_user.items():
            pipe.zadd(history_key(user), members)
            pipe.zremrangebyrank(history_key(user), 0, -KEEP - 1)
        await pipe.execute()


async def latest(redis: aioredis.Redis, user: int, limit: int = 100) -> list[dict[str, Any]]:
    """The user's latest ``limit`` events, newest first."""
    members = cast(list[tuple[bytes, float]], await redis.zrevrange(history_key(user), 0, limit - 1, withscores=True))
    return [_unpack(user, member, score) for member, score in members]


async def about_movie(redis: aioredis.Redis, user: int, movie: int) -> dict[str, Any]:
    """The person's rating of the movie (from the model's ratings, which keep every one) and whether
    their recent history holds a watch of it, in one round trip."""
    async with redis.pipeline(transaction=False) as pipe:
        pipe.hget(seen_key(user), str(movie))
        pipe.zrevrange(history_key(user), 0, KEEP - 1, withscores=True)
        rating, members = await pipe.execute()
    events = (_unpack(user, member, score) for member, score in members)
    watches = [e for e in events if e["movie_id"] == movie and e["type"] == "watch"]
    return {"movieId": movie, "rating": float(rating) if rating is not None else None,
            "watched": bool(watches), "watchedAt": max((e["timestamp"] for e in watches), default=None)}
