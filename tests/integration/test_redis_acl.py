"""Redis with ACL users (``CINESTREAM_REDIS_ACL``), on a Redis server of the test's own: the stream
learns as the worker, the API serves and keeps its counters as the api user, and everything else —
no password, a wrong one, the API writing the model, anyone flushing — is refused."""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import redis.asyncio as aioredis
from redis.exceptions import AuthenticationError, NoPermissionError, ResponseError

from core.settings import Settings
from deploy.local.redis_server import RedisServer
from online_models.biased_mf import BiasedMF
from storage import erasure, event_ids, model_versions, rate_limits
from storage.model_keys import STATS, item_key, user_key
from storage.models import Models
from streams.mf_learning import ExactlyOnceMF, RatingBatch

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def secured() -> Iterator[Settings]:
    folder = Path(tempfile.mkdtemp(prefix="cinestream-redis-acl-"))
    own = Settings(stack_dir=folder, redis_port=int(os.environ.get("CINESTREAM_TEST_ACL_REDIS_PORT", "16479")),
                   redis_acl=True)
    server = RedisServer(own)
    try:
        server.start()
        yield own
    finally:
        server.stop()
        shutil.rmtree(folder, ignore_errors=True)


def _as(own: Settings, user: str) -> aioredis.Redis:
    return aioredis.Redis.from_url(Settings(stack_dir=own.stack_dir, redis_port=own.redis_port, redis_acl=True,
                                            redis_user=user).redis_url)


@pytest.fixture()
async def clients(secured: Settings) -> AsyncIterator[dict[str, aioredis.Redis]]:
    made = {user: _as(secured, user) for user in ("admin", "worker", "api")}
    await made["admin"].flushdb()
    yield made
    for client in made.values():
        await client.aclose()


async def test_no_password_or_a_wrong_one_is_refused(secured: Settings) -> None:
    anonymous = aioredis.Redis(port=secured.redis_port)
    with pytest.raises((AuthenticationError, ResponseError), match=r"(?i)auth"):
        await anonymous.ping()
    await anonymous.aclose()
    guessed = aioredis.Redis(port=secured.redis_port, username="worker", password="guessed")
    with pytest.raises(AuthenticationError):
        await guessed.ping()
    await guessed.aclose()


async def test_the_worker_learns_and_the_api_serves_but_cannot_write_the_model(
        clients: dict[str, aioredis.Redis], data_dir: Path) -> None:
    ratings = pd.read_csv(data_dir / "ml-latest-small" / "ratings.csv").iloc[:3000]
    users, movies = ratings["userId"].to_numpy(), ratings["movieId"].to_numpy()
    batch = RatingBatch("ratings", users % 4, np.arange(len(ratings)), users, movies,
                        ratings["rating"].to_numpy(np.float32))
    # the stream's real write path (Lua scripts, pipelines) as the worker
    await ExactlyOnceMF.over(clients["worker"], BiasedMF(n_factors=32, seed=0)).apply(batch)
    user = int(users[0])
    # the API's real read path as the api user
    models = Models.over(clients["api"])
    await models.items.refresh()
    top, rated, _ = await models.items.recommend(user, 10)
    assert len(top) == 10 and set(rated) == set(movies[users == user].tolist())
    assert not {m for m, _ in top} & set(rated)
    # what the API owns: rate limits, claimed event ids, a person's own rows on erasure
    await rate_limits.hit(clients["api"], "events", "key:test", 600, 60)
    assert await event_ids.claim(clients["api"], "key:test", ["a", "a"]) == [True, False]
    # what it does not: the model's rows and statistics, a rollback, flushing
    for write in (clients["api"].set(item_key(int(movies[0])), b"poison"), clients["api"].hset(STATS, "n", 0),
                  clients["api"].flushdb()):
        with pytest.raises(NoPermissionError):
            await write
    version = await model_versions.snapshot(clients["admin"], "before")
    with pytest.raises(NoPermissionError):
        await model_versions.rollback(clients["api"], version)
    assert await erasure.forget_users(clients["api"], [user]) >= 2
    assert await clients["admin"].exists(user_key(user)) == 0
    # the worker may write everything the stream writes, but not administer Redis
    for command in (clients["worker"].flushall(), clients["worker"].config_get("*"),
                    clients["worker"].execute_command("ACL", "LIST")):
        with pytest.raises(NoPermissionError):
            await command
