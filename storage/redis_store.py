"""The one place a Redis connection is made (redis.asyncio)."""

from __future__ import annotations

import redis.asyncio as aioredis

from cinestream.settings import Settings


def connect(settings: Settings) -> aioredis.Redis:
    return aioredis.Redis.from_url(settings.redis_url, socket_connect_timeout=2, health_check_interval=30)
