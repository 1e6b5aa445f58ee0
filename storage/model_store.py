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

A batch costs two round trips, each one Lua script: a read (offsets, rows, stats) and a write of
the rows *and* the partition's new offset. A script runs atomically: either both land or
neither does, so a worker killed mid-batch replays from Kafka's committed offset and skips what
was applied.

Several workers share the item rows (a movie is rated on every partition), so a batch is an
optimistic transaction: the write script first compares the offsets and every row it is about to
replace with what the read returned, byte for byte, and if another worker wrote any of them in
between it writes nothing and the batch is recomputed from the fresh state (as WATCH/MULTI would,
without redis-py packing a key and a row per command argument). The result is always that of
some serial order of batches: no update is lost to a race.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from functools import cached_property
from typing import Any

import numpy as np
import redis.asyncio as aioredis

from online_models.biased_mf import BiasedMF, FloatArray, MFBatch
from online_models.prequential import Prequential
from online_models.residual_knn import Histories, ResidualKNN
from storage import content_store

APPLIED, STATS, PREQ, ITEMS, CURVE = "mf:applied:", "mf:stats", "mf:preq", "mf:items", "mf:curve"
CURVE_POINTS = 5000  # the list is trimmed to the latest points
CONTENT_CHECK_S = 30.0
HISTORY_RECORD = np.dtype([("movie", "<i8"), ("error", "<f4")])  # ``mf:h:<user>``: recent MF errors
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


# The read and the compare-and-write of a batch as two scripts over packed binary arguments:
# redis-py packs every command argument in Python, and with a key and a row per user and movie
# that packing was half of a batch's time. Ids travel as one int64 string, rows as one blob.
# Keys are computed inside the scripts (as in ``storage.similarity_store``), which Redis Cluster
# forbids: a cluster deployment needs the MF keys under one hash tag (noted in the README).
READ_LUA = """
local topic, partitions, users, items = ARGV[1], ARGV[2], ARGV[3], ARGV[4]
local function keys(prefix, packed, format, size)
  local out = {}
  for pos = 1, #packed, size do out[#out + 1] = prefix .. struct.unpack(format, packed, pos) end
  return out
end
local function mget(list)  -- in slices: Lua's unpack is bounded by its stack
  local out = {}
  for first = 1, #list, 1000 do
    local values = redis.call('MGET', unpack(list, first, math.min(first + 999, #list)))
    for _, v in ipairs(values) do out[#out + 1] = v or '' end
  end
  return out
end
local applied = mget(keys('mf:applied:' .. topic .. ':', partitions, '<i4', 4))
for j, v in ipairs(applied) do if v == '' then applied[j] = '-1' end end
local stats = redis.call('HMGET', 'mf:stats', 'n', 'sum')
return {applied, mget(keys('mf:u:', users, '<i8', 8)), mget(keys('mf:i:', items, '<i8', 8)),
        stats[1] or '0', stats[2] or '0', redis.call('HGET', 'mf:preq', 'n') or '0',
        mget(keys('mf:h:', users, '<i8', 8))}
"""

