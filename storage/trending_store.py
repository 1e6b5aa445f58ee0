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
from storage.copies import Copies

TRENDING, EPOCH = "{trend}:movies", "{trend}:epoch"
MOVIES_PER_SCRIPT = 50
COPY_K = 100  # the longest list the API serves
# Rescale (ARGV[1]: the factor), move the epoch (ARGV[2]) and add the increments (score, movie,
# score, movie, …) in one atomic step: a script, as a MULTI over a cluster client is less sure-footed.
ADD_LUA = """
if tonumber(ARGV[1]) ~= 1 then redis.call('ZUNIONSTORE', KEYS[1], 1, KEYS[1], 'WEIGHTS', ARGV[1]) end
redis.call('SET', KEYS[2], ARGV[2])
for i = 3, #ARGV, 2 do redis.call('ZINCRBY', KEYS[1], ARGV[i], ARGV[i + 1]) end
"""


class TrendingStore:
    def __init__(self, redis: aioredis.Redis, model: Trending, read_cache_s: float = 0.0) -> None:
        self.redis = redis
        self.model = model
        self._add = redis.register_script(ADD_LUA)
        # A reader's copy of the top ``COPY_K`` (``storage.copies``): the side worker adds a batch every
        # tenth of a second, and a list a second old is as "now" as people read it.
        self._top: Copies[int, list[tuple[bytes, float]]] = Copies(self._read_top, read_cache_s)

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
        pairs = [value for pair in zip(increments.tolist(), ids.tolist(), strict=True) for value in pair]
        # The rescale and the epoch go with the first part, the rest are plain increments: each part its
        # own round trip, so requests are served between them (Redis runs a client's pipelined commands
        # back to back; a batch's few hundred ZINCRBYs in one script held it 1.6-4 ms). A retry after a
        # failed part adds the parts before it again: the side models are approximate (``streams.retry``).
        step = 2 * MOVIES_PER_SCRIPT
        for start in range(0, len(pairs), step):
            await self._add(keys=[TRENDING, EPOCH], args=[factor if start == 0 else 1.0, repr(new_epoch),
                                                          *pairs[start:start + step]])

    async def clear(self) -> None:
        """Forget every score (a rebuild from the stored history follows)."""
        await self.redis.delete(TRENDING, EPOCH)

    async def _read_top(self, lengths: list[int]) -> list[list[tuple[bytes, float]]]:
        return [cast(list[tuple[bytes, float]], await self.redis.zrevrange(TRENDING, 0, n - 1, withscores=True))
                for n in lengths]

    async def top(self, k: int = 20) -> list[tuple[int, float]]:
        """Top-``k`` movies with their score relative to the first (1.0 for the top one)."""
        rows = (await self._top.get([COPY_K]))[0][:k] if k <= COPY_K else (await self._read_top([k]))[0]
        if not rows:
            return []
        top = rows[0][1] or 1.0
        return [(int(m), float(s) / top) for m, s in rows]
