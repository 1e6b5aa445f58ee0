"""A reading process's copies of values it read from Redis, served while a fresh read runs behind them.

A request that waits for Redis waits behind the workers' scripts and, on a busy machine, behind
Redis's own turn on a core; the slowest answers of the routes that read Redis were those. A value
that may be a second old (a film's co-occurrence row, rewritten once a similarity window; the
trending list, whose order moves slowly) is therefore read once, kept, and, once older than
``max_age_s``, still served while one background task reads it again. Only a key never read waits for Redis. A copy is
at most ``max_age_s`` plus one read old; past ``cap`` keys every copy is dropped (the next requests
read again), which keeps the hot path free of bookkeeping per access.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable, Hashable, Sequence
from typing import Generic, TypeVar

K = TypeVar("K", bound=Hashable)
V = TypeVar("V")
log = logging.getLogger(__name__)


class Copies(Generic[K, V]):
    def __init__(self, fetch: Callable[[list[K]], Awaitable[Sequence[V]]], max_age_s: float,
                 cap: int = 100_000) -> None:
        self.fetch = fetch  # the values of these keys, from Redis, in one round trip
        self.max_age_s = max_age_s  # 0: no copies, every call reads (the workers)
        self.cap = cap
        self._copies: dict[K, tuple[float, V]] = {}
        self._stale: set[K] = set()
        self._refresher: asyncio.Task[None] | None = None

    async def get(self, keys: list[K]) -> list[V]:
        if not keys:
            return []
        if self.max_age_s <= 0:
            return list(await self.fetch(keys))
        copies = self._copies
        missing = list(dict.fromkeys(k for k in keys if k not in copies))
        if missing:
            await self._read(missing)
        old = time.monotonic() - self.max_age_s
        stale = [k for k in keys if k in copies and copies[k][0] < old]
        if stale:
            self._stale.update(stale)
            if self._refresher is None or self._refresher.done():
                self._refresher = asyncio.create_task(self._refresh())
        return [copies[k][1] if k in copies else await self._one(k) for k in keys]

    async def _one(self, key: K) -> V:
        """A key dropped from the copies between the read and now (the cap was reached): read alone."""
        return (await self.fetch([key]))[0]

    async def _read(self, keys: list[K]) -> None:
        now = time.monotonic()
        values = await self.fetch(keys)
        if len(self._copies) + len(keys) > self.cap:
            self._copies.clear()
        self._copies.update((k, (now, v)) for k, v in zip(keys, values, strict=True))

    async def _refresh(self) -> None:
        while self._stale:
            keys = list(self._stale)
            self._stale.clear()
            try:
                await self._read(keys)
            except Exception:  # Redis unavailable: the copies stay, the next request asks again
                log.warning("could not refresh %d copies from Redis", len(keys), exc_info=True)
                return