# Writes the batch only if nothing it read has changed since (offsets and every row, compared
# byte for byte): the same guarantee as WATCH/MULTI, in one round trip. Returns 0 on a conflict.
# Commands take many keys or fields each (MGET, MSET, SADD, HSET): a Redis call per row was
# most of the script's time.
WRITE_LUA = """
local topic, partitions, expected_offsets, new_offsets = ARGV[1], ARGV[2], ARGV[3], ARGV[4]
local width = tonumber(ARGV[5])
local user_ids, user_seen, user_old, user_new, user_touched = ARGV[6], ARGV[7], ARGV[8], ARGV[9], ARGV[10]
local item_ids, item_seen, item_old, item_new, item_touched = ARGV[11], ARGV[12], ARGV[13], ARGV[14], ARGV[15]
local seen, stats, point, cap = ARGV[16], ARGV[17], ARGV[18], tonumber(ARGV[19])
local history_sizes, histories = ARGV[20], ARGV[21]
local SLICE = 1000
local function call_sliced(command, head, list, step)
  local out = {}
  for first = 1, #list, SLICE * step do
    local args = {}
    if head then args[1] = head end
    for j = first, math.min(first + SLICE * step - 1, #list) do args[#args + 1] = list[j] end
    local reply = redis.call(command, unpack(args))
    if type(reply) == 'table' then for _, v in ipairs(reply) do out[#out + 1] = v end end
  end
  return out
end
local prefix = 'mf:applied:' .. topic .. ':'
local offset_keys = {}
for pos = 1, #partitions, 4 do offset_keys[#offset_keys + 1] = prefix .. struct.unpack('<i4', partitions, pos) end
local current = call_sliced('MGET', nil, offset_keys, 1)
for j = 1, #offset_keys do
  if tonumber(current[j] or '-1') ~= struct.unpack('<i8', expected_offsets, 8 * j - 7) then return 0 end
end
local function row_keys(prefix, ids)
  local out = {}
  for pos = 1, #ids, 8 do out[#out + 1] = prefix .. struct.unpack('<i8', ids, pos) end
  return out
end
local function unchanged(keys, present, old)
  local now = call_sliced('MGET', nil, keys, 1)
  for j = 1, #keys do
    if string.byte(present, j) == 1 then
      if now[j] ~= string.sub(old, width * (j - 1) + 1, width * j) then return false end
    elseif now[j] then return false end
  end
  return true
end
local user_keys, item_keys = row_keys('mf:u:', user_ids), row_keys('mf:i:', item_ids)
if not unchanged(user_keys, user_seen, user_old) or not unchanged(item_keys, item_seen, item_old) then
  return 0
end
local function write(keys, ids, rows, touched, set)
  local pairs_, members = {}, {}
  for j = 1, #keys do
    if string.byte(touched, j) == 1 then
      pairs_[#pairs_ + 1] = keys[j]
      pairs_[#pairs_ + 1] = string.sub(rows, width * (j - 1) + 1, width * j)
      members[#members + 1] = struct.unpack('<i8', ids, 8 * j - 7)
    end
  end
  if #pairs_ > 0 then call_sliced('MSET', nil, pairs_, 2) end
  if set and #members > 0 then call_sliced('SADD', set, members, 1) end
end
write(user_keys, user_ids, user_new, user_touched, nil)
local at = 1
for j = 1, #history_sizes / 4 do  -- each user's recent (movie, MF error) pairs, when the batch has them
  local size = struct.unpack('<i4', history_sizes, 4 * j - 3)
  if size > 0 then
    redis.call('SET', 'mf:h:' .. struct.unpack('<i8', user_ids, 8 * j - 7), string.sub(histories, at, at + size - 1))
  end
  at = at + size
end
write(item_keys, item_ids, item_new, item_touched, 'mf:items')
local by_user = {}
for pos = 1, #seen, 20 do
  local user, movie, rating = struct.unpack('<i8i8f', seen, pos)
  local fields = by_user[user]
  if not fields then fields = {}; by_user[user] = fields end
  fields[#fields + 1] = movie
  fields[#fields + 1] = tostring(rating)
end
for user, fields in pairs(by_user) do call_sliced('HSET', 'mf:seen:' .. user, fields, 2) end
if #point > 0 then  -- a batch of ratings (watches carry no stars and no prediction to score)
  local n, sum, sse, sae = struct.unpack('<ffff', stats)
  redis.call('HINCRBYFLOAT', 'mf:stats', 'n', n)
  redis.call('HINCRBYFLOAT', 'mf:stats', 'sum', sum)
  redis.call('HINCRBYFLOAT', 'mf:preq', 'n', n)
  redis.call('HINCRBYFLOAT', 'mf:preq', 'sse', sse)
  redis.call('HINCRBYFLOAT', 'mf:preq', 'sae', sae)
  redis.call('RPUSH', 'mf:curve', point)
  redis.call('LTRIM', 'mf:curve', -cap, -1)
end
for pos = 1, #new_offsets, 12 do
  local p, o = struct.unpack('<i4i8', new_offsets, pos)
  redis.call('SET', prefix .. p, o)
end
return 1
"""


def _ids(values: np.ndarray) -> bytes:
    return np.ascontiguousarray(values, dtype="<i8").tobytes()


@dataclass(frozen=True)
class _Snapshot:
    """What a batch read: its unique partitions, users and movies, and their state in Redis."""

    partitions: np.ndarray
    applied: np.ndarray  # each partition's last applied offset (-1: none yet)
    users: np.ndarray
    user_index: np.ndarray  # event -> position in ``users``
    user_blobs: list[Any]  # stored rows (empty: none yet)
    movies: np.ndarray
    movie_index: np.ndarray
    item_blobs: list[Any]
    mean: float  # of all ratings learned so far
    learned: int  # ratings learned so far (the learning curve's x)
    history_blobs: list[Any]  # users' recent MF errors (``mf:h:<user>``)


