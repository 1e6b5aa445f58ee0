"""A release's ratings in MongoDB: per-person column documents, loaded resumably, read back exactly."""

from __future__ import annotations

import uuid

import numpy as np
import pandas as pd
import pytest
from motor.motor_asyncio import AsyncIOMotorDatabase

from storage import rating_store

pytestmark = pytest.mark.integration


def release(rng: np.random.Generator, n: int) -> pd.DataFrame:
    users = rng.integers(1, 30, n)
    users[:40] = 99  # one person with more ratings than a document's part holds
    ratings = rng.integers(1, 11, n) / 2
    return pd.DataFrame({"userId": users, "movieId": rng.integers(1, 500, n), "rating": ratings,
                         "timestamp": rng.integers(0, 10**9, n), "centred": ratings - 3.0, "z": ratings / 2})


def as_set(frame: pd.DataFrame) -> set[tuple[int, int, float, int]]:
    return set(frame[["userId", "movieId", "rating", "timestamp"]].itertuples(index=False, name=None))


async def test_a_load_is_exact_resumable_and_writes_only_what_differs(
        db: AsyncIOMotorDatabase, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(rating_store, "PART", 16)
    monkeypatch.setattr(rating_store, "INSERT_CHUNK", 50)
    own = db.client[f"ratings_{uuid.uuid4().hex[:8]}"]
    rng = np.random.default_rng(3)
    ratings = release(rng, 600)
    ratings = pd.concat([ratings, ratings.iloc[:5]])  # the same rating twice in a release is kept once
    try:
        first = await rating_store.load(own, ratings, "movielens")
        assert first["ratings"] == 600 and first["written"] == first["documents"]
        assert await own.ratings.count_documents({"userId": 99}) == 3  # 40+ ratings in parts of 16
        assert as_set(await rating_store.all_ratings(own)) == as_set(ratings)
        mine = await rating_store.of_user(own, 99)
        assert [r["timestamp"] for r in mine] == sorted(r["timestamp"] for r in mine)
        assert len(mine) == int((ratings.drop_duplicates(["userId", "movieId", "timestamp"])["userId"] == 99).sum())

        # An interrupted load (documents missing) and a changed release: only those are written.
        parts = {u: await own.ratings.count_documents({"userId": u}) for u in (1, 2, 3, 4)}
        await own.ratings.delete_many({"userId": {"$in": [1, 2]}})
        changed = ratings.copy()
        changed.loc[changed["userId"] == 3, "rating"] = 0.5
        gone = changed[changed["userId"] != 4]
        seen: list[int] = []
        second = await rating_store.load(own, gone, "movielens", progress=seen.append)
        assert sum(seen) == second["ratings"] == first["ratings"] - int((ratings["userId"] == 4).sum())
        assert second["deleted"] == parts[4] and second["rewritten"] == parts[3]
        assert second["written"] == parts[1] + parts[2] + parts[3]
        assert as_set(await rating_store.all_ratings(own)) == as_set(gone)
        third = await rating_store.load(own, gone, "movielens")
        assert third["written"] == third["deleted"] == 0
    finally:
        await db.client.drop_database(own.name)
