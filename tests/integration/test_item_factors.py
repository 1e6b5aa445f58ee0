"""The API's in-memory copy of the item rows gives the same lists as reading every row from Redis.

The reference is what the API did before the copy existed: the item shards' members, an ``MGET`` of
every row and a scan (``BiasedMF.recommend``). The copy follows the workers' notices while real
MovieLens ratings are learned, and must reload when the rows change wholesale or Redis is flushed.
"""

from __future__ import annotations

import asyncio
import dataclasses
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import redis.asyncio as aioredis

from api.search import TitleIndex
from api.services.lists import recommendations_for
from online_models.batch_fit import Fitted
from online_models.biased_mf import BiasedMF
from online_models.cooccurrence import CoOccurrence
from storage import model_versions, recent_history
from storage.item_factors import ItemFactors
from storage.item_log import SEQ
from storage.model_keys import item_key, seen_key, user_key
from storage.model_store import drop_items, item_members
from storage.models import Models
from streams.mf_learning import ExactlyOnceMF, RatingBatch
from streams.side_learning import learn_similarity

pytestmark = pytest.mark.integration
REDIS_DB = 13
MF = BiasedMF(n_factors=32, seed=0)


@pytest.fixture(scope="module")
def ratings(data_dir: Path) -> pd.DataFrame:
    df = pd.read_csv(data_dir / "ml-latest-small" / "ratings.csv").sort_values("timestamp", kind="stable")
    return df.iloc[:30_000].reset_index(drop=True)


def batches(df: pd.DataFrame, size: int) -> list[RatingBatch]:
    offsets = np.arange(len(df), dtype=np.int64)
    return [RatingBatch("ratings", np.zeros(len(df[s:s + size]), np.int64), offsets[s:s + size],
                        df["userId"].to_numpy()[s:s + size], df["movieId"].to_numpy()[s:s + size],
                        df["rating"].to_numpy(np.float32)[s:s + size]) for s in range(0, len(df), size)]


async def reference(redis: aioredis.Redis, user: int, k: int) -> list[tuple[int, float]]:
    """Every item row read from Redis for the request, as before."""
    blob = await redis.get(user_key(user))
    ids = await item_members(redis)
    if blob is None or not len(ids):
        return []
    rows = np.frombuffer(b"".join(await redis.mget([item_key(int(i)) for i in ids])), np.float32).reshape(len(ids), -1)
    seen = {int(m) for m in await redis.hkeys(seen_key(user))}
    return MF.recommend(np.frombuffer(blob, np.float32), rows, ids, k, exclude=seen)


async def assert_same_lists(copy: ItemFactors, redis: aioredis.Redis, users: list[int]) -> None:
    await copy.refresh()  # what the API's follower does when the log grows
    for user in users:
        mine, rated, _ = await copy.recommend(user, 50)
        theirs = await reference(redis, user, 50)
        assert [m for m, _ in mine] == [m for m, _ in theirs], user
        assert np.allclose([s for _, s in mine], [s for _, s in theirs], rtol=0, atol=1e-5)
        assert set(rated) == {int(m) for m in await redis.hkeys(seen_key(user))}


async def test_lists_match_reading_every_row_while_the_model_learns(redis_db: aioredis.Redis,
                                                                      ratings: pd.DataFrame) -> None:
    store, copy = ExactlyOnceMF.over(redis_db, MF), ItemFactors(redis_db, MF.width)
    users = ratings["userId"].drop_duplicates().iloc[:25].tolist()
    run = batches(ratings, 1000)
    assert await copy.recommend(users[0], 10) == ([], {}, [])  # nothing learned yet
    await store.apply(run[0])
    await assert_same_lists(copy, redis_db, users)  # the first notice starts the log's epoch: a reload
    for start in range(1, len(run), 10):
        for batch in run[start:start + 10]:
            await store.apply(batch)
        await assert_same_lists(copy, redis_db, users)
    assert copy.reloads == 2 and len(copy.matrix) == ratings["movieId"].nunique()  # followed the notices


async def test_a_copy_that_fell_behind_the_log_or_missed_a_flush_reloads(redis_db: aioredis.Redis,
                                                                          ratings: pd.DataFrame) -> None:
    run = batches(ratings, 10)[:2100]  # more notices than the log keeps
    store, copy = ExactlyOnceMF.over(redis_db, MF), ItemFactors(redis_db, MF.width)
    users = ratings["userId"].drop_duplicates().iloc[:5].tolist()
    await copy.refresh()
    for batch in run:
        await store.apply(batch)
    await assert_same_lists(copy, redis_db, users)
    assert copy.reloads == 2

    await redis_db.flushdb()  # Redis lost everything: the count starts again under a new epoch
    store = ExactlyOnceMF.over(redis_db, MF)
    for batch in run[:3]:
        await store.apply(batch)
    await assert_same_lists(copy, redis_db, users)
    assert copy.reloads == 3


