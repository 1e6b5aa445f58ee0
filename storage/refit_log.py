"""The scheduler's record in Redis: each refit it ran, and what it saw when it last ran one.

- ``{live}:runs``: one JSON record per refit (trigger, duration, data size, the candidate's and the
  live version's figures, the decision and its reason), newest first, capped at ``RUNS_KEPT``;
- ``{live}:refit``: a hash of the last refit's time, the events the stream had learned then, and
  the last drift flag it answered: a refit is due when enough time passed, enough events arrived,
  or a newer drift was flagged (``jobs.scheduler``);
- ``{live}:promotions``: versions admins asked to make live, for the scheduler to judge (the API
  neither fits nor scores: that reads every rating), capped at ``PROMOTIONS_KEPT``.

Both are fixed in size whatever the dataset or the age of the deployment.
"""

from __future__ import annotations

import json
import time
from typing import Any

import redis.asyncio as aioredis

from storage.model_keys import DRIFTS, STATS

RUNS, STATE, PROMOTIONS = "{live}:runs", "{live}:refit", "{live}:promotions"
RUNS_KEPT = 50
PROMOTIONS_KEPT = 10  # promotions asked for and not yet run: an admin clicking twice asks once more, not forever


async def record(redis: aioredis.Redis, run: dict[str, Any]) -> None:
    async with redis.pipeline(transaction=False) as pipe:
        pipe.lpush(RUNS, json.dumps(run))
        pipe.ltrim(RUNS, 0, RUNS_KEPT - 1)
        await pipe.execute()


async def runs(redis: aioredis.Redis, limit: int = RUNS_KEPT) -> list[dict[str, Any]]:
    return [json.loads(raw) for raw in await redis.lrange(RUNS, 0, limit - 1)]


async def signals(redis: aioredis.Redis) -> dict[str, float]:
    """What the stream has learned so far (events) and the event count of its newest drift flag."""
    async with redis.pipeline(transaction=False) as pipe:
        pipe.hget(STATS, "n")
        pipe.lindex(DRIFTS, -1)
        learned, drift = await pipe.execute()
    return {"events": float(learned or 0), "drift": float(drift or 0)}


async def last(redis: aioredis.Redis) -> dict[str, float] | None:
    """The signals and time of the last refit (None: never refitted)."""
    state = await redis.hgetall(STATE)
    return {(k.decode() if isinstance(k, bytes) else k): float(v) for k, v in state.items()} or None


async def mark(redis: aioredis.Redis, at: float, seen: dict[str, float]) -> None:
    fields: dict[Any, Any] = {"at": at, **seen}
    await redis.hset(STATE, mapping=fields)


async def ask_promotion(redis: aioredis.Redis, version: int, by: str, force: bool) -> None:
    """Ask the scheduler to promote a kept version through the gate (or past it: ``force``, recorded)."""
    await redis.rpush(PROMOTIONS, json.dumps({"version": version, "by": by, "force": force, "at": time.time()}))
    await redis.ltrim(PROMOTIONS, -PROMOTIONS_KEPT, -1)


async def take_promotions(redis: aioredis.Redis) -> list[dict[str, Any]]:
    """The promotions asked for since the last look, oldest first (taken: each runs once)."""
    async with redis.pipeline(transaction=True) as pipe:
        pipe.lrange(PROMOTIONS, 0, -1)
        pipe.delete(PROMOTIONS)
        asked, _ = await pipe.execute()
    return [json.loads(raw) for raw in asked]
