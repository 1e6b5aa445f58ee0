"""The online MF model's state in Redis: what a batch starts from, and its compare-and-write.

The keys are grouped into shards (``storage.model_keys``): a batch writes each user and item shard
it touches with one script (``lua/mf/user_shard.lua``, ``lua/mf/item_shard.lua``), then the commit shard
(``lua/mf/commit.lua``: statistics, learning curve, item change notice, resume offsets). Each shard
keeps, per Kafka partition, the last offset whose effect it holds, and a script writes its rows and
those offsets together or not at all. So an event is applied to a shard exactly once whatever
happens between the scripts: a worker killed after some shards replays the batch from Kafka, and
each shard takes only what it lacks (``streams.mf_learning`` learns a half-applied event against a
scratch copy of the side that has it). On a Redis Cluster the shards spread over the masters;
on one Redis they are the same keys.

Several workers write the same shards (a movie is rated on every partition, a user shard holds
users of every partition), so each script is an optimistic transaction: it compares the offsets
and every row it replaces with what the batch started from, byte for byte, and if another
writer came in between it writes nothing and answers with the current state, from which the
batch is learned again. The result is that of some serial order of batches: no update is lost.

A batch usually starts from ``storage.row_cache`` (what this worker last read or wrote) and
guesses "new" for rows it lacks while recent reads showed that guess right: a wrong guess or a
stale row costs one refused write, no more than the read it replaced. A skip is never taken on the
cache's word: offsets that would skip an event are read from Redis first.

Bounds: per user a row (``width`` floats), their ratings hash (one field per film rated) and a
history of at most ``ResidualKNN.history`` records; per movie a row; the commit shard holds
``CURVE_POINTS`` curve points and ``item_log.LOG_CAP`` notices; per shard one offset per partition.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import redis.asyncio as aioredis

from storage.item_log import EPOCH, LOG, LOG_CAP, SEQ, announce
from storage.lua import script
from storage.model_keys import (
    COMMIT,
    COMMIT_APPLIED,
    CURVE,
    DRIFTS,
    ITEM,
    ITEM_SETS,
    LUA_CONSTANTS,
    SHARDS,
    STATS,
    USER,
    applied_key,
    history_key,
    item_key,
    item_shard,
    user_key,
)
from storage.redis_store import round_trip, run_scripts, text
from storage.row_cache import RowCache
from storage.shards import shard_groups

CURVE_POINTS = 5000  # the list is trimmed to the latest points
# A user shard's new ratings, which ``lua/mf/user_shard.lua`` unpacks into ``mf:seen:…`` with
# ``SEEN_FORMAT``, the same layout in the notation of Redis's Lua ``struct`` library.
SEEN_RECORD = np.dtype([("u", "<i8"), ("m", "<i8"), ("r", "<f4")])
SEEN_FORMAT = "<i8i8f"
_SCRIPT_CONSTANTS = (*LUA_CONSTANTS, ("SEEN_FORMAT", SEEN_FORMAT))
# ``mf:h:…``: a user's recent MF errors (``online_models.residual_knn``), newest last.
HISTORY_RECORD = np.dtype([("movie", "<i8"), ("error", "<f4")])
COMMIT_ROW = 2 * SHARDS  # applied rows: user shards 0..S-1, item shards S..2S-1, then the commit shard



def _packed(values: np.ndarray | Sequence[float], dtype: str = "<i8") -> bytes:
    return np.ascontiguousarray(values, dtype=dtype).tobytes()


def _mean(n: Any, total: Any) -> float:
    return float(total) / float(n) if float(n) else 3.5


def _seen_records(users: np.ndarray, movies: np.ndarray, ratings: np.ndarray) -> np.ndarray:
    records = np.empty(len(users), dtype=SEEN_RECORD)
    records["u"], records["m"], records["r"] = users, movies, ratings
    return records


def history_records(blob: bytes) -> np.ndarray:
    """A user's stored MF errors (``b""``: none)."""
    return np.frombuffer(blob, dtype=HISTORY_RECORD) if blob else np.zeros(0, HISTORY_RECORD)


