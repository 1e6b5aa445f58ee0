"""``/health``: one real round trip to each server, so a load balancer sees what users would."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from typing import Any

from fastapi import APIRouter
from fastapi.responses import JSONResponse

from api.deps import DbDep, RedisDep, SettingsDep
from streams.admin import broker_count

router = APIRouter(tags=["health"])


async def _probe(check: Callable[[], Awaitable[Any]]) -> dict[str, Any]:
    started = time.perf_counter()
    try:
        detail = await asyncio.wait_for(check(), 3.0)
        return {"ok": True, "ms": round((time.perf_counter() - started) * 1000, 1), "detail": detail}
    except Exception as exc:  # any failure is a health answer, not a crash
        return {"ok": False, "error": f"{type(exc).__name__}: {exc}"[:300]}


@router.get("/health")
async def health(settings: SettingsDep, db: DbDep, redis: RedisDep) -> JSONResponse:
    async def mongo() -> str:
        await db.command("ping")
        return settings.mongo_uri

    async def redis_ping() -> str:
        await redis.ping()
        return settings.redis_url

    async def kafka() -> str:
        return f"{await broker_count(settings.kafka_bootstrap)} broker(s) at {settings.kafka_bootstrap}"

    checks = dict(zip(("mongo", "redis", "kafka"),
                      await asyncio.gather(_probe(mongo), _probe(redis_ping), _probe(kafka)), strict=True))
    healthy = all(c["ok"] for c in checks.values())
    return JSONResponse({"status": "ok" if healthy else "degraded", "checks": checks},
                        status_code=200 if healthy else 503)
