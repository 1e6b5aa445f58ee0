"""The one place a Redis connection is made (redis.asyncio)."""

from __future__ import annotations

import redis.asyncio as aioredis

from cinestream.settings import Settings

POOL_SIZE = 100  # connections per process; a request past them waits up to POOL_WAIT_S for one, not failing at once
POOL_WAIT_S = 5.0


def connect(settings: Settings) -> aioredis.Redis:
    pool = aioredis.BlockingConnectionPool.from_url(settings.redis_url, max_connections=POOL_SIZE,
                                                    timeout=POOL_WAIT_S, socket_connect_timeout=2,
                                                    health_check_interval=30)
    return aioredis.Redis.from_pool(pool)  # the client owns the pool: aclose() closes it


async def ping(settings: Settings) -> None:
    """One round trip; raises when Redis does not answer."""
    client = connect(settings)
    try:
        await client.ping()
    finally:
        await client.aclose()


MGET_CHUNK = 1000  # keys per MGET or MSET: a few MB at most, so no single command holds Redis long


async def mget_chunked(redis: aioredis.Redis, keys: list[str], chunk: int = MGET_CHUNK) -> list[bytes | None]:
    """``MGET`` of any number of keys in one round trip: a pipeline of ``MGET``s of ``chunk`` keys."""
    async with redis.pipeline(transaction=False) as pipe:
        for start in range(0, len(keys), chunk):
            pipe.mget(keys[start:start + chunk])
        replies = await pipe.execute()
    return [blob for reply in replies for blob in reply]


async def mset_chunked(redis: aioredis.Redis, values: dict[str, bytes], chunk: int = MGET_CHUNK) -> None:
    """``MSET`` of any number of keys in one round trip, ``chunk`` keys a command: a replay's batch
    writes 3.6 KB for each of thousands of people, and one command would hold Redis meanwhile."""
    items = list(values.items())
    async with redis.pipeline(transaction=False) as pipe:
        for start in range(0, len(items), chunk):
            pipe.mset(dict(items[start:start + chunk]))
        await pipe.execute()
