"""Which datasets were replayed into the stack, so the main job replays each one only once.

A replay's events carry fresh ids, so replaying a dataset again would teach the models every rating
twice and list it twice in each history (the main job run four times showed each rating four times).
The mark lives in Redis beside the models it describes: a Redis emptied or lost loses both, and the
next run replays again. One hash field per dataset (and limit): a few bytes.
"""

from __future__ import annotations

import json
import time

import redis.asyncio as aioredis

KEY = "replays"


async def done(redis: aioredis.Redis, name: str) -> dict[str, float] | None:
    """What was recorded when ``name`` was replayed, or None."""
    raw = await redis.hget(KEY, name)
    return json.loads(raw) if raw is not None else None


async def mark(redis: aioredis.Redis, name: str, events: int) -> None:
    await redis.hset(KEY, name, json.dumps({"events": events, "at": time.time()}))
