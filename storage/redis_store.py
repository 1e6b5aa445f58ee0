"""The one place a Redis connection is made (redis.asyncio)."""

from __future__ import annotations

import redis.asyncio as aioredis

from cinestream.settings import Settings


def connect(settings: Settings) -> aioredis.Redis:
    return aioredis.Redis.from_url(settings.redis_url, socket_connect_timeout=2, health_check_interval=30)


async def ping(settings: Settings) -> None:
    """One round trip; raises when Redis does not answer."""
    client = connect(settings)
    try:
        await client.ping()
    finally:
        await client.aclose()
