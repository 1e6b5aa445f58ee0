"""Lists published by the publish job (the hybrid, fitted offline) and content neighbours, kept in
Redis for the API to blend with the stream.

Layout:

- ``batch:recs:<user>``: the user's top-N as packed float32 triples ``(movie, score, anchor)``,
  ``anchor`` the rated movie that explains the pick (−1: none) — one GET per request;
- ``batch:similar:<movie>``: content neighbours as packed ``(movie, similarity)`` pairs, what a
  movie nobody has rated yet is similar to;
- ``batch:meta``: when, from how many ratings, with which model, and validation figures.

A publish writes everything in pipelined chunks, then the meta; lists of users the new run
does not cover are left as they were (the API drops anything a user rated since).
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from typing import Any

import numpy as np
import redis.asyncio as aioredis

from storage.redis_store import mset_chunked

META = "batch:meta"
RECS = "batch:recs:"
CHUNK = 1000  # keys per pipeline round trip


def recs_key(user: int) -> str:
    """The user's published rows ``(movie, score, anchor)``: ``unpack(blob, 3)``, read by the API in
    the same round trip as the user's MF row (``storage.item_factors``)."""
    return f"{RECS}{user}"


def similar_key(movie: int) -> str:
    return f"batch:similar:{movie}"


def pack(rows: np.ndarray) -> bytes:
    return np.ascontiguousarray(rows, dtype=np.float32).tobytes()


def unpack(blob: Any, width: int) -> np.ndarray:
    return np.frombuffer(blob, dtype=np.float32).reshape(-1, width) if blob else np.zeros((0, width), np.float32)


async def _write(redis: aioredis.Redis, values: Iterable[tuple[str, bytes]]) -> int:
    pending: list[tuple[str, bytes]] = []
    written = 0
    for item in values:
        pending.append(item)
        if len(pending) == CHUNK:
            await mset_chunked(redis, dict(pending))
            written, pending = written + len(pending), []
    if pending:
        await mset_chunked(redis, dict(pending))
        written += len(pending)
    return written


async def publish(redis: aioredis.Redis, recommendations: Mapping[int, np.ndarray], similar: Mapping[int, np.ndarray],
                  meta: dict[str, Any]) -> None:
    """``recommendations[user]``: rows ``(movie, score, anchor)``; ``similar[movie]``: ``(movie, sim)``."""
    await _write(redis, ((recs_key(u), pack(rows)) for u, rows in recommendations.items()))
    await _write(redis, ((similar_key(m), pack(rows)) for m, rows in similar.items()))
    await redis.set(META, json.dumps(meta))


async def write_similar(redis: aioredis.Redis, similar: Mapping[int, np.ndarray]) -> None:
    """Content neighbours of titles added while the system runs (``streams.agents.catalogue``)."""
    await _write(redis, ((similar_key(m), pack(rows)) for m, rows in similar.items()))


async def similar(redis: aioredis.Redis, movie: int) -> np.ndarray:
    return unpack(await redis.get(similar_key(movie)), 2)


async def similar_many(redis: aioredis.Redis, movies: list[int]) -> list[np.ndarray]:
    """Several movies' content neighbours in one round trip."""
    blobs = await redis.mget([similar_key(m) for m in movies]) if movies else []
    return [unpack(blob, 2) for blob in blobs]


async def meta(redis: aioredis.Redis) -> dict[str, Any] | None:
    raw = await redis.get(META)
    return json.loads(raw) if raw else None
