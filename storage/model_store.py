"""The online MF model in Redis, updated one micro-batch at a time with an exactly-once effect.

Layout (float32 rows as raw bytes, see ``online_models.biased_mf``):

- ``mf:u:<user>`` / ``mf:i:<movie>``: a user's / movie's row ``[bias, adagrad, f_1 … f_k]``
- ``mf:items``: the set of movies that have a row (the recommendation candidates)
- ``mf:seen:<user>``: hash movie -> the user's latest rating (excluded from recommendations,
  and the "because you rated …" of a reason); ``mf:seen-v:<user>``: the ``mf:item-seq`` of the
  batch that last changed it, so the API processes re-read the hash only when it changed
- ``mf:stats``: ``n`` and ``sum`` of all ratings learned (the global mean)
- ``mf:applied:<topic>:<partition>``: the last Kafka offset whose effect is in Redis
- ``mf:preq``: prequential (test-then-train) error sums: ``n``, ``sse``, ``sae``
- ``mf:curve``: the learning curve, one JSON point per batch (``online_models.prequential``)
- ``mf:drifts``: where on that curve a worker's drift detector flagged a drift (``n``)

A batch usually costs one round trip: a Lua script that writes the rows *and* the partition's new
offset, learned from what ``storage.row_cache`` holds from the previous batches (rows it lacks are
guessed new). A Lua read comes first only when nothing is cached yet or recent guesses were wrong.
A script runs atomically: either both land or neither does, so a worker killed mid-batch replays
from Kafka's committed offset and skips what was applied.

Several workers share the item rows (a movie is rated on every partition), so a batch is an
optimistic transaction: the write script first compares the offsets and every row it is about to
replace with what the batch started from, byte for byte, and if another worker wrote any of them
since, it writes nothing, answers with the current state, and the batch is recomputed from that
(as WATCH/MULTI would, without redis-py packing a key and a row per command argument). The result
is always that of some serial order of batches: no update is lost to a race. The same check is
what makes the row cache safe: a stale row or a wrong guess only costs a refused write.
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
from online_models.prequential import CurvePoint, Prequential
from online_models.residual_knn import Histories, ResidualKNN
from storage import content_store
from storage.item_log import ANNOUNCE_IN_SCRIPT, SEQ, announce
from storage.row_cache import RowCache

APPLIED, STATS, PREQ, ITEMS, CURVE = "mf:applied:", "mf:stats", "mf:preq", "mf:items", "mf:curve"
DRIFTS = "mf:drifts"
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


def seen_version_key(user: int) -> str:
    return f"mf:seen-v:{user}"


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
# Keys are computed inside the scripts, which Redis Cluster
# forbids: a cluster deployment needs the MF keys under one hash tag (noted in the README).
_STATE_LUA = """
local SLICE = 1000
local function call_sliced(command, head, list, step)  -- Lua's unpack is bounded by its stack
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
local function keys(prefix, packed, format, size)
  local out = {}
  for pos = 1, #packed, size do out[#out + 1] = prefix .. struct.unpack(format, packed, pos) end
  return out
end
local function mget(list, missing)
  local out = call_sliced('MGET', nil, list, 1)
  for j = 1, #list do out[j] = out[j] or missing end
  return out
end
-- What a batch starts from: the partitions' applied offsets (-1: none), the users' and movies'
-- rows ('': none yet), the ratings' count and sum, how many were scored, the users' histories.
local function state(topic, partitions, users, items)
  local stats = redis.call('HMGET', 'mf:stats', 'n', 'sum')
  return {mget(keys('mf:applied:' .. topic .. ':', partitions, '<i4', 4), '-1'),
          mget(keys('mf:u:', users, '<i8', 8), ''), mget(keys('mf:i:', items, '<i8', 8), ''),
          stats[1] or '0', stats[2] or '0', redis.call('HGET', 'mf:preq', 'n') or '0',
          mget(keys('mf:h:', users, '<i8', 8), '')}
