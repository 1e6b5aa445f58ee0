"""The scheduler role: refits the ranker every list is served by without a person.

A refit is due (``due``) when the schedule's interval passed since the last one (or none was ever
run), when the stream learned ``refit_after_events`` more events, or when the online model's drift
detector flagged a drift newer than the last refit answered; never sooner than ``refit_min_gap_s``
after the last one. Promotions asked for through the API
(``storage.refit_log`` requests) are run here too, through the same gate. One APScheduler interval
job checks every ``refit_check_s``; it never runs twice at once, and checks missed while a refit ran
are folded into one. The process runs at the main job's background priority: the API keeps its
cores while a candidate is fitted.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from typing import Any

from apscheduler.schedulers.asyncio import AsyncIOScheduler

from core.settings import Settings
from jobs import refit as refit_job
from storage import refit_log
from storage.redis_store import connect as connect_redis

log = logging.getLogger("jobs.scheduler")
Refit = Callable[[Settings, str], Awaitable[dict[str, Any]]]


def due(now: float, last: dict[str, float] | None, seen: dict[str, float], settings: Settings) -> str | None:
    """Why a refit is due now, or None.

    >>> from core.settings import Settings
    >>> s = Settings(refit_every_s=3600, refit_after_events=1000, refit_min_gap_s=60)
    >>> due(0.0, None, {"events": 0, "drift": 0}, s)
    'first run: no refit recorded'
    >>> due(100.0, {"at": 0, "events": 0, "drift": 0}, {"events": 1500, "drift": 0}, s)
    '1,500 new events'
    >>> due(100.0, {"at": 0, "events": 0, "drift": 0}, {"events": 10, "drift": 7}, s)
    'drift flagged at event 7'
    >>> due(100.0, {"at": 0, "events": 0, "drift": 0}, {"events": 10, "drift": 0}, s) is None
    True
    >>> due(30.0, {"at": 0, "events": 0, "drift": 0}, {"events": 1500, "drift": 7}, s) is None  # too soon
    True
    """
    if last is None:
        return "first run: no refit recorded"
    if now - last.get("at", 0) < settings.refit_min_gap_s:  # a storm of drift flags refits once, not back to back
        return None
    if settings.refit_on_drift and seen["drift"] > last.get("drift", 0):
        return f"drift flagged at event {seen['drift']:,.0f}"
    if seen["events"] - last.get("events", 0) >= settings.refit_after_events:
        return f"{seen['events'] - last.get('events', 0):,.0f} new events"
    if now - last.get("at", 0) >= settings.refit_every_s:
        return f"schedule: every {settings.refit_every_s:,.0f} s"
    return None


async def check(settings: Settings, refit: Refit = refit_job.refit) -> dict[str, Any] | None:
    """One look: the promotions asked for, then a refit if one is due. Returns the refit's run."""
    redis = connect_redis(settings)
    try:
        asked = await refit_log.take_promotions(redis)
        last, seen = await refit_log.last(redis), await refit_log.signals(redis)
    finally:
        await redis.aclose()
    for request in asked:
        run = await refit_job.promote(settings, int(request["version"]), request["by"], bool(request["force"]))
        log.warning("scheduler: %s: %s (%s)", run["trigger"], run["decision"], run["reason"])
    trigger = due(time.time(), last, seen, settings)
    if trigger is None:
        return None
    log.warning("scheduler: refit (%s)", trigger)
    run = await refit(settings, trigger)
    log.warning("scheduler: refit (%s) %s version %s in %.1f s: %s", trigger, run["decision"], run.get("version"),
                run["seconds"], run["reason"])
    return run


async def run_forever(settings: Settings) -> None:
    """Check now and every ``refit_check_s`` until the process is stopped."""
    # a check skipped while a refit runs is the design (max_instances=1), not news every 30 s
    logging.getLogger("apscheduler.scheduler").setLevel(logging.ERROR)
    scheduler = AsyncIOScheduler()
    scheduler.add_job(check, "interval", args=[settings], seconds=settings.refit_check_s, max_instances=1,
                      coalesce=True, next_run_time=_now(), id="refit", misfire_grace_time=None)
    scheduler.start()
    log.warning("scheduler: started; refits every %.0f s, after %d new events%s; checking every %.0f s",
                settings.refit_every_s, settings.refit_after_events, ", on drift" if settings.refit_on_drift else "",
                settings.refit_check_s)
    try:
        await asyncio.Event().wait()
    finally:
        scheduler.shutdown(wait=False)


def _now() -> Any:
    from datetime import datetime

    return datetime.now().astimezone()
