"""Content vectors of the catalogue in Redis, for the stream workers (``online_models.residual_knn``).

- ``{content}:ids``: movie ids, sorted, packed int64;
- ``{content}:vecs``: their unit vectors, packed float32, one row per id (one hash tag: one slot,
  so one ``MGET`` reads both on a Redis Cluster too).

Written by ``cinestream model publish`` (or a bench) and read once by each learning worker.
"""

from __future__ import annotations

import numpy as np
import redis.asyncio as aioredis

IDS, VECS = "{content}:ids", "{content}:vecs"


async def install(redis: aioredis.Redis, ids: np.ndarray, vectors: np.ndarray) -> None:
    order = np.argsort(ids)
    await redis.mset({IDS: np.ascontiguousarray(ids[order], dtype="<i8").tobytes(),  # one slot: atomic
                      VECS: np.ascontiguousarray(vectors[order], dtype="<f4").tobytes()})


async def load(redis: aioredis.Redis) -> tuple[np.ndarray, np.ndarray] | None:
    """``(ids, vectors)``, or None when no vectors were installed."""
    ids, vecs = await redis.mget([IDS, VECS])
    if not isinstance(ids, bytes) or not isinstance(vecs, bytes) or not ids:
        return None
    id_array = np.frombuffer(ids, dtype="<i8")
    return id_array, np.frombuffer(vecs, dtype="<f4").reshape(len(id_array), -1)