def history_blob(movies: np.ndarray, errors: np.ndarray) -> bytes:
    record = np.empty(len(movies), dtype=HISTORY_RECORD)
    record["movie"], record["error"] = movies, errors
    return record.tobytes()


def applied_row(kind: str, shard: int) -> int:
    """A shard's row in ``State.applied``."""
    return {USER: shard, ITEM: SHARDS + shard}.get(kind, COMMIT_ROW)


@dataclass(frozen=True)
class State:
    """What a batch starts from: per shard and partition the last applied offset (-1: none; rows as
    ``applied_row``, columns as the batch's sorted partitions), its users', movies' and histories'
    stored blobs (``b""``: none yet), and the ratings' mean and count so far."""

    applied: np.ndarray
    cached_applied: bool  # some offset came from the cache, not from Redis
    user_blobs: list[bytes]
    item_blobs: list[bytes]
    history_blobs: list[bytes]
    mean: float
    learned: int

    def lacking(self, users: np.ndarray, movies: np.ndarray, columns: np.ndarray,
                offsets: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Per event (its user, movie, partition's column and offset): whether its user shard, its item
        shard and the commit lack it, which is what the learner must still do for it."""
        return (offsets > self.applied[users % SHARDS, columns],
                offsets > self.applied[SHARDS + movies % SHARDS, columns],
                offsets > self.applied[COMMIT_ROW, columns])

    def after(self, last: np.ndarray) -> np.ndarray:
        """The applied offsets once the batch, whose partitions end at ``last``, is written everywhere."""
        return np.maximum(self.applied, last[None, :])


@dataclass(frozen=True)
class Learned:
    """What a batch learned, as the learner sees it (the store splits it into shards): the rows it
    changed, as they were (to compare; ``b""``: none was stored) and as learned, the new ratings the
    person's lists must exclude, and users' new histories (``b""``: unchanged; empty: none kept)."""

    users: np.ndarray
    user_old: list[bytes]
    user_rows: np.ndarray  # float32, a row per user
    movies: np.ndarray
    item_old: list[bytes]
    item_rows: np.ndarray
    rated_by: np.ndarray  # the new ratings' users, films and stars
    rated: np.ndarray
    stars: np.ndarray
    histories: list[bytes] = field(default_factory=list)


@dataclass(frozen=True)
class _ShardWrite:
    """One shard's part of a batch: its rows as they were (to compare) and as learned."""

    kind: str  # USER or ITEM
    shard: int
    ids: np.ndarray
    old: list[bytes]  # b"": none was stored
    new: bytes  # the rows, concatenated
    ratings: bytes = b""  # user shards: ``SEEN_RECORD``s
    histories: list[bytes] = field(default_factory=list)  # user shards: b"" = unchanged


def _shard_writes(learned: Learned) -> list[_ShardWrite]:
    """One write per user shard (its users' rows, new ratings and histories) and per item shard."""
    seen = _seen_records(learned.rated_by, learned.rated, learned.stars)
    seen_of = dict(shard_groups(seen["u"]))
    writes = []
    for shard, at in shard_groups(learned.users):
        rows = at.tolist()
        writes.append(_ShardWrite(USER, shard, learned.users[at], [learned.user_old[j] for j in rows],
                                  learned.user_rows[at].tobytes(), seen[seen_of.get(shard, [])].tobytes(),
                                  [learned.histories[j] for j in rows] if learned.histories else [b""] * len(rows)))
    for shard, at in shard_groups(learned.movies):
        writes.append(_ShardWrite(ITEM, shard, learned.movies[at], [learned.item_old[j] for j in at.tolist()],
                                  learned.item_rows[at].tobytes()))
    return writes


@dataclass(frozen=True)
class Commit:
    """The batch's statistics (``None`` for watches), curve point and changed movies."""

    stats: tuple[float, float, float, float] | None  # n, sum, sse, sae
    point: str
    changed: np.ndarray


class RedisBehind(Exception):
    """Redis holds less than this worker wrote: it lost its last writes (a restart that found them
    neither in its AOF nor fsynced), and the worker has gone on reading Kafka past them. ``resume``:
    per partition, the first offset some shard lacks; the batch and every later event of those
    partitions must be read again from there (each shard then takes only what it lacks)."""

    def __init__(self, topic: str, resume: dict[int, int]) -> None:
        super().__init__(f"Redis lost writes of {topic}: resuming partitions at {resume}")
        self.topic = topic
        self.resume = resume


class ModelStore:
    """Reads and compare-and-writes the model's shards for one learning worker (see the module).

    Every offset it reads from Redis is checked against the highest it wrote there itself: offsets
    only ever grow, so a lower one means Redis lost writes, and ``RedisBehind`` is raised before the
    batch writes anything past the loss. (Kafka's committed offsets are checked against Redis at
    each rebalance, ``streams.rewind``; this covers a Redis restart while the worker keeps running.)"""

    def __init__(self, redis: aioredis.Redis, width: int, cache: RowCache | None = None) -> None:
        self.redis = redis
        self.width = width
        self.cache = cache if cache is not None else RowCache()
        self.reads = 0  # read round trips (most batches need none)
        self.refusals = 0
        self.guess_absent = True
        self._user = redis.register_script(script("mf", "shard_common", "user_shard", constants=_SCRIPT_CONSTANTS))
        self._item = redis.register_script(script("mf", "shard_common", "item_shard", constants=_SCRIPT_CONSTANTS))
        self._commit = redis.register_script(script("mf", "shard_common", "item_notice", "commit"))
        self._written: dict[tuple[int, str, int], int] = {}  # (shard row, topic, partition) -> offset
        self._lost: dict[int, int] = {}  # partition -> first offset a shard lacks, this batch

    def forget(self) -> None:
        """Drop everything cached (e.g. after a rebalance, when partitions changed hands)."""
        self.cache.clear()
        self._written.clear()

    async def state(self, topic: str, partitions: np.ndarray, users: np.ndarray, movies: np.ndarray,
                    read_all: bool = False) -> State:
        """The state of everything the batch touches, from the cache where it can (see the module)."""
        cache = self.cache
        cache.trim()
        rows = np.unique(np.concatenate([users % SHARDS, SHARDS + movies % SHARDS, [COMMIT_ROW]])).tolist()
        part_list, user_list, movie_list = partitions.tolist(), users.tolist(), movies.tolist()
        need_applied = rows if read_all else [r for r in rows if any((r, topic, p) not in cache.applied
                                                                   for p in part_list)]
        need_users = user_list if read_all else cache.missing("u", user_list)
        need_movies = movie_list if read_all else cache.missing("i", movie_list)
        read = cache.stats is None or read_all or (not self.guess_absent and bool(need_applied or need_users
                                                                                   or need_movies))
        if read:
            found = await self._read(topic, part_list, need_applied, need_users, need_movies)
            if not read_all:
                self.guess_absent = not found  # would guessing have been right?
        assert cache.stats is not None
        applied = np.array([[cache.applied.get((r, topic, p), -1) for p in part_list]
                          for r in range(COMMIT_ROW + 1)], dtype=np.int64).reshape(COMMIT_ROW + 1, len(part_list))
        mean, learned = cache.stats
        return State(applied, not read or len(need_applied) < len(rows), cache.get("u", user_list),
                     cache.get("i", movie_list), cache.get("h", user_list), mean, learned)

    async def _read(self, topic: str, partitions: list[int], applied_rows: list[int], users: list[int],
                    movies: list[int]) -> bool:
        """Read the named offsets and rows into the cache in one round trip; whether any exists."""
        self.reads += 1
        fields = [f"{topic}:{p}" for p in partitions]
        user_groups, item_groups = _by_shard(users), _by_shard(movies)  # an MGET a shard: one slot
        commands: list[tuple[str, tuple[Any, ...]]] = [("hmget", (STATS, ["n", "sum"]))]
        for row in applied_rows:
            kind = USER if row < SHARDS else ITEM if row < COMMIT_ROW else COMMIT
            commands.append(("hmget", (applied_key(kind, row % SHARDS), fields)))
        for group in user_groups:
            commands += [("mget", ([user_key(u) for u in group],)), ("mget", ([history_key(u) for u in group],))]
        commands += [("mget", ([item_key(m) for m in group],)) for group in item_groups]
        replies = await round_trip(self.redis, commands)
        (n, total), replies = replies[0], replies[1:]
        self.cache.stats = (_mean(n or 0, total or 0), int(float(n or 0)))
        found = False
        for row, values in zip(applied_rows, replies, strict=False):
            self._read_marks(row, topic, partitions, values)
            found = found or any(v is not None for v in values)
        replies = replies[len(applied_rows):]
        for j, group in enumerate(user_groups):
            rows, histories = replies[2 * j], replies[2 * j + 1]
            self.cache.put("u", group, [r or b"" for r in rows])
            self.cache.put("h", group, [h or b"" for h in histories])
            found = found or any(rows)
        for group, rows in zip(item_groups, replies[2 * len(user_groups):], strict=True):
            self.cache.put("i", group, [r or b"" for r in rows])
            found = found or any(rows)
        self._raise_if_behind(topic)
        return found

    def _keep_marks(self, row: int, topic: str, partitions: list[int], values: list[Any]) -> None:
        """Offsets this worker has just written."""
        applied = [((row, topic, p), int(v) if v is not None else -1) for p, v in zip(partitions, values, strict=True)]
        self.cache.applied.update(applied)
        self._written.update(applied)

    def _read_marks(self, row: int, topic: str, partitions: list[int], values: list[Any]) -> None:
        """Offsets read from Redis, each compared with what this worker wrote there."""
        for p, v in zip(partitions, values, strict=True):
            mark = int(v) if v is not None else -1
            if mark < self._written.get((row, topic, p), -1):
                self._lost[p] = min(self._lost.get(p, mark + 1), mark + 1)
            self.cache.applied[(row, topic, p)] = mark

    def _raise_if_behind(self, topic: str) -> None:
        if self._lost:
            lost, self._lost = self._lost, {}
            self.forget()  # rows and offsets as this worker knew them are ahead of Redis now
            raise RedisBehind(topic, lost)

    async def write(self, topic: str, partitions: np.ndarray, applied: np.ndarray, new_applied: np.ndarray,
                    learned: Learned, commit: Commit) -> bool:
        """Compare-and-write the shards, then the commit; ``False`` when one was refused (its current
        state is then in the cache, and the shards that took their part keep it)."""
        shards = _shard_writes(learned)
        packed_partitions = _packed(partitions, "<i4")
        calls = []
        for part in shards:
            row = applied_row(part.kind, part.shard)
            args: list[Any] = [topic, packed_partitions, _packed(applied[row]), _packed(new_applied[row]),
                               self.width * 4, _packed(part.ids), bytes(1 if b else 0 for b in part.old),
                               b"".join(b or bytes(self.width * 4) for b in part.old), part.new]
            if part.kind == USER:
                args += [part.ratings, _packed([len(h) for h in part.histories], "<i4"), b"".join(part.histories)]
            calls.append((self._user if part.kind == USER else self._item, [applied_key(part.kind, part.shard)], args))
        answers = await run_scripts(self.redis, calls)
        refused = False
        for part, answer in zip(shards, answers, strict=True):
            row, ids = applied_row(part.kind, part.shard), part.ids.tolist()
            if answer[0]:
                self._keep_marks(row, topic, partitions.tolist(), new_applied[row].tolist())
                width = self.width * 4
                self.cache.put("u" if part.kind == USER else "i", ids,
                               [part.new[width * j:width * (j + 1)] for j in range(len(ids))])
                if part.kind == USER:
                    changed = [j for j, h in enumerate(part.histories) if h]
                    self.cache.put("h", [ids[j] for j in changed], [part.histories[j] for j in changed])
                continue
            refused = True
            self._read_marks(row, topic, partitions.tolist(), answer[1])
            self.cache.put("u" if part.kind == USER else "i", ids, list(answer[2]))
            if part.kind == USER:
                self.cache.put("h", ids, list(answer[3]))
            if any(not old and now for old, now in zip(part.old, answer[2], strict=True)):
                self.guess_absent = False  # something guessed new was there: read before guessing again
        if refused:  # another writer came in: its ratings moved the mean the batch is learned against
            self._raise_if_behind(topic)
            self.refusals += 1
            n, total = await self.redis.hmget(STATS, ["n", "sum"])
            self.cache.stats = (_mean(n or 0, total or 0), int(float(n or 0)))
            return False
        stats = b"" if commit.stats is None else _packed(commit.stats, "<f4")
        answer = await self._commit(keys=[COMMIT_APPLIED, STATS, CURVE, SEQ, EPOCH, LOG],
                                    args=[topic, packed_partitions, _packed(applied[COMMIT_ROW]),
                                          _packed(new_applied[COMMIT_ROW]), stats, commit.point, CURVE_POINTS,
                                          LOG_CAP, _packed(commit.changed)])
        if answer[0]:
            self._keep_marks(COMMIT_ROW, topic, partitions.tolist(), new_applied[COMMIT_ROW].tolist())
            self.cache.stats = (_mean(answer[1], answer[2]), int(float(answer[1])))
            return True
        self.refusals += 1
        self._read_marks(COMMIT_ROW, topic, partitions.tolist(), answer[1])
        self._raise_if_behind(topic)
        self.cache.stats = (_mean(answer[2], answer[3]), int(float(answer[2])))
        return False

    async def flag_drift(self, n: int) -> None:
        async with self.redis.pipeline(transaction=False) as pipe:
            pipe.rpush(DRIFTS, n)
            pipe.ltrim(DRIFTS, -CURVE_POINTS, -1)
            await pipe.execute()

    async def prequential(self) -> dict[str, float]:
        raw = await self.redis.hgetall(STATS)
        values = {text(k): float(v) for k, v in raw.items()}
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
        """Where each of ``topic``'s ``partitions`` resumes: the last offset whose batch committed."""
        values = await self.redis.hmget(COMMIT_APPLIED, [f"{topic}:{p}" for p in partitions]) if partitions else []
        return {p: int(v) for p, v in zip(partitions, values, strict=True) if v is not None}

    async def applied_offsets(self) -> dict[str, int]:
        return {text(k): int(v) for k, v in (await self.redis.hgetall(COMMIT_APPLIED)).items()}


def _by_shard(ids: list[int]) -> list[list[int]]:
    array = np.asarray(ids, dtype=np.int64)
    return [array[at].tolist() for _, at in shard_groups(array)]


async def item_members(redis: aioredis.Redis) -> np.ndarray:
    """Every movie with a row, sorted (the union of the item shards' member sets)."""
    async with redis.pipeline(transaction=False) as pipe:
        for key in ITEM_SETS:
            pipe.smembers(key)
        sets = await pipe.execute()
    return np.array(sorted(int(m) for members in sets for m in members), dtype=np.int64)


async def drop_items(redis: aioredis.Redis, keep: np.ndarray) -> list[int]:
    """Delete the item rows of movies not in ``keep``: phantoms learned before the stream checked ids."""
    members = await item_members(redis)
    phantoms = members[~np.isin(members, keep)].tolist()
    if phantoms:
        async with redis.pipeline(transaction=False) as pipe:
            for movie in phantoms:
                pipe.delete(item_key(movie))
                pipe.srem(ITEM_SETS[item_shard(movie)], movie)
            await pipe.execute()
        await announce(redis, phantoms)
    return phantoms
