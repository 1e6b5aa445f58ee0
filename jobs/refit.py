"""A refit of the ranker every list is served by, gated before it goes live.

The candidate is fitted on every stored rating — the imported release and what the stream archived
since — except the newest ``holdout`` share, and judged against the live version on those
(``online_models.gate``). Accepted, the same recipe is fitted on everything and made live in one
step; refused, the candidate is kept as a version with its reason. Either way the run is recorded
(``storage.refit_log``) for the admin page. A refit reads MongoDB once and fits in a thread: the
scheduler runs it under the main job's background priority, beside the API.
"""

from __future__ import annotations

import asyncio
import math
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from motor.motor_asyncio import AsyncIOMotorDatabase

from core.settings import Settings
from jobs.publish import catalogue_ratings
from online_models.gate import Split, decide, served_quality, temporal_split
from online_models.live_ranker import LiveModel
from recommenders.data import Ratings
from recommenders.live_fit import fit_live, fit_parts
from recommenders.production import genre_names, genre_vectors
from storage import catalogue_store, history_store, live_model_store, rating_store, refit_log
from storage.mongo import connect, database
from storage.redis_store import connect as connect_redis

Damage = Callable[[LiveModel], LiveModel]  # tests break a candidate on purpose to see the gate refuse it


async def training_ratings(db: AsyncIOMotorDatabase, skip_sources: tuple[str, ...] = ()) -> pd.DataFrame:
    """The imported ratings and the streamed ones, the latest rating of a person for a film kept."""
    imported = await rating_store.all_ratings(db)
    streamed = streamed_ratings(await history_store.all_events(db), skip_sources)
    both = pd.concat([imported, streamed], ignore_index=True).sort_values("timestamp", kind="stable")
    return both.drop_duplicates(["userId", "movieId"], keep="last").reset_index(drop=True)


def streamed_ratings(events: pd.DataFrame, skip_sources: tuple[str, ...] = ()) -> pd.DataFrame:
    """The ratings among archived events, as the imported ones are laid out, without those whose source
    starts with one of ``skip_sources`` (simulated people).

    >>> events = pd.DataFrame({"watch": [False, False, True], "rating": [4.0, 5.0, None],
    ...                        "user_id": [1, 2, 1], "movie_id": [10, 10, 11], "timestamp": [1.0, 2.0, 3.0],
    ...                        "source": ["web", "load", "web"]})
    >>> streamed_ratings(events, ("load", "probe"))[["userId", "movieId", "rating"]].values.tolist()
    [[1.0, 10.0, 4.0]]
    """
    simulated = events["source"].fillna("").astype(str).str.startswith(skip_sources) if skip_sources else False
    rated = events[~events["watch"] & events["rating"].notna() & ~simulated]
    return pd.DataFrame({"userId": rated["user_id"].astype(np.int64),
                         "movieId": rated["movie_id"].astype(np.int64),
                         "rating": rated["rating"].astype(np.float64),
                         "timestamp": rated["timestamp"].astype(np.int64)})


async def refit(settings: Settings, trigger: str, damage: Damage | None = None, force: bool = False) -> dict[str, Any]:
    """Fit, judge and (if the gate allows, or ``force``) promote a new ranker; returns the run's record."""
    started, clock = time.time(), time.monotonic()
    ratings, documents = await _history(settings)
    redis = connect_redis(settings)
    try:
        seen = await refit_log.signals(redis)
        run: dict[str, Any] = {"trigger": trigger, "started": started, "ratings": len(ratings)}
        if ratings.empty:
            return await _finish(redis, run, clock, seen, decision="skipped", reason="no ratings stored")
        data, catalogue, user_ids = catalogue_ratings(ratings, documents)
        genres, names = genre_vectors(catalogue, documents).astype(np.uint8), genre_names(documents)
        split = temporal_split(data.timestamps.astype(np.float64), settings.refit_holdout)
        fitted, learned = await asyncio.to_thread(fit_live, data.subset(split.train), catalogue, genres, names)
        candidate = damage(fitted) if damage else fitted
        history = History.of(data, catalogue, user_ids)
        judged = await asyncio.to_thread(served_quality, candidate, *history.events, split)
        live_version = await live_model_store.live_version(redis)
        mine, live, basis = await _versus(redis, candidate, split.cutoff, judged, history)
        mine = mine or judged
        accepted, verdict = decide(mine, live, settings.refit_margin)
        reason = f"{basis}: {verdict}"
        run |= {"train": int(split.train.sum()), "holdout": int((~split.train).sum()), "cutoff": split.cutoff,
                "candidate": mine, "live": live, "live_version": live_version}
        if not accepted and not force:
            version = await live_model_store.save(redis, candidate, {
                "created": time.time(), "status": "refused", "reason": reason, "trigger": trigger,
                "ratings": int(split.train.sum()), "trained_until": split.cutoff,
                "gate": {"candidate": judged, "live": live}})
            return await _finish(redis, run, clock, seen, decision="refused", reason=reason, version=version)
        # the parts again on every rating, with the blend the candidate learned on held-out people: that
        # blend is what the gate judged, and learning it again would cost most of a second fit
        final = await asyncio.to_thread(fit_parts, data, catalogue, genres, names, fitted.blend.astype(np.float64))
        final = damage(final) if damage else final
        version = await live_model_store.save(redis, final, {
            "created": time.time(), "status": "live", "reason": reason, "trigger": trigger, "ratings": len(data),
            "trained_until": float(history.timestamps.max()), "learned": learned,
            "gate": {"candidate": judged, "live": live}, "forced": force and not accepted})
        await live_model_store.promote(redis, version)
        decision = "promoted" if accepted else "forced"
        return await _finish(redis, run, clock, seen, decision=decision, reason=reason, version=version)
    finally:
        await redis.aclose()


