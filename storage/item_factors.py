"""The API process's copy of every item row, kept current from what the learning workers change.

Each batch that changes item rows appends their ids to ``{mf}:item-log`` (a Redis stream, in the
batch's commit, which follows the rows: a row is never written without its notice, at worst twice): entry
``<seq>-0`` with field ``ids`` (packed int64), where ``seq`` counts from ``{mf}:item-seq``. A
wholesale change (a model installed or rolled back, phantom rows dropped) appends ``all``.
A follower wakes on the stream (``XREAD``), re-reads only the rows named, and reloads everything
when told to or when it finds a gap (it fell more than ``LOG_CAP`` entries behind, or Redis lost
the log). Bound: the log keeps about ``LOG_CAP`` entries of at most a batch's ids each.

Requests score with the copy as it is, typically a few milliseconds (one batch) behind the item rows
in Redis; the user's own row and ratings are read per request, so a rated movie leaves the list as
soon as the worker wrote it. One refresh at a time, in the background: refreshing on every request
that found the log ahead would queue the requests behind it under a steady stream.
"""

from __future__ import annotations

import asyncio
import logging
from collections import OrderedDict
from collections.abc import Sequence
from typing import Any, cast

import numpy as np
import redis.asyncio as aioredis

from online_models.item_matrix import ItemMatrix
from storage.item_log import EPOCH, LOG, LOG_CAP, SEQ
from storage.model_keys import item_key, seen_key, seen_version_key, user_key
from storage.model_store import item_members
from storage.recent_history import history_key, in_time_order
from storage.redis_store import mget_chunked, round_trip, text

CHUNK = 5000
RATED_CACHE = 10_000  # users whose ratings a process keeps: about 1 KB each on MovieLens, 32 KB the heaviest
Rated = tuple[Any, np.ndarray, dict[int, float]]  # (version, movies rated oldest first, movie -> stars)
log = logging.getLogger(__name__)


