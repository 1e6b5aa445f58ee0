"""The one place a Redis connection is made (redis.asyncio)."""

from __future__ import annotations

import asyncio
from typing import Any, cast

import redis.asyncio as aioredis
from redis.asyncio.cluster import RedisCluster
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

from core.settings import Settings

POOL_SIZE = 100  # connections per process; a request past them waits up to POOL_WAIT_S for one, not failing at once
POOL_WAIT_S = 5.0


def connect(settings: Settings) -> aioredis.Redis:
    """A client of the Redis (or, with ``redis_cluster``, the Redis Cluster) the settings name. A
    cluster client is typed as a plain one: the storage modules use the commands both speak, keep
    each script and multi-key command in one slot, and ask ``is_cluster`` where they must differ."""
    if settings.redis_cluster:
        cluster = RedisCluster.from_url(settings.redis_url, max_connections=POOL_SIZE, socket_connect_timeout=2)
        return cast(aioredis.Redis, cluster)
    # A pooled connection Redis dropped (a restart) fails its next command: that command is tried once
    # more, at once, on a fresh connection. While Redis is really down the second try fails too, and
    # the API answers 503 (api/errors.py) instead of waiting through backoffs.
    pool = aioredis.BlockingConnectionPool.from_url(settings.redis_url, max_connections=POOL_SIZE,
                                                    timeout=POOL_WAIT_S, socket_connect_timeout=2,
                                                    health_check_interval=30, retry=Retry(NoBackoff(), 1),
                                                    retry_on_error=[RedisConnectionError, RedisTimeoutError])
    return aioredis.Redis.from_pool(pool)  # the client owns the pool: aclose() closes it


def text(value: bytes | str) -> str:
    """A key, field or value as Redis answered it (bytes) or as the caller gave it (str)."""
    return value.decode() if isinstance(value, bytes) else value


def is_cluster(redis: aioredis.Redis) -> bool:
    return isinstance(redis, RedisCluster)


async def round_trip(redis: aioredis.Redis, commands: list[tuple[str, tuple[Any, ...]]],
                     transaction: bool = False) -> list[Any]:
    """Commands given as (method, arguments): one pipeline on one Redis (a transaction if asked); on
    a cluster, concurrently, each to its slot's master, in no set order (redis-py's cluster pipeline
    refuses multi-key commands such as ``MGET`` even when every key is in one slot)."""
    if is_cluster(redis):
        return list(await asyncio.gather(*(getattr(redis, name)(*args) for name, args in commands)))
    async with redis.pipeline(transaction=transaction) as pipe:
        for name, args in commands:
            getattr(pipe, name)(*args)
        return list(await pipe.execute())


async def run_scripts(redis: aioredis.Redis, calls: list[tuple[Any, list[str], list[Any]]]) -> list[Any]:
    """Registered scripts as (script, keys, arguments): one pipeline on one Redis; on a cluster,
    concurrently, each to its slot's master (redis-py's cluster pipeline does not load scripts)."""
    if is_cluster(redis):
        return list(await asyncio.gather(*(script(keys=keys, args=args) for script, keys, args in calls)))
    async with redis.pipeline(transaction=False) as pipe:
        for script, keys, args in calls:
            await script(keys=keys, args=args, client=pipe)  # queued: the pipeline loads it if need be
        return list(await pipe.execute())


async def ping(settings: Settings) -> None:
    """One round trip; raises when Redis does not answer."""
    client = connect(settings)
    try:
        await client.ping()
    finally:
        await client.aclose()


MGET_CHUNK = 1000  # keys per MGET or MSET: a few MB at most, so no single command holds Redis long


async def mget_chunked(redis: aioredis.Redis, keys: list[str], chunk: int = MGET_CHUNK) -> list[bytes | None]:
    """``MGET`` of any number of keys in one round trip: a pipeline of ``MGET``s of ``chunk`` keys
    (on a cluster, one per slot and node: redis-py groups them)."""
    if is_cluster(redis):
        return list(await cast(RedisCluster, redis).mget_nonatomic(keys))
    async with redis.pipeline(transaction=False) as pipe:
        for start in range(0, len(keys), chunk):
            pipe.mget(keys[start:start + chunk])
        replies = await pipe.execute()
    return [blob for reply in replies for blob in reply]


async def mset_chunked(redis: aioredis.Redis, values: dict[str, bytes], chunk: int = MGET_CHUNK) -> None:
    """``MSET`` of any number of keys in one round trip, ``chunk`` keys a command: a replay's batch
    writes 3.6 KB for each of thousands of people, and one command would hold Redis meanwhile."""
    if is_cluster(redis):
        await cast(RedisCluster, redis).mset_nonatomic(values)
        return
    items = list(values.items())
    async with redis.pipeline(transaction=False) as pipe:
        for start in range(0, len(items), chunk):
            pipe.mset(dict(items[start:start + chunk]))
        await pipe.execute()
