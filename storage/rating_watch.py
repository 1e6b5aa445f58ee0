"""Wake the open pages of people whose ratings the learning worker just applied.

The worker's write script sets ``mf:seen-v:…<user>`` in the same atomic step as the person's new
row and ratings (``storage.model_store``), so a new value means their recommendations changed.
One task per API process reads the versions of everyone with a page open in one round trip every
``EVERY_S`` and wakes their streams: the cost is one round trip per tick, whatever the number of
open pages, and the delay at most a tick. Keyspace notifications or pub/sub would need the
worker to publish per user and do not survive a Redis Cluster resharding as plainly.

Memory: one version and one set of waiters per connected person, dropped when their last page closes.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from contextlib import suppress
from typing import Any

import redis.asyncio as aioredis

from storage.model_keys import seen_version_key
from storage.redis_store import mget_chunked

EVERY_S = 0.1


class RatingWatch:
    def __init__(self, redis: aioredis.Redis) -> None:
        self.redis = redis
        self._waiters: dict[int, set[asyncio.Event]] = {}
        self._versions: dict[int, Any] = {}
        self._wake = asyncio.Event()  # set when the first page opens: an idle process polls nothing

    async def changes(self, user: int, heartbeat_s: float) -> AsyncIterator[bool]:
        """Yields ``True`` each time the person's ratings change, ``False`` after ``heartbeat_s``
        without a change (so a caller can keep its connection alive); ends when the caller stops."""
        event = asyncio.Event()
        if user not in self._waiters:
            self._versions[user] = await self.redis.get(seen_version_key(user))
        self._waiters.setdefault(user, set()).add(event)
        self._wake.set()
        try:
            while True:
                with suppress(TimeoutError):
                    await asyncio.wait_for(event.wait(), heartbeat_s)
                changed = event.is_set()
                event.clear()
                yield changed
        finally:
            waiters = self._waiters.get(user, set())
            waiters.discard(event)
            if not waiters:
                self._waiters.pop(user, None)
                self._versions.pop(user, None)

    async def poll(self) -> None:
        """One ``MGET`` over everyone watched; wakes those whose version moved."""
        users = list(self._waiters)
        if not users:
            return
        versions = await mget_chunked(self.redis, [seen_version_key(u) for u in users])
        for user, version in zip(users, versions, strict=True):
            if user in self._versions and version != self._versions[user]:
                self._versions[user] = version
                for event in self._waiters.get(user, ()):
                    event.set()

    async def run(self) -> None:
        """Poll while anyone watches; runs for the life of the process."""
        while True:
            if not self._waiters:
                self._wake.clear()
                await self._wake.wait()
            try:
                await self.poll()
            except Exception:  # Redis away for a moment: the pages wait, the loop goes on
                logging.getLogger(__name__).warning("rating versions not read", exc_info=True)
                await asyncio.sleep(1)
            await asyncio.sleep(EVERY_S)