class ItemFactors:
    """Every item row in process memory (``online_models.item_matrix``), following ``{mf}:item-log``."""

    def __init__(self, redis: aioredis.Redis, width: int) -> None:
        self.redis = redis
        self.width = width
        self.matrix = ItemMatrix(width - 2)
        self.version: tuple[int, bytes | None] = (-1, None)  # (last notice applied, epoch); -1: never loaded
        self.reloads = 0
        self._lock = asyncio.Lock()
        self._rated: OrderedDict[int, Rated] = OrderedDict()  # user -> their ratings, least recently used first

    async def recommend(self, user: int, k: int, also: Sequence[str] = ()
                        ) -> tuple[list[tuple[int, float]], dict[int, float], list[Any]]:
        """Top-``k`` movies the user has not rated by the online MF, what they rated (movie -> stars,
        oldest first: ``recent_history.in_time_order``), and the values of the keys ``also``, in one
        round trip: the user's row, the version of their ratings, the length of their history, the
        log's epoch and ``also``. The ratings and history are read again only when one of those
        changed (a heavy user's 2,700 ratings took 1.5 ms to read and parse). The item rows are the
        follower's copy, a batch or so behind the workers; the user's row and ratings are exact."""
        cached = self._rated.get(user)
        async with self.redis.pipeline(transaction=False) as pipe:
            pipe.get(user_key(user))
            pipe.get(EPOCH)
            pipe.get(seen_version_key(user))
            pipe.strlen(history_key(user))
            if cached is None:
                pipe.hgetall(seen_key(user))
                pipe.get(history_key(user))
            for key in also:
                pipe.get(key)
            blob, epoch, version, length, *values = await pipe.execute()
        if self.version[0] < 0 or epoch != self.version[1]:
            await self.refresh()  # never loaded, or Redis lost its keys: the follower may not know yet
        read: list[Any] | None = [values.pop(0), values.pop(0)] if cached is None else None
        cached = self._rated.get(user)  # a reload empties the cache
        if cached is None or cached[0] != (version, length):
            # read after the versions: a change in between only makes the next request read them again
            if read is None:
                async with self.redis.pipeline(transaction=False) as pipe:
                    pipe.hgetall(seen_key(user))
                    pipe.get(history_key(user))
                    read = list(await pipe.execute())
            cached = self._remember(user, (version, length), read[0], read[1])
        else:
            self._rated.move_to_end(user)
        _, movies, rated = cached
        if blob is None or not k:  # k = 0: the caller wants the ratings and keys, not the MF's list
            return [], rated, values
        return self.matrix.recommend(np.frombuffer(blob, dtype=np.float32), k, movies), rated, values

    def rated_version(self, user: int) -> Any:
        """The version of the user's ratings and history the last ``recommend`` read (None: never read)."""
        cached = self._rated.get(user)
        return None if cached is None else cached[0]

    def _remember(self, user: int, version: Any, seen: dict[Any, Any], history: bytes | None) -> Rated:
        stars = {int(m): float(r) for m, r in seen.items()}
        movies = in_time_order(history, np.fromiter(stars, dtype=np.int64, count=len(stars)))
        entry = (version, movies, {m: stars[m] for m in movies.tolist()})
        self._rated[user] = entry
        if len(self._rated) > RATED_CACHE:
            self._rated.popitem(last=False)
        return entry

    async def _rows(self, ids: list[int]) -> tuple[np.ndarray, np.ndarray, list[int]]:
        """(ids with a row, their rows, ids without one), in one round trip."""
        blobs = await mget_chunked(self.redis, [item_key(m) for m in ids], CHUNK)
        found = [m for m, blob in zip(ids, blobs, strict=True) if blob is not None]
        gone = [m for m, blob in zip(ids, blobs, strict=True) if blob is None]
        rows = np.frombuffer(b"".join(blob for blob in blobs if blob is not None), dtype=np.float32)
        return np.array(found, dtype=np.int64), rows.reshape(len(found), self.width), gone

    async def _reload(self) -> None:
        """Everything, from the item shards' member sets. The log's position is read first, so a
        change made meanwhile is applied again by the next refresh (applying a notice twice is harmless)."""
        seq, epoch = cast(list[bytes | None], await self.redis.mget([SEQ, EPOCH]))  # one slot: read together
        ids, rows, _ = await self._rows((await item_members(self.redis)).tolist())
        self.matrix = ItemMatrix.of(ids, rows) if len(ids) else ItemMatrix(self.width - 2)
        if epoch != self.version[1]:
            self._rated.clear()  # Redis lost or flushed its keys: the versions start again
        self.version = (int(seq or 0), epoch)
        self.reloads += 1

    async def refresh(self) -> None:
        """Apply the notices not applied yet, or reload everything when they cannot be trusted: never
        loaded, the epoch changed (Redis lost or flushed the keys), a gap (the log was trimmed past
        this copy), or a wholesale change. One refresh at a time, so rows are applied in log order."""
        async with self._lock:
            while True:
                applied, epoch = self.version
                # read together, or not quite: a notice or a flush in between only shows as a gap
                # or a new epoch, and those reload everything
                (seq, now_epoch), answer = await round_trip(self.redis, [
                    ("mget", ([SEQ, EPOCH],)), ("xread", ({LOG: f"{max(applied, 0)}-0"}, LOG_CAP))])
                entries: list[tuple[Any, dict[bytes, bytes]]] = answer[0][1] if answer else []
                first = _seq(entries[0][0]) if entries else int(seq or 0) + 1
                if (applied < 0 or now_epoch != epoch or first != applied + 1
                        or any(b"all" in fields for _, fields in entries)):
                    await self._reload()
                    return
                if not entries:
                    return
                changed = np.unique(np.frombuffer(b"".join(fields[b"ids"] for _, fields in entries), dtype="<i8"))
                ids, rows, gone = await self._rows(changed.tolist())
                self.matrix.upsert(ids, rows)
                self.matrix.remove(np.array(gone, dtype=np.int64))
                self.version = (_seq(entries[-1][0]), epoch)
                if len(entries) < LOG_CAP:
                    return

    async def follow(self, block_ms: int = 1000) -> None:
        """Refresh whenever the log grows, for as long as the process runs (requests refresh too, so
        this only keeps them from having to)."""
        while True:
            try:
                await self.refresh()
                await self.redis.xread({LOG: f"{max(self.version[0], 0)}-0"}, count=1, block=block_ms)
            except asyncio.CancelledError:
                raise
            except Exception:
                log.warning("item factors: Redis unavailable, retrying in 1 s", exc_info=True)
                await asyncio.sleep(1.0)


def _seq(entry_id: bytes | str) -> int:
    """The notice's number: its stream id is ``<seq>-0``."""
    return int(text(entry_id).split("-")[0])
