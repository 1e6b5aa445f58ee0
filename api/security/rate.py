"""Rate limits as a one-line call in a route: 429 with Retry-After when exceeded."""

from __future__ import annotations

import redis.asyncio as aioredis
from fastapi import HTTPException

from storage import rate_limits


async def limit(redis: aioredis.Redis, name: str, who: str, per_window: int, window_s: int, cost: int = 1,
                backoff: bool = False) -> None:
    wait = await rate_limits.hit(redis, name, who, per_window, window_s, cost, backoff)
    if wait is not None:
        raise HTTPException(429, f"too many requests ({name}): retry in {wait} s",
                            headers={"Retry-After": str(wait)})
