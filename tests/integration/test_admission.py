"""Past capacity the API refuses what ranks and searches with 503 at once, keeps answering health, pages
and event intake, and serves everything again once the load is gone (api/admission.py)."""

from __future__ import annotations

import asyncio
import time

import pytest
from prometheus_client import REGISTRY

from api.services import accounts
from core.settings import Settings
from tests.integration.people import api_settings, running

pytestmark = pytest.mark.integration

REDIS_DB = 11


def late_ticks() -> float:
    """Event-loop ticks counted more than 50 ms late so far (``/metrics``)."""
    def sample(name: str, **labels: str) -> float:
        return REGISTRY.get_sample_value(f"cinestream_event_loop_late_seconds_{name}", labels) or 0.0
    return sample("count") - sample("bucket", le="0.05")


async def overload(stop: asyncio.Event) -> None:
    """Hold the event loop 80 ms at a time, as a queue of requests past capacity would."""
    while not stop.is_set():
        time.sleep(0.08)  # noqa: ASYNC251 - blocking on purpose: this is the overload
        await asyncio.sleep(0)


async def test_past_capacity_costly_routes_get_503_the_cheap_ones_answer_and_it_recovers(
        stack: Settings, built_catalogue: str) -> None:
    async with running(api_settings(stack, REDIS_DB, api_shed_lag_ms=50)) as http:
        assert (await http.get("/api/trending?k=5")).status_code == 200  # loaded, within capacity
        key = await accounts.create_service_key(http.app.state.db, "platform", ["events:write"], "test")  # type: ignore[attr-defined]
        event = {"events": [{"event_id": "admission-1", "type": "rating", "user_id": 3, "movie_id": 1,
                             "rating": 4.0, "timestamp": time.time()}]}
        stop, late_before = asyncio.Event(), late_ticks()
        busy = asyncio.create_task(overload(stop))
        await asyncio.sleep(0.5)
        refused = await http.get("/api/trending?k=5")
        searched = await http.get("/api/movies?q=alien")
        health = await http.get("/health")
        page = await http.get("/")
        intake = await http.post("/api/events/batch", json=event, headers={"Authorization": f"Bearer {key['key']}"})
        stop.set()
        await busy
        assert late_ticks() >= late_before + 3  # the lag that refused is the lag operators see
        assert refused.status_code == 503 and refused.headers["Retry-After"] == "1", refused.text
        assert refused.json()["error"]["code"] == "unavailable"
        assert refused.headers["x-content-type-options"] == "nosniff"  # refused before the middleware, headers kept
        assert searched.status_code == 503
        assert health.status_code in (200, 503) and "checks" in health.json()  # answered by health itself
        assert page.status_code == 200
        assert intake.status_code == 200 and intake.json()["accepted"] == 1, intake.text
        began = time.monotonic()
        while (await http.get("/api/trending?k=5")).status_code != 200:
            assert time.monotonic() - began < 5.0, "still refusing 5 s after the load stopped"
            await asyncio.sleep(0.05)
