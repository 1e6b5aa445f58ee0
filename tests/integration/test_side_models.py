"""Trending and item–item similarity stores against the real Redis, on real ratings."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import redis.asyncio as aioredis

from online_models.cooccurrence import CoOccurrence
from online_models.trending import Trending
from storage.similarity_store import COUNT_KEYS, KEEP, PRUNE_AT, ROW, SimilarityStore, counts_of, row_key
from storage.trending_store import TrendingStore
from streams.side_learning import learn_similarity, learn_trending

pytestmark = pytest.mark.integration
REDIS_DB = 12

STAR_WARS, EMPIRE, JEDI = 260, 1196, 1210


@pytest.fixture(scope="module")
def ratings(data_dir: Path) -> pd.DataFrame:
    return pd.read_csv(data_dir / "ml-latest-small" / "ratings.csv").sort_values("timestamp", kind="stable")


async def test_star_wars_neighbours_are_its_sequels(redis_db: aioredis.Redis, ratings: pd.DataFrame) -> None:
    model = CoOccurrence(history=20)
    store = SimilarityStore(redis_db)
    for start in range(0, 30000, 2000):
        chunk = ratings.iloc[start:start + 2000]
        await learn_similarity(store, model, chunk["userId"].to_numpy(), chunk["movieId"].to_numpy(),
                        model.rating_weight(chunk["rating"].to_numpy()))
    neighbours = [m for m, _ in await store.similar(STAR_WARS, k=10)]
    assert {EMPIRE, JEDI} <= set(neighbours), neighbours
    scores = [s for _, s in await store.similar(STAR_WARS, k=10)]
    assert scores == sorted(scores, reverse=True) and all(0 < s <= 1 for s in scores)
    assert 0 < len(await redis_db.get("sim:recent:1") or b"") <= 20 * 4
    sizes = [len(await redis_db.get(key) or b"") // ROW.itemsize async for key in redis_db.scan_iter(match="sim:row:*")]
    assert max(sizes) < PRUNE_AT and sum(s >= KEEP for s in sizes) > 0  # capped, and the cap was reached


async def test_reasons_are_the_most_similar_liked_movie_and_copies_live_only_their_age(
        redis_db: aioredis.Redis, ratings: pd.DataFrame) -> None:
    model = CoOccurrence(history=20)
    writer = SimilarityStore(redis_db)
    chunk = ratings.iloc[:20000]
    await learn_similarity(writer, model, chunk["userId"].to_numpy(), chunk["movieId"].to_numpy(),
                           model.rating_weight(chunk["rating"].to_numpy()))
    liked = [STAR_WARS, 1, 296, 318, 2571]
    candidates = [EMPIRE, JEDI, 356, 593, 999_999]  # the last has no row: no reason
    reader = SimilarityStore(redis_db, read_cache_s=1.0)
    anchors = await reader.best_anchor(candidates, liked)
    counts = await counts_of(redis_db, liked)
    for movie in candidates:  # the definition, one candidate at a time
        row = np.frombuffer(await redis_db.get(row_key(movie)) or b"", dtype=ROW)
        cooc = [float(row["w"][row["b"] == a].sum()) for a in liked]
        cosine = [c / np.sqrt(n) if n else 0.0 for c, n in zip(cooc, counts, strict=True)]
        assert anchors[movie] == (liked[int(np.argmax(cosine))] if max(cosine) > 0 else None), movie
    assert anchors[EMPIRE] == STAR_WARS and anchors[999_999] is None
    await redis_db.delete(row_key(EMPIRE))  # as if the row changed: a copy younger than its age is used
    assert (await reader.best_anchor([EMPIRE], liked))[EMPIRE] == STAR_WARS
    assert (await SimilarityStore(redis_db).best_anchor([EMPIRE], liked))[EMPIRE] is None
    await asyncio.sleep(1.1)  # older than its age: answered once more from the copy while it is read again
    assert (await reader.best_anchor([EMPIRE], liked))[EMPIRE] == STAR_WARS
    await asyncio.sleep(0.2)
    assert (await reader.best_anchor([EMPIRE], liked))[EMPIRE] is None


async def all_counts(redis: aioredis.Redis) -> dict[bytes, bytes]:
    return {k: v for key in COUNT_KEYS for k, v in (await redis.hgetall(key)).items()}


class InterruptedWorker(SimilarityStore):
    """A side worker that lets ``interrupt`` run once between reading its rows and writing them
    back: the race two workers meet by chance, made certain."""

    interrupt: Callable[[], Awaitable[object]] | None = None

    async def _read(self, keys: list[str]) -> list[bytes]:
        blobs = await super()._read(keys)
        if self.interrupt is not None and keys and keys[0].startswith("sim:row:"):
            interrupt, self.interrupt = self.interrupt, None
            await interrupt()
        return blobs


async def test_workers_sharing_rows_lose_no_increment(redis_db: aioredis.Redis, ratings: pd.DataFrame) -> None:
    """Two side workers (two stores, two connections' worth of interleaving) write the same movies'
    rows at once, users split between them as Kafka partitions split them: every weight arrives."""
    await redis_db.flushdb()
    model = CoOccurrence(history=5)
    chunk = ratings.iloc[:6000]
    halves = [chunk[chunk["userId"] % 2 == parity] for parity in (0, 1)]
    stores = [InterruptedWorker(redis_db), SimilarityStore(redis_db)]

    async def feed(store: SimilarityStore, part: pd.DataFrame) -> None:
        for start in range(0, len(part), 250):
            rows = part.iloc[start:start + 250]
            await learn_similarity(store, model, rows["userId"].to_numpy(), rows["movieId"].to_numpy(),
                                   model.rating_weight(rows["rating"].to_numpy()))

    # the second worker's first batch lands between the first worker's read and its write; its
    # later batches follow that one (a partition is read in order), beside the first worker's
    started = asyncio.Event()

    async def first_batch() -> None:
        await feed(stores[1], halves[1].iloc[:250])
        started.set()

    async def later_batches() -> None:
        await started.wait()
        await feed(stores[1], halves[1].iloc[250:])

    stores[0].interrupt = first_batch
    await asyncio.gather(feed(stores[0], halves[0]), later_batches())
    together = {key: await redis_db.get(key) async for key in redis_db.scan_iter(match="sim:row:*")}
    counts = await all_counts(redis_db)
    await redis_db.flushdb()
    for part in halves:  # the same events, one worker after the other
        await feed(stores[0], part)
    one_by_one = {key: await redis_db.get(key) async for key in redis_db.scan_iter(match="sim:row:*")}
    weight = {key: np.frombuffer(blob or b"", dtype=ROW)["w"].sum() for key, blob in together.items()}
    expected = {key: np.frombuffer(blob or b"", dtype=ROW)["w"].sum() for key, blob in one_by_one.items()}
    assert weight.keys() == expected.keys() and len(weight) > 300
    assert stores[0].refused > 0  # the race happened, and was merged again
    unpruned = [key for key, blob in one_by_one.items() if len(blob or b"") // ROW.itemsize < KEEP]
    assert all(np.isclose(weight[key], expected[key]) for key in unpruned)
    assert counts == await all_counts(redis_db)


async def test_trending_follows_recent_activity(redis_db: aioredis.Redis) -> None:
    trend, store = Trending(half_life_s=3600.0), TrendingStore(redis_db)
    # movie 1: ten views a day ago; movie 2: three views now. Recent wins after a 1 h half-life.
    await learn_trending(store, trend, np.full(10, 1), np.ones(10), np.zeros(10))
    await learn_trending(store, trend, np.full(3, 2), np.ones(3), np.full(3, 86400.0))
    assert [m for m, _ in await store.top(2)] == [2, 1]


async def test_trending_survives_decades_of_timestamps(redis_db: aioredis.Redis) -> None:
    """MovieLens spans 1996-2018: the epoch moves and rescales instead of overflowing."""
    trend, store = Trending(half_life_s=7 * 86400.0), TrendingStore(redis_db)
    await learn_trending(store, trend, np.array([1, 1, 2]), np.ones(3), np.full(3, 8.3e8))  # 1996
    week = 7 * 86400.0
    await learn_trending(store, trend, np.array([2]), np.ones(1), np.array([8.3e8 + week]))  # a week later
    top = await store.top(2)
    # a week on: movie 1 = 2 × ½, movie 2 = ½ + 1
    assert [m for m, _ in top] == [2, 1] and top[1][1] == pytest.approx(1.0 / 1.5, rel=1e-6)
    await learn_trending(store, trend, np.array([3]), np.ones(1), np.array([1.52e9]))  # 2018: 1,140 half-lives on
    top = await store.top(3)
    assert top[0][0] == 3 and all(np.isfinite(s) for _, s in top)


async def test_an_event_with_an_extreme_timestamp_cannot_move_the_top_ten(redis_db: aioredis.Redis,
                                                                        ratings: pd.DataFrame) -> None:
    """A platform's bad clock (or an attacker) sends one event stamped 2106, the schema's limit."""
    trend, store = Trending(half_life_s=7 * 86400.0), TrendingStore(redis_db)
    recent = ratings.iloc[-20000:]
    now = float(recent["timestamp"].max())
    await learn_trending(store, trend, recent["movieId"].to_numpy(), np.ones(len(recent)),
                         recent["timestamp"].to_numpy(dtype=float), now=now)
    before = [m for m, _ in await store.top(10)]
    phantom = 20232435016268
    await learn_trending(store, trend, np.array([phantom]), np.ones(1), np.array([2.0**32 - 1]), now=now)
    await learn_trending(store, trend, np.array([phantom]), np.ones(1), np.array([-3.9e165]), now=now)
    after = await store.top(10)
    assert [m for m, _ in after] == before and phantom not in [m for m, _ in after]
    assert all(np.isfinite(s) and s > 0 for _, s in after)
