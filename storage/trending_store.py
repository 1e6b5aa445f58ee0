"""Trending movies in Redis: one sorted set of decayed scores (see ``online_models.trending``, whose
``Trending.update`` is what ``write`` stores). Bound: one score per movie ever watched or rated.

``{trend}:epoch`` holds the reference time of the scores; the first batch sets it, and moving it
forward rescales every score with one ``ZUNIONSTORE … WEIGHTS`` (atomic, in Redis). Both keys
share a hash tag: one transaction writes them on a Redis Cluster too.
"""

from __future__ import annotations

from typing import cast

import redis.asyncio as aioredis

from online_models.trending import TrendingUpdate
from storage.copies import Copies
from storage.lua import script

TRENDING, EPOCH = "{trend}:movies", "{trend}:epoch"
MOVIES_PER_SCRIPT = 50
COPY_K = 100  # the longest list the API serves


class TrendingStore:
    def __init__(self, redis: aioredis.Redis, read_cache_s: float = 0.0) -> None:
        self.redis = redis
        self._add = redis.register_script(script("trending", "add"))
        # A reader's copy of the top ``COPY_K`` (``storage.copies``): the side worker adds a batch every
        # tenth of a second, and a list a second old is as "now" as people read it.
        self._top: Copies[int, list[tuple[bytes, float]]] = Copies(self._read_top, read_cache_s)

    async def epoch(self) -> float | None:
        """The scores' reference time (None before the first batch)."""
        stored = await self.redis.get(EPOCH)
        return float(stored) if stored is not None else None

    async def write(self, update: TrendingUpdate) -> None:
        """Rescale, move the epoch and add the increments. The rescale and the epoch go with the first part,
        the rest are plain increments: each part its own round trip, so requests are served between them
        (Redis runs a client's pipelined commands back to back; a batch's few hundred ZINCRBYs in one script
        held it 1.6-4 ms). A retry after a failed part adds the parts before it again: the side models are
        approximate (``streams.retry``)."""
        pairs = [value for pair in zip(update.increments.tolist(), update.movies.tolist(), strict=True)
                 for value in pair]
        step = 2 * MOVIES_PER_SCRIPT
        for start in range(0, len(pairs), step):
            await self._add(keys=[TRENDING, EPOCH], args=[update.factor if start == 0 else 1.0, repr(update.epoch),
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