async def test_the_rated_films_come_oldest_first_and_follow_the_history_as_it_grows(redis_db: aioredis.Redis
                                                                                     ) -> None:
    """The live ranker's recent parts weigh the latest films most: the rated set (a hash) has no order,
    so it comes ordered by the person's history, and a new event in it re-orders it."""
    store, copy = ExactlyOnceMF.over(redis_db, MF), ItemFactors(redis_db, MF.width)
    user, films = 424242, [5, 7, 9, 11]
    await store.apply(RatingBatch("ratings", np.zeros(4, np.int64), np.arange(4, dtype=np.int64),
                                  np.full(4, user), np.array(films), np.array([4.0, 3.0, 5.0, 2.0], np.float32)))
    await recent_history.add(redis_db, [{"user_id": user, "movie_id": m, "type": "rating", "rating": 4.0,
                                         "timestamp": t} for m, t in ((9, 100.0), (5, 200.0), (7, 300.0))])
    _, rated, _ = await copy.recommend(user, 0)
    assert list(rated) == [11, 9, 5, 7]  # 11 has no event in the history: the oldest
    assert rated[9] == 5.0
    version = copy.rated_version(user)
    await recent_history.add(redis_db, [{"user_id": user, "movie_id": 5, "type": "watch", "seconds_watched": 60.0,
                                         "timestamp": 400.0}])
    _, rated, _ = await copy.recommend(user, 0)
    assert list(rated) == [11, 9, 7, 5] and copy.rated_version(user) != version


async def test_wholesale_changes_reach_the_copy(redis_db: aioredis.Redis, ratings: pd.DataFrame) -> None:
    store, copy = ExactlyOnceMF.over(redis_db, MF), ItemFactors(redis_db, MF.width)
    for batch in batches(ratings, 1000)[:5]:
        await store.apply(batch)
    user = int(ratings["userId"].iloc[0])
    await assert_same_lists(copy, redis_db, [user])
    held = copy.matrix.ids.copy()

    await drop_items(redis_db, keep=held[:100])
    await assert_same_lists(copy, redis_db, [user])
    assert np.array_equal(copy.matrix.ids, held[:100])

    rng = np.random.default_rng(0)
    fitted = Fitted(user_ids=np.array([user]), users=MF.new_rows(1), item_ids=held[100:130],
                    items=MF.new_rows(30) + rng.normal(0, 1, (30, MF.width)).astype(np.float32),
                    global_mean=3.5, n_ratings=10, rmse=0.9)
    await model_versions.install(redis_db, fitted, "test")
    await assert_same_lists(copy, redis_db, [user])
    assert np.array_equal(copy.matrix.ids, np.sort(held[100:130]))


class EveryRow:
    """The API's recommendation input as it was read before the copy: every row from Redis."""

    def __init__(self, redis: aioredis.Redis) -> None:
        self.redis = redis

    async def recommend(self, user: int, k: int, also: list[str]) -> tuple[list[tuple[int, float]], dict[int, float],
                                                                          list[object]]:
        rated = {int(m): float(r) for m, r in (await self.redis.hgetall(seen_key(user))).items()}
        return await reference(self.redis, user, k), rated, [await self.redis.get(key) for key in also]


async def test_the_api_lists_are_the_same_items_order_and_reasons(redis_db: aioredis.Redis,
                                                                   ratings: pd.DataFrame) -> None:
    models, learner = Models.over(redis_db), ExactlyOnceMF.over(redis_db, MF)
    for batch in batches(ratings, 1000):
        await learner.apply(batch)
    await learn_similarity(models.similarity, CoOccurrence(), ratings["userId"].to_numpy(),
                           ratings["movieId"].to_numpy(), np.ones(len(ratings), dtype=np.float32))
    cards = (TitleIndex(cards={m: {"movieId": m, "title": f"movie {m}", "year": None, "genres": []}
                               for m in ratings["movieId"].unique().tolist()},
                        ids=[1], checked_at=time.monotonic()), None)
    before = dataclasses.replace(models, items=EveryRow(redis_db))
    reasons = set()
    for user in ratings["userId"].drop_duplicates().iloc[:30].tolist():
        now = await recommendations_for(user, cards, models, redis_db, 10)
        assert now == await recommendations_for(user, cards, before, redis_db, 10)
        reasons |= {item["reason"].split(" ")[0] for item in now["items"]}
    assert "because" in reasons  # the "because you rated …" reasons were compared, not only the fallback


async def test_the_follower_applies_what_the_workers_write_within_milliseconds(redis_db: aioredis.Redis,
                                                                              ratings: pd.DataFrame) -> None:
    store, copy = ExactlyOnceMF.over(redis_db, MF), ItemFactors(redis_db, MF.width)
    await store.apply(batches(ratings, 1000)[0])
    following = asyncio.create_task(copy.follow(block_ms=1000))
    try:
        lags = []
        for batch in batches(ratings, 1000)[1:11]:
            await store.apply(batch)
            written, seq = time.perf_counter(), int(await redis_db.get(SEQ) or 0)
            while copy.version[0] < seq:
                assert time.perf_counter() - written < 2, "the follower did not apply the notice"
                await asyncio.sleep(0.001)
            lags.append(time.perf_counter() - written)
        following.cancel()
        user = int(ratings["userId"].iloc[0])
        mine, _, _ = await copy.recommend(user, 50)
        assert [m for m, _ in mine] == [m for m, _ in await reference(redis_db, user, 50)]
        assert copy.reloads == 1 and sorted(lags)[len(lags) // 2] < 0.05  # woken by the notice, not by a timer
    finally:
        following.cancel()
