"""Trending movies in Redis: one sorted set of decayed scores (see ``online_models.trending``)."""

from __future__ import annotations

from typing import cast

import numpy as np
import redis.asyncio as aioredis

from online_models.trending import Trending

TRENDING = "trend:movies"


class TrendingStore:
    def __init__(self, redis: aioredis.Redis, model: Trending) -> None:
        self.redis = redis
        self.model = model

    async def add(self, movies: np.ndarray, weights: np.ndarray, timestamps: np.ndarray) -> None:
        ids, increments = self.model.increments(movies, weights, timestamps)
        async with self.redis.pipeline(transaction=False) as pipe:
            for movie, inc in zip(ids.tolist(), increments.tolist(), strict=True):
                pipe.zincrby(TRENDING, inc, movie)
            await pipe.execute()

    async def top(self, k: int = 20) -> list[tuple[int, float]]:
        rows = cast(list[tuple[bytes, float]], await self.redis.zrevrange(TRENDING, 0, k - 1, withscores=True))
        return [(int(m), float(s)) for m, s in rows]
