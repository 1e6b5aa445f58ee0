"""Item–item co-occurrence in Redis (see ``online_models.cooccurrence``, whose ``CoOccurrence.update``
is what ``write`` stores).

- ``sim:recent:<user>``: the user's recent positive movies, newest first, packed ``<i4`` (at most
  ``history``, 20: 80 bytes)
- ``sim:row:{sim<s>}:<movie>``: the movie's neighbours and co-occurrence weights, packed ``(<i4 id, <f4 w)``
  sorted by id, at most ``PRUNE_AT`` (128) of them: a row that reaches it keeps its ``KEEP`` (100)
  heaviest. Bound: 1 KB a movie (59 MB at ml-25m's 59,047). A pair evicted while light starts again
  from its next weight: the strong neighbours, the ones ever shown or used as a reason, are the
  ones kept (the heavy-hitters compromise of a capped top list).
- ``sim:count:{sim<s>}``: hash movie -> its total positive weight N(i)

where ``s = movie % SHARDS``: a shard's rows and counts share a hash tag, so one compare-and-set
script (which names every key it touches in ``KEYS``) stays in one slot of a Redis Cluster.

Why rows and not sorted sets: a sorted set takes one ``ZINCRBY`` per pair inside a Lua script, forty
pairs per positive event, and such scripts hold Redis long enough for every API request to queue
behind them (docs/benchmarks.md has the figures). A batch sums its pairs in numpy, reads the rows it
touches with ``MGET``, merges them in numpy (``online_models.cooccurrence.merge_rows``) and writes
each row back whole with a compare-and-set script (``lua/similarity/cas_rows.lua``: a few microseconds
a movie, ``ROWS_PER_SCRIPT`` movies a call), so Redis works per movie, not per pair. Several side
workers share the rows (a movie is rated on every partition): a row another worker wrote since it was
read is refused, re-read and merged again, so no increment is lost to a race.
"""

from __future__ import annotations

import asyncio

import numpy as np
import redis.asyncio as aioredis

from online_models.cooccurrence import CoOccurrence, CoOccurrenceUpdate, Pairs, merge_rows
from storage.copies import Copies
from storage.lua import script
from storage.redis_store import mget_chunked, mset_chunked, round_trip, run_scripts
from storage.shards import SHARDS, shard_groups, tag

KEEP, PRUNE_AT = 100, 128  # a movie's co-occurrences: see the module's docstring
COPIES_CAP = 100_000  # rows and counts a reading process keeps (about 100 MB at most), emptied when full
ROWS_PER_SCRIPT = 25  # a script holds Redis while it runs, every request waits behind it: ~15 µs a 1 KB row
ROW = np.dtype([("b", "<i4"), ("w", "<f4")])
RECENT = np.dtype("<i4")
RECENT_PREFIX = "sim:recent:"

def recent_key(user: int) -> str:
    return f"{RECENT_PREFIX}{user}"


def row_key(movie: int) -> str:
    return f"sim:row:{tag('sim', movie % SHARDS)}:{movie}"


def count_key(shard: int) -> str:
    return f"sim:count:{tag('sim', shard)}"


COUNT_KEYS = [count_key(s) for s in range(SHARDS)]


async def counts_of(redis: aioredis.Redis, movies: list[int]) -> list[float]:
    """N(i) of each movie (0 for none), one ``HMGET`` a shard, in one round trip."""
    ids = np.asarray(movies, dtype=np.int64)
    groups = shard_groups(ids, SHARDS)
    answers = await round_trip(redis, [("hmget", (count_key(s), [str(m) for m in ids[at].tolist()]))
                                       for s, at in groups])
    out = np.zeros(len(movies))
    for (_, at), values in zip(groups, answers, strict=True):
        out[at] = [float(v or 0) for v in values]
    return out.tolist()


