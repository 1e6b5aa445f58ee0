"""Rate limits in Redis: fixed windows, with a backoff that doubles for whoever keeps hitting one.

Per key: ``rl:{<name>:<who>}`` (a counter that expires with its window) and ``rl:{<name>:<who>}:strikes``
(how many windows in a row were exceeded, kept an hour). Two small keys per caller and limit,
whatever the traffic: the memory does not grow with the number of attempts. They share a hash tag,
so one transaction reads and writes both on a Redis Cluster too.
"""

from __future__ import annotations

import redis.asyncio as aioredis

PREFIX = "rl:"

# Count an attempt (the window starts with the first): (count, seconds left, strikes so far).
_COUNT = """
local count = redis.call('INCRBY', KEYS[1], ARGV[1])
if redis.call('TTL', KEYS[1]) < 0 then redis.call('EXPIRE', KEYS[1], ARGV[2]) end
return {count, redis.call('TTL', KEYS[1]), redis.call('GET', KEYS[2]) or false}
"""
# One more strike (kept an hour), and the window lengthened to its backoff.
_STRIKE = """
redis.call('SET', KEYS[2], ARGV[1], 'EX', 3600)
redis.call('EXPIRE', KEYS[1], ARGV[2])
"""


def _keys(name: str, who: str) -> tuple[str, str]:
    return f"{PREFIX}{{{name}:{who}}}", f"{PREFIX}{{{name}:{who}}}:strikes"


async def hit(redis: aioredis.Redis, name: str, who: str, limit: int, window_s: int, cost: int = 1,
              backoff: bool = False) -> int | None:
    """Count ``cost`` attempts; None if within ``limit``, else the seconds to wait (Retry-After)."""
    key, strikes = _keys(name, who)
    count, ttl, struck = await redis.eval(_COUNT, 2, key, strikes, cost, window_s)
    if int(count) <= limit:
        return None
    wait = max(int(ttl), 1)
    if backoff:
        n = int(struck or 0)
        if int(count) == limit + 1:  # the first refusal in this window: one more strike, a longer window
            n += 1
            await redis.eval(_STRIKE, 2, key, strikes, n, window_s * 2 ** (n - 1))
            wait = window_s * 2 ** (n - 1)
    return wait


async def clear(redis: aioredis.Redis, name: str, who: str) -> None:
    """Forget a caller's count and strikes (a successful log-in)."""
    await redis.delete(*_keys(name, who))
