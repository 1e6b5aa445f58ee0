"""The online MF model in Redis, updated one micro-batch at a time with an exactly-once effect.

Layout (float32 rows as raw bytes, see ``online_models.biased_mf``):

- ``mf:u:<user>`` / ``mf:i:<movie>``: a user's / movie's row ``[bias, adagrad, f_1 … f_k]``
- ``mf:items``: the set of movies that have a row (the recommendation candidates)
- ``mf:seen:<user>``: hash movie -> the user's latest rating (excluded from recommendations,
  and the "because you rated …" of a reason)
- ``mf:stats``: ``n`` and ``sum`` of all ratings learned (the global mean)
- ``mf:applied:<topic>:<partition>``: the last Kafka offset whose effect is in Redis
- ``mf:preq``: prequential (test-then-train) error sums: ``n``, ``sse``, ``sae``
- ``mf:curve``: the learning curve, one JSON point per batch (``online_models.prequential``)

A batch costs two round trips: one pipelined read (offsets, rows, stats) and one MULTI/EXEC
that writes the rows *and* the partition's new offset. Either both land or neither does, so a
worker killed mid-batch replays from Kafka's committed offset and skips what was applied.

Several workers share the item rows (a movie is rated on every partition), so a batch is an
optimistic transaction: it WATCHes the rows it reads and its partitions' offsets, and if another
worker wrote any of them first, EXEC fails and the batch is recomputed from the fresh state.
The result is always that of some serial order of batches: no update is lost to a race.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import numpy as np
import redis.asyncio as aioredis
from redis.exceptions import WatchError

from online_models.biased_mf import BiasedMF, FloatArray, MFBatch
from online_models.prequential import Prequential

APPLIED, STATS, PREQ, ITEMS, CURVE = "mf:applied:", "mf:stats", "mf:preq", "mf:items", "mf:curve"
CURVE_POINTS = 5000  # the list is trimmed to the latest points
USER_SALT, ITEM_SALT = 1, 2


def _text(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value


def applied_key(topic: str, partition: int) -> str:
    return f"{APPLIED}{topic}:{partition}"


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
        self.conflicts = 0

    def _rows(self, ids: np.ndarray, blobs: list[Any], salt: int) -> FloatArray:
        """Decode stored rows in one ``frombuffer``; rows not stored yet get their initial values."""
        rows = self.model.rows_for(ids, salt)
        present = [j for j, blob in enumerate(blobs) if blob is not None]
        if present:
            joined = b"".join(blobs[j] for j in present)
            rows[present] = np.frombuffer(joined, dtype=np.float32).reshape(len(present), -1)
        return rows

    async def apply(self, batch: RatingBatch) -> ApplyResult:
        """Apply the batch once, however many times it is delivered and whoever else is writing."""
        while True:
            try:
                return await self._apply_once(batch)
            except WatchError:
                self.conflicts += 1  # another worker wrote a row we read: recompute from fresh state

    async def _apply_once(self, batch: RatingBatch) -> ApplyResult:
        partitions = np.unique(batch.partitions)
        users, user_index = np.unique(batch.users, return_inverse=True)
        movies, movie_index = np.unique(batch.movies, return_inverse=True)
        offset_keys = [applied_key(batch.topic, int(p)) for p in partitions]
        user_keys = [user_key(int(u)) for u in users]
        movie_keys = [item_key(int(m)) for m in movies]

        async with self.redis.pipeline(transaction=True) as tx:
            await tx.watch(*offset_keys, *user_keys, *movie_keys)
            async with self.redis.pipeline(transaction=False) as read:
                read.mget(offset_keys)
                read.mget(user_keys)
                read.mget(movie_keys)
                read.hmget(STATS, ["n", "sum"])
                read.hget(PREQ, "n")
                applied_raw, user_blobs, item_blobs, stats, learned = await read.execute()

            applied = {int(p): int(a) if a is not None else -1
                       for p, a in zip(partitions, applied_raw, strict=True)}
            threshold = np.array([applied[int(p)] for p in batch.partitions], dtype=np.int64)
            fresh = batch.offsets > threshold
            skipped = int((~fresh).sum())
            if not fresh.any():
                await tx.reset()
                return ApplyResult(0, skipped, 0.0)

            user_rows = self._rows(users, user_blobs, USER_SALT)
            item_rows = self._rows(movies, item_blobs, ITEM_SALT)
            n, total = float(stats[0] or 0), float(stats[1] or 0)
            ratings = batch.ratings[fresh].astype(np.float32)
            mf_batch = MFBatch(user_rows, item_rows, user_index[fresh], movie_index[fresh], ratings)
            err = ratings - self.model.learn_many(mf_batch, total / n if n else 3.5)
            sse = float(np.square(err).sum())
            point = self.tracker.update(err, int(float(learned or 0)))

            # Only partitions with fresh events move, and only forward: a partition whose events in
            # this batch were all replays must keep its (higher) applied offset.
            last = {int(p): int(batch.offsets[fresh & (batch.partitions == p)].max())
                    for p in np.unique(batch.partitions[fresh])}
            touched_users = np.unique(user_index[fresh])
            touched_items = np.unique(movie_index[fresh])
            tx.multi()
            tx.mset({user_keys[j]: user_rows[j].tobytes() for j in touched_users})
            tx.mset({movie_keys[j]: item_rows[j].tobytes() for j in touched_items})
            tx.sadd(ITEMS, *[int(movies[j]) for j in touched_items])
            for u in np.unique(batch.users[fresh]):
                mine = fresh & (batch.users == u)
                tx.hset(seen_key(int(u)), mapping=dict(zip(batch.movies[mine].tolist(),
                                                           batch.ratings[mine].tolist(), strict=True)))
            tx.hincrbyfloat(STATS, "n", float(len(ratings)))
            tx.hincrbyfloat(STATS, "sum", float(ratings.sum()))
            tx.hincrbyfloat(PREQ, "n", float(len(ratings)))
            tx.hincrbyfloat(PREQ, "sse", sse)
            tx.hincrbyfloat(PREQ, "sae", float(np.abs(err).sum()))
            tx.rpush(CURVE, json.dumps(point.as_dict()))
            tx.ltrim(CURVE, -CURVE_POINTS, -1)
            tx.mset({applied_key(batch.topic, p): o for p, o in last.items()})
            await tx.execute()
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
        keys = [key async for key in self.redis.scan_iter(match=APPLIED + "*")]
        values = await self.redis.mget(keys) if keys else []
        return {_text(k).removeprefix(APPLIED): int(v) for k, v in zip(keys, values, strict=True) if v is not None}