def _unpack_rows(movies: list[int], blobs: list[bytes]) -> Pairs:
    rows = np.frombuffer(b"".join(blobs), dtype=ROW)
    a = np.repeat(np.asarray(movies, dtype=np.int64), [len(blob) // ROW.itemsize for blob in blobs])
    return Pairs(a, rows["b"].astype(np.int64), rows["w"].astype(np.float64))


def _pack_rows(merged: Pairs, movies: np.ndarray) -> list[bytes]:
    """Each of ``movies`` (sorted) as its packed row, from ``merged`` (sorted by movie)."""
    packed = np.empty(len(merged.a), dtype=ROW)
    packed["b"], packed["w"] = merged.b, merged.w
    bounds = np.searchsorted(merged.a, movies, side="right") * ROW.itemsize
    raw = packed.tobytes()
    return [raw[start:end] for start, end in zip(np.r_[0, bounds[:-1]].tolist(), bounds.tolist(), strict=True)]


class SimilarityStore:
    def __init__(self, redis: aioredis.Redis, read_cache_s: float = 0.0) -> None:
        self.redis = redis
        # The API's copies of the rows and counts it read (``storage.copies``), refreshed once older than
        # ``read_cache_s``. The similarity agent rewrites a row at most once a window (5 s by default),
        # so a copy that young shows what a reader would mostly have seen anyway.
        self._rows: Copies[int, bytes] = Copies(self._fetch_rows, read_cache_s, COPIES_CAP)
        self._counts: Copies[int, float] = Copies(lambda movies: counts_of(self.redis, movies), read_cache_s,
                                                   COPIES_CAP)
        self._cas = redis.register_script(script("similarity", "cas_rows"))
        self.refused = 0  # rows another worker wrote between this one's read and write (then merged again)

    async def clear(self) -> int:
        """Forget every co-occurrence, count and history (a rebuild from the stored history follows)."""
        doomed = [key async for key in self.redis.scan_iter(match="sim:*", count=5000)]
        for start in range(0, len(doomed), 5000):
            await self.redis.delete(*doomed[start:start + 5000])
        return len(doomed)

    async def _read(self, keys: list[str]) -> list[bytes]:
        return [blob or b"" for blob in await mget_chunked(self.redis, keys)]

    async def recent(self, users: np.ndarray) -> dict[int, list[int]]:
        """Each of ``users``' recent positive films, newest first (what ``CoOccurrence.update`` reads)."""
        distinct = np.unique(users).tolist()
        stored = await self._read([recent_key(u) for u in distinct])
        return {u: np.frombuffer(blob, dtype=RECENT).tolist() for u, blob in zip(distinct, stored, strict=True)}

    async def write(self, update: CoOccurrenceUpdate) -> int:
        """Merge the update into the rows and counts and store the people's recent films; returns how many
        movies' rows it wrote."""
        if not update.recent:
            return 0
        written = await self._merge(update.pairs, update.counted, update.counts)
        # people belong to one partition, so to one worker: their histories need no compare-and-set
        await mset_chunked(self.redis, {recent_key(u): np.asarray(films, dtype=RECENT).tobytes()
                                        for u, films in update.recent.items()})
        return written

    async def _merge(self, pairs: Pairs, counted: np.ndarray, counts: np.ndarray) -> int:
        """Merge the increments into their rows, re-reading and merging again the rows another
        worker wrote in between, until every row is written once; returns how many rows."""
        touched = np.union1d(np.unique(pairs.a), counted)
        count_of = np.zeros(len(touched))  # each touched movie's count increment, aligned with ``touched``
        count_of[np.searchsorted(touched, counted)] = counts
        written = len(touched)
        while len(touched):
            mine = np.isin(pairs.a, touched)
            increments = Pairs(pairs.a[mine], pairs.b[mine], pairs.w[mine])
            blobs = await self._read([row_key(m) for m in touched.tolist()])
            merged = merge_rows(_unpack_rows(touched.tolist(), blobs), increments, KEEP, PRUNE_AT)
            rows = _pack_rows(merged, touched)
            calls, positions = [], []
            for shard, at in shard_groups(touched, SHARDS):  # one script a shard's rows and counts: one slot
                for start in range(0, len(at), ROWS_PER_SCRIPT):
                    part = at[start:start + ROWS_PER_SCRIPT].tolist()
                    ids = touched[part].tolist()
                    lengths = np.array([(len(blobs[j]), len(rows[j])) for j in part], dtype="<i4")
                    movie_counts = np.empty(len(ids), dtype=[("m", "<i4"), ("c", "<f4")])
                    movie_counts["m"], movie_counts["c"] = ids, count_of[part]
                    calls.append((self._cas, [*map(row_key, ids), count_key(shard)],
                                  [lengths.tobytes(), b"".join(blobs[j] for j in part),
                                   b"".join(rows[j] for j in part), movie_counts.tobytes()]))
                    positions.append(part)
            answers = await run_scripts(self.redis, calls)
            # positions into ``touched``, sorted as it must stay (the merge searches it)
            refused = sorted(part[int(i) - 1] for part, answer in zip(positions, answers, strict=True) for i in answer)
            self.refused += len(refused)
            touched, count_of = touched[refused], count_of[refused]
        return written

    async def similar(self, movie: int, k: int = 10) -> list[tuple[int, float]]:
        """Top-``k`` neighbours by cosine, re-ranked from the ``4k`` strongest raw co-occurrences; the row
        and the counts from this process' copies (a popular film's page is asked for many times a second)."""
        (blob,), _ = await self._rows_and_counts([movie], [])
        row = np.frombuffer(blob, dtype=ROW)
        if not len(row):
            return []
        strongest = row[np.lexsort((row["b"], -row["w"]))[: 4 * k]]
        ids = strongest["b"].tolist()
        _, counts = await self._rows_and_counts([], [movie, *ids])
        own = float(counts[0])
        others = counts[1:]
        scores = CoOccurrence.cosine(strongest["w"].astype(np.float64), own, others)
        order = np.argsort(-scores, kind="stable")[:k]
        return [(ids[j], float(scores[j])) for j in order]

    async def best_anchor(self, candidates: list[int], liked: list[int]) -> dict[int, int | None]:
        """For each candidate, the liked movie most similar to it (the "because you rated …").

        Similarity is the cosine ``C(j, a) / sqrt(N(j) N(a))``, so a blockbuster everyone rated
        does not explain every suggestion. The liked movies' counts and the candidates' rows come
        from this process' copies (``storage.copies``); all candidates are scored at once (a numpy loop
        over them took 0.2 ms a request)."""
        if not candidates or not liked:
            return dict.fromkeys(candidates)
        rows, counts = await self._rows_and_counts(candidates, liked)
        sizes = np.fromiter(map(len, rows), dtype=np.int64, count=len(rows)) // ROW.itemsize
        flat = np.frombuffer(b"".join(rows), dtype=ROW) if sizes.sum() else np.zeros(1, dtype=ROW)
        keys = (np.repeat(np.arange(len(rows), dtype=np.int64), sizes) << 32) | flat["b"][: sizes.sum()]
        wanted = ((np.arange(len(rows), dtype=np.int64) << 32)[:, None] | np.asarray(liked, dtype=np.int64)).ravel()
        at = np.minimum(np.searchsorted(keys, wanted), max(len(keys) - 1, 0))
        found = (keys[at] == wanted) if len(keys) else np.zeros(len(wanted), dtype=bool)
        cooc = np.where(found, flat["w"][at], 0.0).astype(np.float64).reshape(len(rows), len(liked))
        similarity = CoOccurrence.cosine(cooc, 1.0, counts)  # N(j) is common to all of a candidate's anchors
        best = np.argmax(similarity, axis=1)
        explained = similarity[np.arange(len(rows)), best] > 0
        return {movie: liked[b] if ok else None
                for movie, b, ok in zip(candidates, best.tolist(), explained.tolist(), strict=True)}

    async def _fetch_rows(self, movies: list[int]) -> list[bytes]:
        return [blob or b"" for blob in await mget_chunked(self.redis, [row_key(m) for m in movies])]

    async def _rows_and_counts(self, movies: list[int], counted: list[int]) -> tuple[list[bytes], np.ndarray]:
        """The movies' packed rows and the ``counted`` movies' counts N(i), from the copies (``storage.copies``)."""
        rows, counts = await asyncio.gather(self._rows.get(movies), self._counts.get(counted))
        return rows, np.array(counts, dtype=np.float64)