end
"""

READ_LUA = _STATE_LUA + "return state(ARGV[1], ARGV[2], ARGV[3], ARGV[4])"

# Writes the batch only if nothing it started from has changed since (offsets and every row,
# compared byte for byte): the same guarantee as WATCH/MULTI, in one round trip. Returns
# {1, stats n, stats sum, prequential n} for the writer's cache, or on a conflict {0, state}: what
# the batch must start from instead, so the retry needs no read of its own.
# Commands take many keys or fields each (MGET, MSET, SADD, HSET): a Redis call per row was
# most of the script's time.
WRITE_LUA = _STATE_LUA + """
local topic, partitions, expected_offsets, new_offsets = ARGV[1], ARGV[2], ARGV[3], ARGV[4]
local width = tonumber(ARGV[5])
local user_ids, user_seen, user_old, user_new, user_touched = ARGV[6], ARGV[7], ARGV[8], ARGV[9], ARGV[10]
local item_ids, item_seen, item_old, item_new, item_touched = ARGV[11], ARGV[12], ARGV[13], ARGV[14], ARGV[15]
local seen, stats, point, cap = ARGV[16], ARGV[17], ARGV[18], tonumber(ARGV[19])
local history_sizes, histories = ARGV[20], ARGV[21]
local prefix = 'mf:applied:' .. topic .. ':'
local function offsets_unchanged()
  local now = mget(keys(prefix, partitions, '<i4', 4), '-1')
  for j = 1, #now do
    if tonumber(now[j]) ~= struct.unpack('<i8', expected_offsets, 8 * j - 7) then return false end
  end
  return true
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
local user_keys, item_keys = keys('mf:u:', user_ids, '<i8', 8), keys('mf:i:', item_ids, '<i8', 8)
if not (offsets_unchanged() and unchanged(user_keys, user_seen, user_old)
        and unchanged(item_keys, item_seen, item_old)) then
  return {0, state(topic, partitions, user_ids, item_ids)}
