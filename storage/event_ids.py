"""Idempotency of posted events: each event id is claimed once per caller, for a day.

One ``SET NX EX`` per id in one pipelined round trip. Memory is bounded by a day's events per key,
never by the dataset: ``evt:<caller>:<event id>`` expires after ``ttl_s``.
"""

from __future__ import annotations

import redis.asyncio as aioredis

DAY_S = 86_400


async def claim(redis: aioredis.Redis, caller: str, event_ids: list[str], ttl_s: int = DAY_S) -> list[bool]:
    """True for each id seen here for the first time (now claimed), False for a repeat."""
    async with redis.pipeline(transaction=False) as pipe:
        for event_id in event_ids:
            pipe.set(f"evt:{caller}:{event_id}", 1, nx=True, ex=ttl_s)
        return [bool(r) for r in await pipe.execute()]


async def release(redis: aioredis.Redis, caller: str, event_ids: list[str]) -> None:
    """Give claims back when the events could not be sent, so a retry is not taken for a repeat."""
    if event_ids:
        await redis.delete(*(f"evt:{caller}:{e}" for e in event_ids))
