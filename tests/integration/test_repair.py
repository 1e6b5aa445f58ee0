"""``model repair`` undoes a deployment poisoned before the boundary: phantom movies, wild timestamps."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator

import numpy as np
import pytest
import redis.asyncio as aioredis
from motor.motor_asyncio import AsyncIOMotorDatabase
from rich.console import Console

from core.settings import Settings
from jobs.repair import repair
from online_models.trending import Trending
from storage import model_keys, model_store, similarity_store
from storage.mongo import connect, database
from storage.trending_store import TrendingStore
from streams.side_learning import learn_trending

pytestmark = pytest.mark.integration

REDIS_DB = 9
PHANTOM = 20232435016268
REAL = [1, 2, 260, 1196, 1210]


@pytest.fixture()
async def poisoned(stack: Settings, redis_db: aioredis.Redis) -> AsyncIterator[tuple[Settings, AsyncIOMotorDatabase]]:
    """A small deployment of its own (MongoDB database and Redis database) as the old code left it."""
    settings = Settings(mongo_db="cinestream_repair_test", redis_url=stack.redis_url.rsplit("/", 1)[0] + f"/{REDIS_DB}")
    client = connect(settings)
    db = database(client, settings)
    await client.drop_database(settings.mongo_db)
    await db.movies.insert_many([{"_id": f"m{m}", "movieId": m} for m in REAL])
    now = time.time()
    events = [{"_id": f"e{j}", "type": "rating", "user_id": j % 7, "movie_id": REAL[j % len(REAL)], "rating": 4.5,
               "timestamp": now - 3600 * (j % 48)} for j in range(300)]
    events += [{"_id": "phantom", "type": "rating", "user_id": 3, "movie_id": PHANTOM, "rating": 5.0,
                "timestamp": 4e9}]
    await db.events.insert_many(events)
    # what the unguarded stream did with the phantom event: trending ranks it first for good
    await learn_trending(TrendingStore(redis_db), Trending(), np.array([m["movie_id"] for m in events]),
                         np.ones(len(events)), np.array([m["timestamp"] for m in events]), now=1e12)
    await redis_db.set(model_keys.item_key(PHANTOM), b"row")
    for movie in (PHANTOM, *REAL):
        await redis_db.sadd(model_keys.items_key(model_keys.item_shard(movie)), movie)
    yield settings, db
    await client.drop_database(settings.mongo_db)
    client.close()


async def test_repair_rebuilds_trending_without_phantoms(poisoned: tuple[Settings, AsyncIOMotorDatabase],
                                                         redis_db: aioredis.Redis) -> None:
    settings, _ = poisoned
    store = TrendingStore(redis_db)
    assert (await store.top(1))[0][0] == PHANTOM
    message = await repair(settings, Console(quiet=True))
    assert "300 of 301 stored events" in message and "1 phantom MF item rows deleted" in message
    top = [m for m, _ in await store.top(10)]
    assert PHANTOM not in top and set(top) == set(REAL)
    assert not await redis_db.exists(model_keys.item_key(PHANTOM))
    assert set((await model_store.item_members(redis_db)).tolist()) == set(REAL)
    assert await redis_db.exists(similarity_store.row_key(REAL[0]))  # similarity rebuilt from the same history
