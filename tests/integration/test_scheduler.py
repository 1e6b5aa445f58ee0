"""Retraining without a person, against the real stack: refits judged on the newest ratings before
they go live, a deliberately broken candidate refused with its reason, and the scheduler refitting on
a drift flag and on new events."""

from __future__ import annotations

import asyncio
import dataclasses
import time
from collections.abc import AsyncIterator
from typing import Any

import numpy as np
import pytest
import redis.asyncio as aioredis

from core.settings import Settings
from jobs import scheduler
from jobs.refit import refit
from online_models.live_ranker import LiveModel
from storage import live_model_store, refit_log
from storage.model_keys import STATS
from storage.model_store import ModelStore

pytestmark = pytest.mark.integration

REDIS_DB = 13


def scrambled(model: LiveModel, seed: int = 0) -> LiveModel:
    """Every film's learned parts (factors, EASE links, prior, genres) handed to another film: a model
    that loads and ranks, and ranks badly."""
    perm = np.random.default_rng(seed).permutation(len(model.ids))
    inverse = np.argsort(perm)
    return dataclasses.replace(model, factors=model.factors[perm], prior=model.prior[perm],
                               genres=model.genres[perm], kept=inverse[model.kept],
                               neighbours=inverse[model.neighbours].astype(np.int32))


@pytest.fixture()
async def own(stack: Settings, built_catalogue: str, redis_db: aioredis.Redis) -> AsyncIterator[Settings]:
    yield stack.model_copy(update={"mongo_db": "cinestream_test",
                                   "redis_url": stack.redis_url.rsplit("/", 1)[0] + f"/{REDIS_DB}",
                                   "refit_every_s": 3600.0, "refit_after_events": 1000, "refit_check_s": 1.0,
                                   "refit_min_gap_s": 0.0})


async def test_the_gate_promotes_a_better_candidate_and_refuses_a_broken_one(own: Settings,
                                                                             redis_db: aioredis.Redis) -> None:
    first = await refit(own, "test: a broken first version", damage=scrambled)
    assert first["decision"] == "promoted" and first["reason"] == "the first version: nothing to compare with", first
    better = await refit(own, "test: a sound candidate")
    assert better["decision"] == "promoted", better
    assert better["candidate"]["ndcg@10"] > 2 * better["live"]["ndcg@10"], better
    assert await live_model_store.live_version(redis_db) == better["version"]

    broken = await refit(own, "test: a broken candidate", damage=scrambled)
    assert broken["decision"] == "refused" and "worse" in broken["reason"], broken
    assert await live_model_store.live_version(redis_db) == better["version"]  # what served still serves
    kept = {v["version"]: v for v in await live_model_store.versions(redis_db)}
    assert kept[broken["version"]]["status"] == "refused" and kept[broken["version"]]["reason"] == broken["reason"]
    assert kept[better["version"]]["live"]
    assert kept[first["version"]]["status"] == "replaced"  # whoever promotes, what it replaced says so
    runs = await refit_log.runs(redis_db)
    assert [r["decision"] for r in runs] == ["refused", "promoted", "promoted"]
    assert all(r["holdout"] > 0 and r["train"] > 9 * r["holdout"] * 0.9 for r in runs)
    print("gate:", [(r["trigger"], r["decision"], r["reason"], r["seconds"]) for r in runs])


async def test_the_scheduler_refits_on_a_drift_flag_and_on_new_events(own: Settings,
                                                                      redis_db: aioredis.Redis) -> None:
    running = asyncio.create_task(scheduler.run_forever(own))
    try:
        first = await _next_run(redis_db, 0)
        assert first["trigger"] == "first run: no refit recorded" and first["decision"] == "promoted", first
        await ModelStore(redis_db, width=1).flag_drift(5000)  # as a learning worker's detector does
        drift = await _next_run(redis_db, 1)
        assert drift["trigger"] == "drift flagged at event 5,000", drift
        await redis_db.hset(STATS, "n", 1200)  # the stream learned 1,200 events since
        events = await _next_run(redis_db, 2)
        assert events["trigger"] == "1,200 new events", events
        assert {drift["decision"], events["decision"]} <= {"promoted", "refused"}
    finally:
        running.cancel()


async def _next_run(redis: aioredis.Redis, before: int, within_s: float = 240) -> dict[str, Any]:
    """The scheduler's run after the ``before`` already recorded (waiting for it)."""
    deadline = time.monotonic() + within_s
    while len(runs := await refit_log.runs(redis)) <= before:
        assert time.monotonic() < deadline, f"no refit within {within_s} s"
        await asyncio.sleep(0.5)
    return runs[0]


def _random_model(seed: int, n: int = 400) -> LiveModel:
    rng = np.random.default_rng(seed)
    return LiveModel(np.arange(1, n + 1, dtype=np.int64), rng.standard_normal((n, 8)).astype(np.float32), reg=0.5,
                     alpha=3.0, kept=np.zeros(0, np.int64), neighbours=np.zeros((0, 0), np.int32),
                     links=np.zeros((0, 0), np.float32), prior=rng.standard_normal(n),
                     genres=(rng.random((n, 3)) < 0.3).astype(np.uint8), genre_names=["Comedy", "Drama", "Horror"],
                     blend=np.tile([1.0, 0.0, 0.5, 0.2], (5, 1)))


async def test_a_promotion_switches_model_and_kept_lists_in_one_step(redis_db: aioredis.Redis) -> None:
    """The API's copy keeps serving the version in hand while a new one loads, ranks its kept lists
    again with the new one, then switches both at once: after a promotion, people's next requests find
    their lists ranked by the new version instead of all ranking at once."""
    first = await live_model_store.save(redis_db, _random_model(1), {"status": "live"})
    await live_model_store.promote(redis_db, first)
    copy = live_model_store.LiveModelCopy(redis_db)
    old = await copy.at(await redis_db.get(live_model_store.VERSION))
    assert old is not None
    rng = np.random.default_rng(2)
    asked = {user: live_model_store.Asked(rng.choice(old.ids, 20, replace=False), rng.integers(1, 11, 20) / 2,
                                          ["Drama"] if user % 2 else [], np.array([7], dtype=np.int64), 10)
             for user in range(50)}
    for user, question in asked.items():
        copy.keep(user, question.rank(old), question)

    second = await live_model_store.save(redis_db, _random_model(3), {"status": "live"})
    await live_model_store.promote(redis_db, second)
    assert await copy.at(await redis_db.get(live_model_store.VERSION)) is old  # serving while the new one loads
    assert copy._loading is not None
    await copy._loading
    new = copy.model
    assert new is not None and new is not old and copy.version == str(second).encode()
    changed = 0
    for user, question in asked.items():
        kept = copy.recall(user)
        assert kept == question.rank(new)  # ranked again by the new version, none dropped
        assert 7 not in kept.ids  # a retired title stays out
        changed += kept != question.rank(old)
    assert changed >= 45
