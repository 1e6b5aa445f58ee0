"""``/health``: one real round trip to each server, at most once a second, never in a request's way.

A load balancer polls this under load; answering each poll with three fresh round trips would let a
slow MongoDB queue the health checks themselves. So the answer is cached for a second, and an expired
one is refreshed in the background while the last answer is served.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import JSONResponse

from api.security.policy import PUBLIC, Principal
from streams.admin import broker_count

router = APIRouter(tags=["health"])
FRESH_S = 1.0


async def _probe(check: Callable[[], Awaitable[Any]]) -> dict[str, Any]:
    started = time.perf_counter()
    try:
        detail = await asyncio.wait_for(check(), 3.0)
        return {"ok": True, "ms": round((time.perf_counter() - started) * 1000, 1), "detail": detail}
    except Exception as exc:  # any failure is a health answer, not a crash
        return {"ok": False, "error": f"{type(exc).__name__}: {exc}"[:300]}


async def _check_all(state: Any) -> dict[str, Any]:
    settings = state.settings

    async def mongo() -> str:
        await state.db.command("ping")
        return settings.mongo_uri

    async def redis_ping() -> str:
        await state.redis.ping()
        return settings.redis_url

    async def kafka() -> str:
        if state.producer_started:  # a metadata round trip on the producer's connection, for its own topics:
            # every topic's metadata (fetch_all_metadata) took 9 ms of the event loop with 208 topics
            client = state.producer.client
            client.add_topic(settings.topic_ratings)  # tracked from now on (none tracked means every topic)
            if not await client.force_metadata_update():
                raise ConnectionError("no broker answered a metadata request")
            brokers = len(client.cluster.brokers())
        else:  # not started (Kafka was down at start-up): a fresh client
            brokers = await broker_count(settings)
        return f"{brokers} broker(s) at {settings.kafka_bootstrap}"

    checks = dict(zip(("mongo", "redis", "kafka"),
                      await asyncio.gather(_probe(mongo), _probe(redis_ping), _probe(kafka)), strict=True))
    return {"status": "ok" if all(c["ok"] for c in checks.values()) else "degraded", "checks": checks,
            "checked_at": time.time()}


@router.get("/health", responses={503: {"description": "a server does not answer (same body)"}})
async def health(request: Request, who: Annotated[Principal, Depends(PUBLIC)]) -> JSONResponse:
    state = request.app.state
    cached: dict[str, Any] | None = getattr(state, "health", None)
    refreshing: asyncio.Task[dict[str, Any]] | None = getattr(state, "health_task", None)
    stale = cached is None or time.time() - cached["checked_at"] > FRESH_S
    if stale and (refreshing is None or refreshing.done()):
        refreshing = state.health_task = asyncio.create_task(_check_all(state))
        refreshing.add_done_callback(lambda t: setattr(state, "health", t.result()) if not t.cancelled() else None)
    if cached is None:
        assert refreshing is not None
        cached = await asyncio.shield(refreshing)
    return JSONResponse(cached, status_code=200 if cached["status"] == "ok" else 503)
