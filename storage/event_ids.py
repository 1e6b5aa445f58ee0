"""Idempotency of posted events: each event id is claimed once per caller, for a day.

One script call claims a whole batch (``SET NX EX`` per id inside Redis): the same commands
pipelined from Python had cost the API 15 % of its CPU at 1,000 events a request (py-spy under
``bench.whole_system --through-api 1000``), the client packing and parsing a command per id. A
caller's ids share one hash tag, so the script's keys are in one slot of a Redis Cluster too.
Memory is bounded by a day's events per key, never by the dataset: ``evt:{<caller>}:<event id>``
expires after ``ttl_s``.
"""

from __future__ import annotations

import redis.asyncio as aioredis

DAY_S = 86_400
PREFIX = "evt:"

_CLAIM = """
local claimed = {}
for i, key in ipairs(KEYS) do
  claimed[i] = redis.call('SET', key, 1, 'NX', 'EX', ARGV[1]) and 1 or 0
end
return claimed
"""


def _keys(caller: str, event_ids: list[str]) -> list[str]:
    return [f"{PREFIX}{{{caller}}}:{e}" for e in event_ids]


async def claim(redis: aioredis.Redis, caller: str, event_ids: list[str], ttl_s: int = DAY_S) -> list[bool]:
    """True for each id seen here for the first time (now claimed), False for a repeat (also within the list)."""
    if not event_ids:
        return []
    claimed = await redis.register_script(_CLAIM)(keys=_keys(caller, event_ids), args=[ttl_s])
    return [bool(c) for c in claimed]


async def release(redis: aioredis.Redis, caller: str, event_ids: list[str]) -> None:
    """Give claims back when the events could not be sent, so a retry is not taken for a repeat."""
    if event_ids:
        await redis.delete(*_keys(caller, event_ids))