@dataclass(frozen=True)
class _Learned:
    """A batch learned: the updated rows, and for ratings the prequential errors and curve point."""

    user_rows: FloatArray
    item_rows: FloatArray
    ratings: FloatArray
    errors: FloatArray
    point: str
    histories: list[bytes]

    @cached_property
    def sse(self) -> float:
        return float(np.square(self.errors).sum())


class ModelStore:
    def __init__(self, redis: aioredis.Redis, model: BiasedMF, correction: ResidualKNN | None = None) -> None:
        self.redis = redis
        self.model = model
        self.correction = correction
        self.content: tuple[np.ndarray, np.ndarray] | None = None
        self._next_content_check = 0.0
        self.tracker = Prequential()
        self.conflicts = 0
        self._read = redis.register_script(READ_LUA)
        self._write = redis.register_script(WRITE_LUA)

    def _rows(self, ids: np.ndarray, blobs: list[Any], salt: int) -> FloatArray:
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

    async def apply(self, batch: RatingBatch) -> ApplyResult:
        """Apply the batch once, however many times it is delivered and whoever else is writing."""
        while True:
            result = await self._apply_once(batch)
            if result is not None:
                return result
            self.conflicts += 1  # another worker wrote a row we read: recompute from fresh state

    async def _apply_once(self, batch: RatingBatch) -> ApplyResult | None:
        """Read, learn, compare-and-write; ``None`` when another writer came in between."""
        snap = await self._snapshot(batch)
        fresh = batch.offsets > snap.applied[np.searchsorted(snap.partitions, batch.partitions)]
        skipped = int((~fresh).sum())
        if not fresh.any():
            return ApplyResult(0, skipped, 0.0)
        learned = self._learn(batch, snap, fresh)
        if not await self._write(args=self._write_args(batch, snap, fresh, learned)):
            if learned.point:
                self.tracker.undo()  # the batch will be scored again, from the fresh state
            return None
        return ApplyResult(int(fresh.sum()), skipped, learned.sse)

    async def _snapshot(self, batch: RatingBatch) -> _Snapshot:
        """One round trip: the partitions' applied offsets and everything the batch's events touch."""
        partitions = np.unique(batch.partitions)
        users, user_index = np.unique(batch.users, return_inverse=True)
        movies, movie_index = np.unique(batch.movies, return_inverse=True)
        if self.correction is not None and self.content is None and time.monotonic() >= self._next_content_check:
            # installed by `model publish`; until then no correction (and one look every half minute)
            self.content = await content_store.load(self.redis)
            self._next_content_check = time.monotonic() + CONTENT_CHECK_S
        applied, user_blobs, item_blobs, n, total, learned, history_blobs = await self._read(
            args=[batch.topic, np.ascontiguousarray(partitions, dtype="<i4").tobytes(), _ids(users), _ids(movies)])
        return _Snapshot(partitions, np.array([int(a) for a in applied], dtype=np.int64), users, user_index,
                         user_blobs, movies, movie_index, item_blobs,
                         float(total) / float(n) if float(n) else 3.5, int(float(learned)), history_blobs)

    def _learn(self, batch: RatingBatch, snap: _Snapshot, fresh: np.ndarray) -> _Learned:
        """The batch's fresh events learned in order from the snapshot's rows."""
        user_rows = self._rows(snap.users, snap.user_blobs, USER_SALT)
        item_rows = self._rows(snap.movies, snap.item_blobs, ITEM_SALT)
        ratings = batch.ratings[fresh].astype(np.float32)
        mf_batch = MFBatch(user_rows, item_rows, snap.user_index[fresh], snap.movie_index[fresh], ratings)
        if batch.watches:
            self.model.learn_watches(mf_batch)
            return _Learned(user_rows, item_rows, np.zeros(0, np.float32), np.zeros(0, np.float32), "", [b"", b""])
        estimates = self.model.learn_many(mf_batch, snap.mean)
        histories = [b"", b""]  # (sizes, blobs) of the users' residual histories, when corrected
        if self.correction is not None and self.content is not None:
            estimates, histories = self._corrected(estimates, ratings, batch, fresh, snap.users, snap.user_index,
                                                   snap.history_blobs)
        errors = ratings - estimates
        point = json.dumps(self.tracker.update(errors, snap.learned).as_dict())
        return _Learned(user_rows, item_rows, ratings, errors, point, histories)

    def _write_args(self, batch: RatingBatch, snap: _Snapshot, fresh: np.ndarray, learned: _Learned) -> list[Any]:
        """The compare-and-write script's arguments: what was read (to compare) and what to write."""
        # Only partitions with fresh events move, and only forward: a partition whose events in
        # this batch were all replays must keep its (higher) applied offset.
        moved = np.unique(batch.partitions[fresh])
        last = np.array([batch.offsets[fresh & (batch.partitions == p)].max() for p in moved], dtype=np.int64)
        new_offsets = np.empty(len(moved), dtype=[("p", "<i4"), ("o", "<i8")])
        new_offsets["p"], new_offsets["o"] = moved, last
        seen = np.empty(0 if batch.watches else int(fresh.sum()), dtype=[("u", "<i8"), ("m", "<i8"), ("r", "<f4")])
        if not batch.watches:  # what a user rated; a watch alone does not hide a film from suggestions
            seen["u"], seen["m"], seen["r"] = batch.users[fresh], batch.movies[fresh], batch.ratings[fresh]
        err = learned.errors
        stats = np.array([len(learned.ratings), learned.ratings.sum(), learned.sse, np.abs(err).sum()],
                         dtype="<f4")  # ratings only
        width = self.model.width * 4

        def present(blobs: list[Any]) -> bytes:
            return bytes(1 if blob else 0 for blob in blobs)

        def old(blobs: list[Any]) -> bytes:
            return b"".join(blob if blob else bytes(width) for blob in blobs)

        def touched(index: np.ndarray, count: int) -> bytes:
            mask = np.zeros(count, dtype=np.uint8)
            mask[index[fresh]] = 1  # rows only replayed events touched are not written
            return mask.tobytes()

        return [batch.topic, np.ascontiguousarray(snap.partitions, dtype="<i4").tobytes(), _ids(snap.applied),
                new_offsets.tobytes(), width,
                _ids(snap.users), present(snap.user_blobs), old(snap.user_blobs), learned.user_rows.tobytes(),
                touched(snap.user_index, len(snap.users)),
                _ids(snap.movies), present(snap.item_blobs), old(snap.item_blobs), learned.item_rows.tobytes(),
                touched(snap.movie_index, len(snap.movies)),
                seen.tobytes(), stats.tobytes(), learned.point, CURVE_POINTS, *learned.histories]

    def _corrected(self, estimates: FloatArray, ratings: FloatArray, batch: RatingBatch, fresh: np.ndarray,
                   users: np.ndarray, user_index: np.ndarray, blobs: list[Any]) -> tuple[FloatArray, list[bytes]]:
        """The MF's estimates corrected by each user's recent errors on similar films
        (``online_models.residual_knn``), and the users' updated histories, packed for the write."""
        assert self.correction is not None and self.content is not None
        ids, vectors = self.content
        stored = [np.frombuffer(b, dtype=HISTORY_RECORD) if b else np.zeros(0, HISTORY_RECORD) for b in blobs]
        slots = user_index[fresh]
        new_counts = np.bincount(slots, minlength=len(users))
        capacity = np.array([len(h) for h in stored]) + new_counts
        movies = np.unique(np.concatenate([batch.movies[fresh], *(h["movie"] for h in stored)]))
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
        corrections = self.correction.correct(histories, slots, np.searchsorted(movies, batch.movies[fresh]),
                                              ratings - estimates, local)
        sizes, packed = np.zeros(len(users), dtype="<i4"), []
        for slot in np.flatnonzero(new_counts).tolist():
            items, errors = histories.of(slot, self.correction.history)
            record = np.empty(len(items), dtype=HISTORY_RECORD)
            record["movie"], record["error"] = movies[items], errors
            packed.append(record.tobytes())
            sizes[slot] = record.nbytes
        return np.clip(estimates + corrections, 0.5, 5.0).astype(np.float32), [sizes.tobytes(), b"".join(packed)]

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

    async def applied_for(self, topic: str, partitions: list[int]) -> dict[int, int]:
        """The last applied offset of each of ``topic``'s ``partitions`` that has one."""
        values = await self.redis.mget([applied_key(topic, p) for p in partitions]) if partitions else []
        return {p: int(v) for p, v in zip(partitions, values, strict=True) if v is not None}

    async def applied_offsets(self) -> dict[str, int]:
        keys = [key async for key in self.redis.scan_iter(match=APPLIED + "*")]
        values = await self.redis.mget(keys) if keys else []
        return {_text(k).removeprefix(APPLIED): int(v) for k, v in zip(keys, values, strict=True) if v is not None}
