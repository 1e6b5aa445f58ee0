"""Revoked token families in Redis, so a logged-out or deleted session stops at once.

Access tokens are checked without MongoDB; a revoked family is remembered only as long as an
access token of it could still be valid (``ttl_s``): one small key per revocation, expiring.
"""

from __future__ import annotations

import redis.asyncio as aioredis

PREFIX = "auth:"


async def revoke(redis: aioredis.Redis, family: str, ttl_s: int) -> None:
    await redis.set(f"{PREFIX}revoked:{family}", 1, ex=ttl_s)


async def is_revoked(redis: aioredis.Redis, family: str) -> bool:
    return bool(await redis.exists(f"{PREFIX}revoked:{family}"))
