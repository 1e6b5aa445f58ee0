"""Shared fixtures. Integration tests use the real local stack (started here if it is not up)
and a database of their own, so they never touch the main job's data."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest
import redis.asyncio as aioredis
from motor.motor_asyncio import AsyncIOMotorDatabase

os.environ.setdefault("CINESTREAM_MONGO_DB", "cinestream_test")
# The tests' apps share the event loop with the tests' own fits and builds, which block it for longer
# than overload would: refusing past capacity is tested on its own (test_admission.py).
os.environ.setdefault("CINESTREAM_API_SHED_LAG_MS", "0")

from core.settings import Settings
from storage.mongo import connect, database


@pytest.fixture(scope="session")
def settings() -> Settings:
    return Settings()


@pytest.fixture(scope="session")
def data_dir(settings: Settings) -> Path:
    if not (settings.data_dir / "ml-latest-small" / "ratings.csv").exists():
        pytest.fail(f"no datasets under {settings.data_dir}: set CINESTREAM_DATA_DIR (see README)")
    return settings.data_dir


@pytest.fixture(scope="session")
def stack(settings: Settings) -> Settings:
    from deploy.local import stack as local_stack

    local_stack.up(settings)
    if settings.mongo_db.endswith("_test"):
        # Each run replays the events it needs; kept across runs on one machine, they piled up (400,000
        # after a day) and FerretDB scans them for any filter but `_id` (11 s a query).
        from pymongo import MongoClient

        with MongoClient(settings.mongo_uri) as client:
            client[settings.mongo_db].events.drop()
    return settings


@pytest.fixture(scope="session")
async def db(stack: Settings) -> AsyncIterator[AsyncIOMotorDatabase]:
    client = connect(stack)
    yield database(client, stack)
    client.close()


@pytest.fixture(scope="session")
async def built_catalogue(stack: Settings, db: AsyncIOMotorDatabase, data_dir: Path) -> str:
    """The real catalogue in the test database (built once; later builds are no-ops)."""
    from rich.console import Console

    from jobs.catalogue import run_build

    return await run_build(stack, Console(quiet=True))


@pytest.fixture()
async def redis_db(stack: Settings, request: pytest.FixtureRequest) -> AsyncIterator[aioredis.Redis]:
    """An empty Redis database of the test module's own (its ``REDIS_DB`` number), emptied after."""
    client = aioredis.Redis.from_url(stack.redis_url.rsplit("/", 1)[0] + f"/{request.module.REDIS_DB}")
    await client.flushdb()
    yield client
    await client.flushdb()
    await client.aclose()


@pytest.fixture(scope="session")
def cluster_nodes() -> Iterator[list[Any]]:
    """A Redis Cluster of three masters of the tests' own (deploy/local/redis_cluster.py), on
    ``CINESTREAM_TEST_REDIS_CLUSTER_PORT`` and the two ports 100 and 200 above it; removed after."""
    from deploy.local import redis_cluster

    with redis_cluster.running(int(os.environ.get("CINESTREAM_TEST_REDIS_CLUSTER_PORT", "17379"))) as members:
        yield members