async def promote(settings: Settings, version: int, by: str, force: bool = False) -> dict[str, Any]:
    """Make a kept version live through the same gate as a refit (``force``: past it, recorded as such)."""
    started, clock = time.time(), time.monotonic()
    ratings, documents = await _history(settings)
    redis = connect_redis(settings)
    try:
        run: dict[str, Any] = {"trigger": f"promotion of version {version} by {by}", "started": started,
                               "ratings": len(ratings), "forced": force}
        kept = {v["version"]: v for v in await live_model_store.versions(redis)}
        if version not in kept:
            return await _finish(redis, run, clock, None, decision="refused", reason=f"no ranker version {version}",
                                 version=version)
        data, catalogue, user_ids = catalogue_ratings(ratings, documents)
        history = History.of(data, catalogue, user_ids)
        wanted = await live_model_store.load_version(redis, version)
        meta = kept[version]
        mine, live, basis = await _versus(redis, wanted, meta.get("trained_until", math.inf),
                                          meta.get("gate", {}).get("candidate"), history)
        accepted, verdict = decide(mine, live, settings.refit_margin) if mine else \
            (live is None, "the version has no figure to judge it by")
        reason = f"{basis}: {verdict}"
        run |= {"candidate": mine, "live": live, "live_version": await live_model_store.live_version(redis)}
        if not accepted and not force:
            return await _finish(redis, run, clock, None, decision="refused", reason=reason, version=version)
        await live_model_store.promote(redis, version)
        await live_model_store.update_meta(redis, version, {"status": "live", "reason": reason})
        return await _finish(redis, run, clock, None, decision="promoted" if accepted else "forced", reason=reason,
                             version=version)
    finally:
        await redis.aclose()


@dataclass(frozen=True)
class History:
    """Every stored rating, by dataset ids, in time order's terms (the gate's evidence)."""

    users: np.ndarray
    movies: np.ndarray
    stars: np.ndarray
    timestamps: np.ndarray

    @classmethod
    def of(cls, data: Ratings, catalogue: np.ndarray, user_ids: np.ndarray) -> History:
        return cls(user_ids[data.users], catalogue[data.items], data.ratings, data.timestamps.astype(np.float64))

    @property
    def events(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        return self.users, self.movies, self.stars


MIN_PEOPLE = 30  # judged people for a head-to-head comparison on ratings newer than both versions


async def _versus(redis: Any, model: LiveModel, trained_until: float, recorded: dict[str, float] | None,
                  history: History) -> tuple[dict[str, float] | None, dict[str, float] | None, str]:
    """A version's figure and the live version's, measured alike, and on what basis.

    Head to head when enough ratings are newer than what either was fitted on; otherwise each by the
    figure it was judged by when it was fitted (its twin's on the newest tenth of the ratings then).
    Scoring the live version on ratings it was fitted on would favour it: a sound candidate fitted
    on 90 % of the ratings scored 0.119 against the live version's 0.151 on the same holdout."""
    serving = await live_model_store.load_live(redis)
    if serving is None:
        return recorded, None, "the first version"
    live_meta = next((v for v in await live_model_store.versions(redis) if v["live"]), {})
    newest = max(trained_until, float(live_meta.get("trained_until", math.inf)))
    if newest < float(history.timestamps.max()):
        fresh = Split(newest, history.timestamps <= newest)
        mine, live = await asyncio.gather(asyncio.to_thread(served_quality, model, *history.events, fresh),
                                          asyncio.to_thread(served_quality, serving, *history.events, fresh))
        if min(mine["people"], live["people"]) >= MIN_PEOPLE:
            return mine, live, f"head to head on {int((~fresh.train).sum()):,} ratings neither was fitted on"
    figure = live_meta.get("gate", {}).get("candidate")
    if figure is None:
        return recorded, None, "the live version has no recorded figure"
    return recorded, figure, "against the figure the live version was judged by"


async def _history(settings: Settings) -> tuple[pd.DataFrame, dict[int, dict[str, Any]]]:
    client = connect(settings)
    try:
        db = database(client, settings)
        return (await training_ratings(db, settings.refit_skip_sources),
                await catalogue_store.content_documents(db))
    finally:
        client.close()


async def _finish(redis: Any, run: dict[str, Any], clock: float, seen: dict[str, float] | None, **outcome: Any
                  ) -> dict[str, Any]:
    """Record the run; a refit (``seen``: the signals it answered) also restarts the schedule's count."""
    run |= outcome | {"seconds": round(time.monotonic() - clock, 1)}
    await refit_log.record(redis, run)
    if seen is not None:
        await refit_log.mark(redis, run["started"], seen)
    return run
