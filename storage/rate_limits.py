"""Rate limits in Redis: fixed windows, with a backoff that doubles for whoever keeps hitting one.

Per key: ``rl:<name>:<who>`` (a counter that expires with its window) and ``rl:strikes:<name>:<who>``
(how many windows in a row were exceeded, kept an hour). Two small keys per caller and limit,
whatever the traffic: the memory does not grow with the number of attempts.
"""

from __future__ import annotations

import redis.asyncio as aioredis


async def hit(redis: aioredis.Redis, name: str, who: str, limit: int, window_s: int, cost: int = 1,
              backoff: bool = False) -> int | None:
    """Count ``cost`` attempts; None if within ``limit``, else the seconds to wait (Retry-After)."""
    key, strikes = f"rl:{name}:{who}", f"rl:strikes:{name}:{who}"
    async with redis.pipeline(transaction=True) as pipe:
        pipe.incrby(key, cost)
        pipe.expire(key, window_s, nx=True)
        pipe.ttl(key)
        pipe.get(strikes)
        count, _, ttl, struck = await pipe.execute()
    if int(count) <= limit:
        return None
    wait = max(int(ttl), 1)
    if backoff:
        n = int(struck or 0)
        if int(count) == limit + 1:  # the first refusal in this window: one more strike, a longer window
            n += 1
            async with redis.pipeline(transaction=True) as pipe:
                pipe.set(strikes, n, ex=3600)
                pipe.expire(key, window_s * 2 ** (n - 1))
                await pipe.execute()
            wait = window_s * 2 ** (n - 1)
    return wait


async def clear(redis: aioredis.Redis, name: str, who: str) -> None:
    """Forget a caller's count and strikes (a successful log-in)."""
    await redis.delete(f"rl:{name}:{who}", f"rl:strikes:{name}:{who}")