end
local function write(keys, ids, rows, touched, present, set)
  local pairs_, members = {}, {}
  for j = 1, #keys do
    if string.byte(touched, j) == 1 then
      pairs_[#pairs_ + 1] = keys[j]
      pairs_[#pairs_ + 1] = string.sub(rows, width * (j - 1) + 1, width * j)
      if string.byte(present, j) == 0 then members[#members + 1] = struct.unpack('<i8', ids, 8 * j - 7) end
    end
  end
  if #pairs_ > 0 then call_sliced('MSET', nil, pairs_, 2) end
  if set and #members > 0 then call_sliced('SADD', set, members, 1) end
end
write(user_keys, user_ids, user_new, user_touched, user_seen, nil)
local at = 1
for j = 1, #history_sizes / 4 do  -- each user's recent (movie, MF error) pairs, when the batch has them
  local size = struct.unpack('<i4', history_sizes, 4 * j - 3)
  if size > 0 then
    redis.call('SET', 'mf:h:' .. struct.unpack('<i8', user_ids, 8 * j - 7), string.sub(histories, at, at + size - 1))
  end
  at = at + size
end
write(item_keys, item_ids, item_new, item_touched, item_seen, 'mf:items')  -- a stored row is a member
local changed = {}  -- the API processes' copies re-read these rows (storage.item_factors)
for j = 1, #item_keys do
  if string.byte(item_touched, j) == 1 then changed[#changed + 1] = string.sub(item_ids, 8 * j - 7, 8 * j) end
end
""" + ANNOUNCE_IN_SCRIPT + """local by_user = {}
for pos = 1, #seen, 20 do
  local user, movie, rating = struct.unpack('<i8i8f', seen, pos)
  local fields = by_user[user]
  if not fields then fields = {}; by_user[user] = fields end
  fields[#fields + 1] = movie
  fields[#fields + 1] = tostring(rating)
end
""" + f"""
local version = redis.call('GET', '{SEQ}') or '0'  -- this batch's notice: unique, only grows
""" + """for user, fields in pairs(by_user) do
  call_sliced('HSET', 'mf:seen:' .. user, fields, 2)
  redis.call('SET', 'mf:seen-v:' .. user, version)  -- lets readers keep the hash until it changes
end
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
local stats_now = redis.call('HMGET', 'mf:stats', 'n', 'sum')
return {1, stats_now[1] or '0', stats_now[2] or '0', redis.call('HGET', 'mf:preq', 'n') or '0'}
"""


def _ids(values: np.ndarray) -> bytes:
    return np.ascontiguousarray(values, dtype="<i8").tobytes()


@dataclass(frozen=True)
class _Snapshot:
    """What a batch starts from: its unique partitions, users and movies, and their state in Redis
    (as read, or as this worker last read or wrote it)."""

    partitions: np.ndarray
    applied: np.ndarray  # each partition's last applied offset (-1: none yet)
    cached_offsets: bool  # some offset came from the cache, not from Redis
    users: np.ndarray
    user_index: np.ndarray  # event -> position in ``users``
    user_blobs: list[bytes]  # stored rows (empty: none yet)
    movies: np.ndarray
    movie_index: np.ndarray
    item_blobs: list[bytes]
    mean: float  # of all ratings learned so far
    learned: int  # ratings learned so far (the learning curve's x)
    history_blobs: list[bytes]  # users' recent MF errors (``mf:h:<user>``)

    def fresh(self, batch: RatingBatch) -> np.ndarray:
        """Events past their partition's applied offset."""
        return batch.offsets > self.applied[np.searchsorted(self.partitions, batch.partitions)]


@dataclass(frozen=True)
class _Learned:
    """A batch learned: the new applied offsets, the updated rows (and which it changed), and for
    ratings the prequential errors, the curve point and the users' new residual histories
    (``b""``: unchanged)."""

    offsets: np.ndarray  # (partition, offset) pairs: each partition's new applied offset
    user_rows: FloatArray
    users_touched: np.ndarray  # bool per row: rows only replayed events touched are not written
    item_rows: FloatArray
    items_touched: np.ndarray
    ratings: FloatArray
    errors: FloatArray
    curve: CurvePoint | None  # ratings only: watches carry no stars to score
    histories: list[bytes]

    @cached_property
    def sse(self) -> float:
        return float(np.square(self.errors).sum())


def _mean(n: Any, total: Any) -> float:
    return float(total) / float(n) if float(n) else 3.5


def _new_offsets(batch: RatingBatch, fresh: np.ndarray) -> np.ndarray:
    """The partitions whose applied offset moves, and to what: only those with fresh events, and
    only forward (a partition whose events in this batch were all replays keeps its higher one)."""
    partitions, offsets = batch.partitions[fresh], batch.offsets[fresh]
    order = np.lexsort((offsets, partitions))
    partitions, offsets = partitions[order], offsets[order]
    last = np.empty(len(partitions), dtype=bool)  # the last of each partition's run (np.r_ is slow)
    last[:-1], last[-1:] = partitions[1:] != partitions[:-1], True
    out = np.empty(int(last.sum()), dtype=[("p", "<i4"), ("o", "<i8")])
    out["p"], out["o"] = partitions[last], offsets[last]
    return out


def _found_where_absent(snap: _Snapshot, state: list[Any]) -> bool:
    """Whether Redis' ``state`` has an offset or a row where the batch started from none."""
    return (any(a < 0 <= int(b) for a, b in zip(snap.applied.tolist(), state[0], strict=True))
            or any(not old and new for old, new in zip(snap.user_blobs, state[1], strict=True))
            or any(not old and new for old, new in zip(snap.item_blobs, state[2], strict=True)))


def _split(rows: FloatArray, index: np.ndarray) -> list[bytes]:
    data, width = rows.tobytes(), rows.shape[1] * 4
    return [data[width * j:width * (j + 1)] for j in index.tolist()]


class ModelStore:
    def __init__(self, redis: aioredis.Redis, model: BiasedMF, correction: ResidualKNN | None = None,
                 cache: RowCache | None = None) -> None:
        self.redis = redis
        self.model = model
        self.correction = correction
        self.cache = cache if cache is not None else RowCache()
        self.content: tuple[np.ndarray, np.ndarray] | None = None
        self._next_content_check = 0.0
        self.tracker = Prequential()
        self.conflicts = 0
        self.reads = 0  # read round trips (most batches need none: see ``_snapshot``)
        self.guess_absent = True
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

    def forget(self) -> None:
        """Drop everything cached (e.g. after a rebalance, when partitions changed hands)."""
        self.cache.clear()

    async def _apply_once(self, batch: RatingBatch) -> ApplyResult | None:
        """Learn from what the batch starts from and compare-and-write it; ``None`` when the write
        was refused (another writer came in between, or a guess was wrong), in which case the
        refusal brought the current state and the next attempt starts from that."""
        snap = await self._snapshot(batch)
        fresh = snap.fresh(batch)
        if not fresh.all() and snap.cached_offsets:
            # a skip on the cache's word would write nothing, so nothing would check it: ask Redis
            snap = await self._snapshot(batch, read_all=True)
            fresh = snap.fresh(batch)
        skipped = int((~fresh).sum())
        if not fresh.any():
            return ApplyResult(0, skipped, 0.0)
        learned = self._learn(batch, snap, fresh)
        written = await self._write(args=self._write_args(batch, snap, fresh, learned))
        if not written[0]:
            state = written[1]
            self._keep(batch.topic, snap.partitions.tolist(), snap.users.tolist(), snap.movies.tolist(), state)
            if _found_where_absent(snap, state):
                self.guess_absent = False  # something guessed new was there: read before guessing again
            return None
        self._remember(batch.topic, snap, learned, written)
        if learned.curve is not None and self.tracker.observe(learned.curve):
            async with self.redis.pipeline(transaction=False) as pipe:  # rare: its own round trip
                pipe.rpush(DRIFTS, learned.curve.n)
                pipe.ltrim(DRIFTS, -CURVE_POINTS, -1)
                await pipe.execute()
        return ApplyResult(int(fresh.sum()), skipped, learned.sse)

    async def _snapshot(self, batch: RatingBatch, read_all: bool = False) -> _Snapshot:
        """The partitions' applied offsets and everything the batch's events touch, from the cache;
        what it lacks is read, or guessed new (a new user or film, a partition with nothing applied
        yet) while recent reads showed that guess right. A wrong guess costs no more than the read:
        the compare-and-write refuses it and answers with what is there."""
        partitions = np.unique(batch.partitions)
        users, user_index = np.unique(batch.users, return_inverse=True)
        movies, movie_index = np.unique(batch.movies, return_inverse=True)
        if self.correction is not None and self.content is None and time.monotonic() >= self._next_content_check:
            # installed by `model publish`; until then no correction (and one look every half minute)
            self.content = await content_store.load(self.redis)
            self._next_content_check = time.monotonic() + CONTENT_CHECK_S
        cache, topic = self.cache, batch.topic
        cache.trim()
        part_list, user_list, movie_list = partitions.tolist(), users.tolist(), movies.tolist()
        need_partitions = part_list if read_all else [p for p in part_list if (topic, p) not in cache.applied]
        need_users = user_list if read_all else cache.missing("u", user_list)
        need_movies = movie_list if read_all else cache.missing("i", movie_list)
        read = cache.stats is None or read_all or (
            not self.guess_absent and bool(need_partitions or need_users or need_movies))
        if read:
            self.reads += 1
            state = await self._read(args=[topic, np.array(need_partitions, dtype="<i4").tobytes(),
                                           _ids(np.array(need_users)), _ids(np.array(need_movies))])
            found = self._keep(topic, need_partitions, need_users, need_movies, state)
            if not read_all:
                self.guess_absent = not found  # would guessing have been right?
        assert cache.stats is not None  # a batch with none reads first
        mean, learned_so_far = cache.stats
        return _Snapshot(partitions, np.array([cache.applied.get((topic, p), -1) for p in part_list], dtype=np.int64),
                         not read or len(need_partitions) < len(part_list), users, user_index,
                         cache.get("u", user_list), movies, movie_index, cache.get("i", movie_list), mean,
                         learned_so_far, cache.get("h", user_list))

    def _keep(self, topic: str, partitions: list[int], users: list[int], movies: list[int], state: list[Any]
              ) -> bool:
        """Cache what Redis answered (``_STATE_LUA``'s ``state``); whether any of it exists."""
        applied, user_blobs, item_blobs, n, total, learned, history_blobs = state
        self.cache.applied.update(((topic, p), int(a)) for p, a in zip(partitions, applied, strict=True))
        self.cache.put("u", users, user_blobs)
        self.cache.put("h", users, history_blobs)
        self.cache.put("i", movies, item_blobs)
        self.cache.stats = (_mean(n, total), int(float(learned)))
        return any(user_blobs) or any(item_blobs) or any(int(a) >= 0 for a in applied)

    def _remember(self, topic: str, snap: _Snapshot, learned: _Learned, written: list[Any]) -> None:
        """What the write put in Redis is what the next batch starts from."""
        users, movies = snap.users, snap.movies
        self.cache.put("u", users[learned.users_touched].tolist(),
                       _split(learned.user_rows, np.flatnonzero(learned.users_touched)))
        self.cache.put("i", movies[learned.items_touched].tolist(),
                       _split(learned.item_rows, np.flatnonzero(learned.items_touched)))
        changed = [j for j, blob in enumerate(learned.histories) if blob]
        self.cache.put("h", users[changed].tolist(), [learned.histories[j] for j in changed])
        self.cache.applied.update(((topic, p), o) for p, o in learned.offsets.tolist())
        _, n, total, learned_so_far = written
        self.cache.stats = (_mean(n, total), int(float(learned_so_far)))

    def _learn(self, batch: RatingBatch, snap: _Snapshot, fresh: np.ndarray) -> _Learned:
        """The batch's fresh events learned in order from the snapshot's rows."""
        user_rows = self._rows(snap.users, snap.user_blobs, USER_SALT)
        item_rows = self._rows(snap.movies, snap.item_blobs, ITEM_SALT)
        users_touched = np.zeros(len(snap.users), dtype=bool)
        users_touched[snap.user_index[fresh]] = True
        items_touched = np.zeros(len(snap.movies), dtype=bool)
        items_touched[snap.movie_index[fresh]] = True
        ratings = batch.ratings[fresh].astype(np.float32)
        offsets = _new_offsets(batch, fresh)
        mf_batch = MFBatch(user_rows, item_rows, snap.user_index[fresh], snap.movie_index[fresh], ratings)
        if batch.watches:
            self.model.learn_watches(mf_batch)
            return _Learned(offsets, user_rows, users_touched, item_rows, items_touched, np.zeros(0, np.float32),
                            np.zeros(0, np.float32), None, [])
        estimates = self.model.learn_many(mf_batch, snap.mean)
        histories: list[bytes] = []
        if self.correction is not None and self.content is not None:
            estimates, histories = self._corrected(estimates, ratings, batch, fresh, snap.users, snap.user_index,
                                                   snap.history_blobs)
        errors = ratings - estimates
        curve = self.tracker.score(errors, snap.learned)
        return _Learned(offsets, user_rows, users_touched, item_rows, items_touched, ratings, errors, curve,
                        histories)

    def _write_args(self, batch: RatingBatch, snap: _Snapshot, fresh: np.ndarray, learned: _Learned) -> list[Any]:
        """The compare-and-write script's arguments: what was read (to compare) and what to write."""
        seen = np.empty(0 if batch.watches else int(fresh.sum()), dtype=[("u", "<i8"), ("m", "<i8"), ("r", "<f4")])
        if not batch.watches:  # what a user rated; a watch alone does not hide a film from suggestions
            seen["u"], seen["m"], seen["r"] = batch.users[fresh], batch.movies[fresh], batch.ratings[fresh]
        err = learned.errors
        stats = np.array([len(learned.ratings), learned.ratings.sum(), learned.sse, np.abs(err).sum()],
                         dtype="<f4")  # ratings only
        width = self.model.width * 4
        history_sizes = np.array([len(blob) for blob in learned.histories], dtype="<i4")

        point = json.dumps(learned.curve.as_dict()) if learned.curve else ""  # empty: watches, no statistics

        def present(blobs: list[bytes]) -> bytes:
            return bytes(1 if blob else 0 for blob in blobs)

        def old(blobs: list[bytes]) -> bytes:
            return b"".join(blob if blob else bytes(width) for blob in blobs)

        return [batch.topic, np.ascontiguousarray(snap.partitions, dtype="<i4").tobytes(), _ids(snap.applied),
                learned.offsets.tobytes(), width,
                _ids(snap.users), present(snap.user_blobs), old(snap.user_blobs), learned.user_rows.tobytes(),
                learned.users_touched.astype(np.uint8).tobytes(),
                _ids(snap.movies), present(snap.item_blobs), old(snap.item_blobs), learned.item_rows.tobytes(),
                learned.items_touched.astype(np.uint8).tobytes(),
                seen.tobytes(), stats.tobytes(), point, CURVE_POINTS, history_sizes.tobytes(),
                b"".join(learned.histories)]

    def _corrected(self, estimates: FloatArray, ratings: FloatArray, batch: RatingBatch, fresh: np.ndarray,
                   users: np.ndarray, user_index: np.ndarray, blobs: list[bytes]) -> tuple[FloatArray, list[bytes]]:
        """The MF's estimates corrected by each user's recent errors on similar films
        (``online_models.residual_knn``), and each user's updated history (``b""``: unchanged)."""
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
        packed = [b""] * len(users)
        for slot in np.flatnonzero(new_counts).tolist():
            items, errors = histories.of(slot, self.correction.history)
            record = np.empty(len(items), dtype=HISTORY_RECORD)
            record["movie"], record["error"] = movies[items], errors
            packed[slot] = record.tobytes()
        return np.clip(estimates + corrections, 0.5, 5.0).astype(np.float32), packed

    async def prequential(self) -> dict[str, float]:
        raw = await self.redis.hgetall(PREQ)
        values = {_text(k): float(v) for k, v in raw.items()}
        n = values.get("n", 0.0)
        return {"n": n, "rmse": (values.get("sse", 0.0) / n) ** 0.5 if n else float("nan"),
                "mae": values.get("sae", 0.0) / n if n else float("nan")}

    async def learning_curve(self) -> list[dict[str, float]]:
        """Each batch's point, with ``drift`` where a worker's detector flagged one."""
        async with self.redis.pipeline(transaction=False) as pipe:
            pipe.lrange(CURVE, 0, -1)
            pipe.lrange(DRIFTS, 0, -1)
            points, drifts = await pipe.execute()
        flagged = {int(n) for n in drifts}
        return [{**point, "drift": point["n"] in flagged} for point in map(json.loads, points)]

    async def applied_for(self, topic: str, partitions: list[int]) -> dict[int, int]:
        """The last applied offset of each of ``topic``'s ``partitions`` that has one."""
        values = await self.redis.mget([applied_key(topic, p) for p in partitions]) if partitions else []
        return {p: int(v) for p, v in zip(partitions, values, strict=True) if v is not None}

    async def applied_offsets(self) -> dict[str, int]:
        keys = [key async for key in self.redis.scan_iter(match=APPLIED + "*")]
        values = await self.redis.mget(keys) if keys else []
        return {_text(k).removeprefix(APPLIED): int(v) for k, v in zip(keys, values, strict=True) if v is not None}


async def drop_items(redis: aioredis.Redis, keep: np.ndarray) -> list[int]:
    """Delete the item rows of movies not in ``keep``: phantoms learned before the stream checked ids."""
    members = np.array([int(m) for m in await redis.smembers(ITEMS)], dtype=np.int64)
    phantoms = members[~np.isin(members, keep)].tolist()
    if phantoms:
        async with redis.pipeline(transaction=True) as pipe:
            pipe.delete(*(item_key(m) for m in phantoms))
            pipe.srem(ITEMS, *phantoms)
            await pipe.execute()
        await announce(redis, phantoms)
    return phantoms
