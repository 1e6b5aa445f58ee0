"""The online MF model in Redis, updated one micro-batch at a time with an exactly-once effect.

Layout (float32 rows as raw bytes, see ``online_models.biased_mf``):

- ``mf:u:<user>`` / ``mf:i:<movie>``: a user's / movie's row ``[bias, adagrad, f_1 … f_k]``
- ``mf:items``: the set of movies that have a row (the recommendation candidates)
- ``mf:seen:<user>``: hash movie -> the user's latest rating (excluded from recommendations,
  and the "because you rated …" of a reason)
- ``mf:stats``: ``n`` and ``sum`` of all ratings learned (the global mean)
- ``mf:applied``: per ``topic:partition``, the last Kafka offset whose effect is in Redis
- ``mf:preq``: prequential (test-then-train) error sums: ``n``, ``sse``, ``sae``
- ``mf:curve``: the learning curve, one JSON point per batch (``online_models.prequential``)

A batch costs two round trips: one pipelined read (offsets, rows, stats) and one MULTI/EXEC
that writes the rows *and* the partition's new offset. Either both land or neither does, so a
worker killed mid-batch replays from Kafka's committed offset and skips what was applied.
Each partition has one consumer in a group, so the per-partition offsets never race.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import numpy as np
import redis.asyncio as aioredis

from online_models.biased_mf import BiasedMF, FloatArray, MFBatch
from online_models.prequential import Prequential

APPLIED, STATS, PREQ, ITEMS, CURVE = "mf:applied", "mf:stats", "mf:preq", "mf:items", "mf:curve"
CURVE_POINTS = 5000  # the list is trimmed to the latest points
USER_SALT, ITEM_SALT = 1, 2


def _text(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value


def user_key(user: int) -> str:
    return f"mf:u:{user}"


def item_key(movie: int) -> str:
    return f"mf:i:{movie}"


def seen_key(user: int) -> str:
    return f"mf:seen:{user}"


@dataclass(frozen=True)
class RatingBatch:
    """Ratings of one micro-batch with where each came from in Kafka."""

    topic: str
    partitions: np.ndarray  # int64
    offsets: np.ndarray  # int64
    users: np.ndarray  # int64
    movies: np.ndarray  # int64
    ratings: np.ndarray  # float32


@dataclass(frozen=True)
class ApplyResult:
    applied: int
    skipped: int
    squared_error: float


class ModelStore:
    def __init__(self, redis: aioredis.Redis, model: BiasedMF) -> None:
        self.redis = redis
        self.model = model
        self.tracker = Prequential()

    def _rows(self, ids: np.ndarray, blobs: list[Any], salt: int) -> FloatArray:
        """Decode stored rows in one ``frombuffer``; rows not stored yet get their initial values."""
        rows = self.model.rows_for(ids, salt)
        present = [j for j, blob in enumerate(blobs) if blob is not None]
        if present:
            joined = b"".join(blobs[j] for j in present)
            rows[present] = np.frombuffer(joined, dtype=np.float32).reshape(len(present), -1)
        return rows

    async def apply(self, batch: RatingBatch) -> ApplyResult:
        partitions = np.unique(batch.partitions)
        users, user_index = np.unique(batch.users, return_inverse=True)
        movies, movie_index = np.unique(batch.movies, return_inverse=True)
        fields = [f"{batch.topic}:{p}" for p in partitions]

        async with self.redis.pipeline(transaction=False) as pipe:
            pipe.hmget(APPLIED, fields)
            pipe.mget([user_key(int(u)) for u in users])
            pipe.mget([item_key(int(m)) for m in movies])
            pipe.hmget(STATS, ["n", "sum"])
            pipe.hget(PREQ, "n")
            applied_raw, user_blobs, item_blobs, stats, learned = await pipe.execute()

        applied = {int(p): int(a) if a is not None else -1 for p, a in zip(partitions, applied_raw, strict=True)}
        threshold = np.array([applied[int(p)] for p in batch.partitions], dtype=np.int64)
        fresh = batch.offsets > threshold
        skipped = int((~fresh).sum())
        if not fresh.any():
            return ApplyResult(0, skipped, 0.0)

        user_rows = self._rows(users, user_blobs, USER_SALT)
        item_rows = self._rows(movies, item_blobs, ITEM_SALT)
        n = float(stats[0] or 0)
        total = float(stats[1] or 0)
        global_mean = total / n if n else 3.5
        ratings = batch.ratings[fresh].astype(np.float32)
        mf_batch = MFBatch(user_rows, item_rows, user_index[fresh], movie_index[fresh], ratings)
        predicted = self.model.learn_many(mf_batch, global_mean)
        err = ratings - predicted
        sse = float(np.square(err).sum())
        point = self.tracker.update(err, int(float(learned or 0)))

        # Only partitions with fresh events move, and only forward: a partition whose events in
        # this batch were all replays must keep its (higher) applied offset.
        last = {int(p): int(batch.offsets[fresh & (batch.partitions == p)].max())
                for p in np.unique(batch.partitions[fresh])}
        touched_users = np.unique(user_index[fresh])
        touched_items = np.unique(movie_index[fresh])
        async with self.redis.pipeline(transaction=True) as pipe:
            pipe.mset({user_key(int(users[j])): user_rows[j].tobytes() for j in touched_users})
            pipe.mset({item_key(int(movies[j])): item_rows[j].tobytes() for j in touched_items})
            pipe.sadd(ITEMS, *[int(movies[j]) for j in touched_items])
            for u in np.unique(batch.users[fresh]):
                mine = fresh & (batch.users == u)
                pipe.hset(seen_key(int(u)), mapping=dict(zip(batch.movies[mine].tolist(),
                                                             batch.ratings[mine].tolist(), strict=True)))
            pipe.hincrbyfloat(STATS, "n", float(len(ratings)))
            pipe.hincrbyfloat(STATS, "sum", float(ratings.sum()))
            pipe.hincrbyfloat(PREQ, "n", float(len(ratings)))
            pipe.hincrbyfloat(PREQ, "sse", sse)
            pipe.hincrbyfloat(PREQ, "sae", float(np.abs(err).sum()))
            pipe.rpush(CURVE, json.dumps(point.as_dict()))
            pipe.ltrim(CURVE, -CURVE_POINTS, -1)
            pipe.hset(APPLIED, mapping={f"{batch.topic}:{p}": o for p, o in last.items()})
            await pipe.execute()
        return ApplyResult(int(fresh.sum()), skipped, sse)

    async def recommend(self, user: int, k: int = 10) -> list[tuple[int, float]]:
        """Top-``k`` unseen movies for ``user`` by the current model (empty for an unknown user)."""
        async with self.redis.pipeline(transaction=False) as pipe:
            pipe.get(user_key(user))
            pipe.smembers(ITEMS)
            pipe.hkeys(seen_key(user))
            blob, item_ids, seen = await pipe.execute()
        if blob is None or not item_ids:
            return []
        ids = np.array(sorted(int(i) for i in item_ids), dtype=np.int64)
        blobs = await self.redis.mget([item_key(int(i)) for i in ids])
        items = self._rows(ids, blobs, ITEM_SALT)
        user_row = np.frombuffer(blob, dtype=np.float32)
        return self.model.recommend(user_row, items, ids, k, exclude={int(s) for s in seen})

    async def prequential(self) -> dict[str, float]:
        raw = await self.redis.hgetall(PREQ)
        values = {_text(k): float(v) for k, v in raw.items()}
        n = values.get("n", 0.0)
        return {"n": n, "rmse": (values.get("sse", 0.0) / n) ** 0.5 if n else float("nan"),
                "mae": values.get("sae", 0.0) / n if n else float("nan")}

    async def rated(self, user: int) -> dict[int, float]:
        return {int(m): float(r) for m, r in (await self.redis.hgetall(seen_key(user))).items()}

    async def learning_curve(self) -> list[dict[str, float]]:
        return [json.loads(p) for p in await self.redis.lrange(CURVE, 0, -1)]

    async def applied_offsets(self) -> dict[str, int]:
        return {_text(k): int(v) for k, v in (await self.redis.hgetall(APPLIED)).items()}
