"""Trending movies in Redis: one sorted set of decayed scores (see ``online_models.trending``).

``{trend}:epoch`` holds the reference time of the scores; the first batch sets it, and moving it
forward rescales every score with one ``ZUNIONSTORE … WEIGHTS`` (atomic, in Redis). Both keys
share a hash tag: one transaction writes them on a Redis Cluster too.
"""

from __future__ import annotations

import time
from typing import cast

import numpy as np
import redis.asyncio as aioredis

from online_models.trending import Trending

TRENDING, EPOCH = "{trend}:movies", "{trend}:epoch"


class TrendingStore:
    def __init__(self, redis: aioredis.Redis, model: Trending) -> None:
        self.redis = redis
        self.model = model

    async def add(self, movies: np.ndarray, weights: np.ndarray, timestamps: np.ndarray,
                  now: float | None = None) -> None:
        """Add a batch; timestamps are bounded by the worker's clock (``now``), see ``Trending.bounded``."""
        if not len(movies):
            return
        timestamps = self.model.bounded(timestamps, time.time() if now is None else now)
        stored = await self.redis.get(EPOCH)
        epoch = float(stored) if stored is not None else float(timestamps.min())
        new_epoch, factor = self.model.rebase(epoch, float(timestamps.max()))
        ids, increments = self.model.increments(movies, weights, timestamps, new_epoch)
        async with self.redis.pipeline(transaction=True) as pipe:
            if factor != 1.0:
                pipe.zunionstore(TRENDING, {TRENDING: factor})
            pipe.set(EPOCH, repr(new_epoch))
            for movie, inc in zip(ids.tolist(), increments.tolist(), strict=True):
                pipe.zincrby(TRENDING, inc, movie)
            await pipe.execute()

    async def clear(self) -> None:
        """Forget every score (a rebuild from the stored history follows)."""
        await self.redis.delete(TRENDING, EPOCH)

    async def top(self, k: int = 20) -> list[tuple[int, float]]:
        """Top-``k`` movies with their score relative to the first (1.0 for the top one)."""
        rows = cast(list[tuple[bytes, float]], await self.redis.zrevrange(TRENDING, 0, k - 1, withscores=True))
        if not rows:
            return []
        top = rows[0][1] or 1.0
        return [(int(m), float(s) / top) for m, s in rows]
