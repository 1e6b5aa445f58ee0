"""One micro-batch of ratings (or watches) learned into the online MF, exactly once shard by shard.

The loop a learning agent runs per batch: read what the batch starts from (``ModelStore.state``,
usually the worker's cache), tell for every event and every shard it touches whether that shard
already holds it (its applied offset for the event's partition), learn, compare-and-write
(``ModelStore.write``); when a write is refused, learn again from the state the refusal brought.

An event normally is either new everywhere or applied everywhere. After a worker died between
two shards' scripts it is half-applied: its user shard holds it and its item shard does not, say.
It is then learned against a scratch copy of the side that holds it, so only the other side
moves, and its statistics count once, in the commit that had not happened.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass

import numpy as np
import redis.asyncio as aioredis

from online_models.biased_mf import BiasedMF, FloatArray, MFBatch
from online_models.prequential import CurvePoint, Prequential
from online_models.residual_knn import Histories, ResidualKNN
from storage import content_store
from storage.model_store import Commit, Learned, ModelStore, State, history_blob, history_records
from storage.row_cache import RowCache

CONTENT_CHECK_S = 30.0
USER_SALT, ITEM_SALT = 1, 2


@dataclass(frozen=True)
class RatingBatch:
    """Ratings (or, with ``watches``, completion ratios) of one micro-batch with where each came from in Kafka."""

    topic: str
    partitions: np.ndarray  # int64
    offsets: np.ndarray  # int64
    users: np.ndarray  # int64
    movies: np.ndarray  # int64
    ratings: np.ndarray  # float32: stars, or a watch's completion in [0, 1]
    watches: bool = False


@dataclass(frozen=True)
class ApplyResult:
    applied: int
    skipped: int
    squared_error: float


@dataclass(frozen=True)
class _Batch:
    """The batch's unique partitions, users and movies, and each event's position in them."""

    partitions: np.ndarray
    part: np.ndarray
    users: np.ndarray
    user: np.ndarray
    movies: np.ndarray
    movie: np.ndarray
    last: np.ndarray  # each partition's highest offset in the batch

    @classmethod
    def of(cls, batch: RatingBatch) -> _Batch:
        partitions, part = np.unique(batch.partitions, return_inverse=True)
        users, user = np.unique(batch.users, return_inverse=True)
        movies, movie = np.unique(batch.movies, return_inverse=True)
        last = np.full(len(partitions), -1, dtype=np.int64)
        np.maximum.at(last, part, batch.offsets)
        return cls(partitions, part, users, user, movies, movie, last)


@dataclass(frozen=True)
class _Fresh:
    """Per event: whether its user shard, its item shard and the commit lack it."""

    user: np.ndarray
    item: np.ndarray
    commit: np.ndarray

    @classmethod
    def of(cls, batch: RatingBatch, b: _Batch, state: State) -> _Fresh:
        return cls(*state.lacking(batch.users, batch.movies, b.part, batch.offsets))

    @property
    def any(self) -> np.ndarray:
        return self.user | self.item | self.commit


def _with_scratch(rows: FloatArray, index: np.ndarray, held: np.ndarray) -> tuple[FloatArray, np.ndarray]:
    """Point the events whose side already holds them at scratch copies of their rows."""
    if not held.any():
        return rows, index
    index = index.copy()
    extra = rows[index[held]]
    index[held] = len(rows) + np.arange(int(held.sum()))
    return np.concatenate([rows, extra]), index


class ExactlyOnceMF:
    """Learns batches into the shards of ``store`` (see the module)."""

    def __init__(self, store: ModelStore, model: BiasedMF, correction: ResidualKNN | None = None) -> None:
        self.store = store
        self.model = model
        self.correction = correction
        self.content: tuple[np.ndarray, np.ndarray] | None = None
        self._next_content_check = 0.0
        self.tracker = Prequential()
        self.conflicts = 0

    @classmethod
    def over(cls, redis: aioredis.Redis, model: BiasedMF, correction: ResidualKNN | None = None,
             cache: RowCache | None = None) -> ExactlyOnceMF:
        return cls(ModelStore(redis, model.width, cache), model, correction)

    async def apply(self, batch: RatingBatch) -> ApplyResult:
        """Apply the batch once, however many times it is delivered and whoever else is writing."""
        # each event's prediction from the first attempt that learned it: a later attempt may find
        # shards that took that attempt's part, and predicting from them would score the event with
        # rows that have already learned it
        predicted = np.full(len(batch.users), np.nan, dtype=np.float32)
        while True:
            result = await self._apply_once(batch, predicted)
            if result is not None:
                return result
            self.conflicts += 1  # another writer came in between: learn again from what it left

    async def _apply_once(self, batch: RatingBatch, predicted: np.ndarray) -> ApplyResult | None:
        b = _Batch.of(batch)
        if self.correction is not None and self.content is None and time.monotonic() >= self._next_content_check:
            # installed by `model publish`; until then no correction (and one look every half minute)
            self.content = await content_store.load(self.store.redis)
            self._next_content_check = time.monotonic() + CONTENT_CHECK_S
        state = await self.store.state(batch.topic, b.partitions, b.users, b.movies)
        fresh = _Fresh.of(batch, b, state)
        if state.cached_applied and not (fresh.user & fresh.item & fresh.commit).all():
            # a skip on the cache's word would write nothing, so nothing would check it: ask Redis
            state = await self.store.state(batch.topic, b.partitions, b.users, b.movies, read_all=True)
            fresh = _Fresh.of(batch, b, state)
        learn = fresh.any
        skipped = int((~fresh.commit).sum())
        if not learn.any():
            return ApplyResult(0, skipped, 0.0)
        learned, commit, sse, curve = self._learn(batch, b, state, fresh, learn, predicted)
        if not await self.store.write(batch.topic, b.partitions, state.applied, state.after(b.last), learned, commit):
            return None
        if curve is not None and self.tracker.observe(curve):
            await self.store.flag_drift(curve.n)  # rare: its own round trip
        return ApplyResult(int(fresh.commit.sum()), skipped, sse)

    def _rows(self, ids: np.ndarray, blobs: list[bytes], salt: int) -> FloatArray:
        """Decode stored rows in one ``frombuffer``; rows not stored yet get their initial values."""
        present = np.fromiter((bool(blob) for blob in blobs), dtype=bool, count=len(blobs))
        if present.all():
            return np.frombuffer(b"".join(blobs), dtype=np.float32).reshape(len(blobs), -1).copy()
        rows = np.empty((len(ids), self.model.width), dtype=np.float32)
        rows[~present] = self.model.rows_for(ids[~present], salt)
        if present.any():
            joined = b"".join(blob for blob in blobs if blob)
            rows[present] = np.frombuffer(joined, dtype=np.float32).reshape(int(present.sum()), -1)
        return rows

    def _learn(self, batch: RatingBatch, b: _Batch, state: State, fresh: _Fresh, learn: np.ndarray,
               predicted: np.ndarray) -> tuple[Learned, Commit, float, CurvePoint | None]:
        """The ``learn`` events learned in order; what changed and the commit. ``predicted``
        keeps each event's first prediction (NaN: none yet), which is the one scored."""
        user_rows = self._rows(b.users, state.user_blobs, USER_SALT)
        item_rows = self._rows(b.movies, state.item_blobs, ITEM_SALT)
        users_ext, user_at = _with_scratch(user_rows, b.user[learn], ~fresh.user[learn])
        items_ext, item_at = _with_scratch(item_rows, b.movie[learn], ~fresh.item[learn])
        ratings = batch.ratings[learn].astype(np.float32)
        mf_batch = MFBatch(users_ext, items_ext, user_at, item_at, ratings)
        counted = fresh.commit[learn]
        histories: list[bytes] = []
        sse, curve, stats = 0.0, None, None
        if batch.watches:
            self.model.learn_watches(mf_batch)
        else:
            estimates = self.model.learn_many(mf_batch, state.mean)
            if self.correction is not None and self.content is not None:
                estimates, histories = self._corrected(estimates, ratings, batch, b, learn & fresh.user,
                                                       fresh.user[learn], state.history_blobs)
            at = np.flatnonzero(learn)
            first = np.isnan(predicted[at])
            predicted[at[first]] = estimates[first]
            errors = (ratings - predicted[at])[counted]
            sse = float(np.square(errors).sum())
            curve = self.tracker.score(errors, state.learned) if len(errors) else None
            stats = (float(counted.sum()), float(ratings[counted].sum()), sse, float(np.abs(errors).sum()))
        user_rows, item_rows = users_ext[:len(b.users)], items_ext[:len(b.movies)]
        users = np.unique(b.user[fresh.user]).tolist()
        movies = np.unique(b.movie[fresh.item]).tolist()
        rated = np.zeros(len(batch.users), dtype=bool) if batch.watches else fresh.user  # watches hide nothing
        learned = Learned(b.users[users], [state.user_blobs[j] for j in users], user_rows[users],
                          b.movies[movies], [state.item_blobs[j] for j in movies], item_rows[movies],
                          batch.users[rated], batch.movies[rated], batch.ratings[rated],
                          [histories[j] for j in users] if histories else [])
        changed = np.unique(batch.movies[fresh.item | fresh.commit])
        point = json.dumps(curve.as_dict()) if curve is not None else ""
        return learned, Commit(stats, point, changed), sse, curve

    def _corrected(self, estimates: FloatArray, ratings: FloatArray, batch: RatingBatch, b: _Batch,
                   own: np.ndarray, own_learned: np.ndarray, blobs: list[bytes]) -> tuple[FloatArray, list[bytes]]:
        """The MF's estimates corrected by each user's recent errors on similar films
        (``online_models.residual_knn``), for the events their user shard lacks (``own``: over the
        batch; ``own_learned``: over the learned events), and each user's new history (``b""``:
        unchanged)."""
        assert self.correction is not None and self.content is not None
        ids, vectors = self.content
        stored = [history_records(blob) for blob in blobs]
        users = b.users
        slots = b.user[own]
        new_counts = np.bincount(slots, minlength=len(users))
        capacity = np.array([len(h) for h in stored]) + new_counts
        movies = np.unique(np.concatenate([batch.movies[own], *(h["movie"] for h in stored)]))
        rows = np.searchsorted(ids, movies)
        known = (rows < len(ids)) & (ids[np.minimum(rows, len(ids) - 1)] == movies)
        local = np.zeros((len(movies), vectors.shape[1]), dtype=np.float32)  # unknown films: no neighbours
        local[known] = vectors[rows[known]]
        start = np.concatenate([[0], np.cumsum(capacity)[:-1]]).astype(np.int64)
        histories = Histories(np.zeros(int(capacity.sum()), np.int64), np.zeros(int(capacity.sum()), np.float32),
                              start, np.array([len(h) for h in stored], dtype=np.int64))
        for slot, h in enumerate(stored):
            histories.items[start[slot]:start[slot] + len(h)] = np.searchsorted(movies, h["movie"])
            histories.errors[start[slot]:start[slot] + len(h)] = h["error"]
        corrected = estimates.copy()
        corrected[own_learned] += self.correction.correct(
            histories, slots, np.searchsorted(movies, batch.movies[own]),
            ratings[own_learned] - estimates[own_learned], local)
        packed = [b""] * len(users)
        for slot in np.flatnonzero(new_counts).tolist():
            items, errors = histories.of(slot, self.correction.history)
            packed[slot] = history_blob(movies[items], errors)
        return np.clip(corrected, 0.5, 5.0).astype(np.float32), packed

