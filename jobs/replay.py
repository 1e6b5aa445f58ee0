"""Replay a release's ratings into the ratings topic, in time order, at most once per stack when asked.

One job for what ``cinestream replay`` does, so that the command only parses and prints: the old
stack's keys are moved to the sharded layout first (a replay learns into them), the replay-once mark
is read before and written after, and the rows the catalogue build rejected are left out, as they are
from the catalogue.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from catalogue.layouts import Layout
from catalogue.readers import Rejected, Rejections
from catalogue.sources import read_ratings
from core.settings import Settings
from evaluation.datasets import layout_of
from simulators.replay import ReplaySummary, in_replay_order, replay
from storage import key_migration, redis_store, replays


@dataclass(frozen=True)
class ReplayOutcome:
    moved_keys: int  # Redis keys moved to the sharded layout before the replay
    already: float | None  # events of an earlier replay of the same mark (then nothing was sent)
    rejected: list[Rejected]  # rows left out, as the catalogue build left them out
    summary: ReplaySummary | None


def replay_mark(dataset: str, limit: int | None) -> str:
    return f"{dataset}:{limit or 'all'}"


def release_layout(settings: Settings, dataset: str) -> Layout:
    """The release's files; FileNotFoundError names the fetch command and the setting when it is not here
    (asked before any server, so that a newcomer learns what is missing first)."""
    return layout_of(settings.release_dir(dataset).parent, dataset)


async def replay_release(settings: Settings, dataset: str, layout: Layout, rate: float | None, limit: int | None,
                         once: bool, started: Callable[[int], None] = lambda total: None,
                         progress: Callable[[int], None] = lambda n: None) -> ReplayOutcome:
    """Replay ``dataset`` (read from ``layout``) at ``rate`` events/s (None: as fast as Kafka takes them);
    ``started`` hears how many ratings will go, ``progress`` how many went. Raises BadFileError."""
    mark = replay_mark(dataset, limit)
    moved = 0
    if once:
        redis = redis_store.connect(settings)
        try:
            moved = await key_migration.migrate(redis)  # a stack from before the keys were sharded
            if (before := await replays.done(redis, mark)) is not None:
                return ReplayOutcome(moved, before["events"], [], None)
        finally:
            await redis.aclose()
    rejections = Rejections()
    ratings = in_replay_order(read_ratings(layout, rejections), limit)
    started(len(ratings))
    summary = await replay(settings, settings.topic_ratings, ratings, rate, progress=progress)
    redis = redis_store.connect(settings)
    try:
        await replays.mark(redis, mark, summary.events)
    finally:
        await redis.aclose()
    return ReplayOutcome(moved, None, rejections.rows, summary)
