"""Item–item co-occurrence in Redis (see ``online_models.cooccurrence``).

- ``sim:hist:<user>``: the user's recent positive items, newest first (capped list)
- ``sim:co:<movie>``: sorted set of co-occurrence weights with other movies, at most
  ``PRUNE_AT`` (128) members: on reaching it, it keeps its ``KEEP`` (100) heaviest, so it stays in
  Redis' compact listpack encoding (about 2 KB a movie, 120 MB at ml-25m's 59,047). Unbounded, a
  replayed ml-latest-small and a few load runs grew them to 2,400 members and Redis to 1.8 GB, whose
  AOF rewrites forked for 66 ms at a time and stalled every API request behind them. A pair
  evicted while light starts again from its next weight: the strong neighbours, the ones ever
  shown or used as a reason, are the ones kept (the heavy-hitters compromise of a capped top list).
- ``sim:count``: hash movie -> its total positive weight N(i)

One pipelined read of the batch's users' histories, then one pipelined write of the
aggregated increments (duplicate pairs in a batch are summed first).
"""

from __future__ import annotations

from typing import cast

import numpy as np
import redis.asyncio as aioredis

from online_models.cooccurrence import CoOccurrence

COUNT = "sim:count"
# Pairs per script call: a script blocks Redis while it runs, and one call for a whole batch (40,000
# increments) held every API request behind it for tens of milliseconds; 2,000 take about a
# millisecond, and the calls of one batch still travel in one pipeline.
SCRIPT_PAIRS = 2000
KEEP, PRUNE_AT = 100, 128  # a movie's co-occurrences: see the module's docstring

# Applies a whole batch of increments sent as packed binary (int32 a, int32 b, float32 w):
# one command instead of one per pair: on 30k real ratings (history 20) a command per pair ran
# 2.8k events/s, this script 10.3k, now bound by Redis itself. Keys are computed inside the script,
# which Redis Cluster forbids: a cluster deployment needs per-slot batches (noted in README).
APPLY_LUA = """
local packed, counts, keep, prune_at = ARGV[1], ARGV[2], tonumber(ARGV[3]), tonumber(ARGV[4])
for pos = 1, #packed, 12 do
  local a, b, w = struct.unpack('<i4i4f', packed, pos)
  local key = 'sim:co:' .. a
  redis.call('ZINCRBY', key, w, b)
  -- at once, not at the end of the call: past 128 members Redis converts the set to a skiplist for good
  if redis.call('ZCARD', key) >= prune_at then redis.call('ZREMRANGEBYRANK', key, 0, -(keep + 1)) end
end
for pos = 1, #counts, 8 do
  local m, c = struct.unpack('<i4f', counts, pos)
  redis.call('HINCRBYFLOAT', 'sim:count', m, c)
end
return #packed / 12
"""


def history_key(user: int) -> str:
    return f"sim:hist:{user}"


def cooc_key(movie: int) -> str:
    return f"sim:co:{movie}"


class SimilarityStore:
    def __init__(self, redis: aioredis.Redis, model: CoOccurrence) -> None:
        self.redis = redis
        self.model = model
        self._apply = redis.register_script(APPLY_LUA)

    async def clear(self) -> int:
        """Forget every co-occurrence, count and history (a rebuild from the stored history follows)."""
        doomed = [key async for key in self.redis.scan_iter(match="sim:*", count=5000)]
        for start in range(0, len(doomed), 5000):
            await self.redis.delete(*doomed[start:start + 5000])
        return len(doomed)

    async def add(self, users: np.ndarray, movies: np.ndarray, weights: np.ndarray) -> int:
        keep = weights > 0
        users, movies, weights = users[keep], movies[keep], weights[keep]
        if not len(users):
            return 0
        distinct = np.unique(users).tolist()
        async with self.redis.pipeline(transaction=False) as pipe:
            for user in distinct:
                pipe.lrange(history_key(user), 0, self.model.history - 1)
            stored = dict(zip(distinct, await pipe.execute(), strict=True))
        # A user's earlier events in this batch are part of the history of their later ones.
        recent = {u: [int(m) for m in stored[u]] for u in distinct}
        histories: list[list[int]] = []
        for user, movie in zip(users.tolist(), movies.tolist(), strict=True):
            histories.append(recent[user][: self.model.history])
            recent[user].insert(0, movie)
        pairs = self.model.pairs(movies, histories, weights)
        # one int64 per pair (ids are non-negative int32): a 1-D unique, where np.unique(axis=0) on
        # two columns had kept the side role at a full core for minutes on ml-1m-sized batches
        keys = (np.asarray(pairs.a, dtype=np.int64) << 32) | np.asarray(pairs.b, dtype=np.int64)
        unique_keys, index = np.unique(keys, return_inverse=True)
        summed = np.bincount(index.ravel(), weights=pairs.w, minlength=len(unique_keys))
        unique_pairs = np.stack([unique_keys >> 32, unique_keys & 0xFFFFFFFF], axis=1)
        counted, count_index = np.unique(movies, return_inverse=True)
        counts = np.bincount(count_index, weights=weights, minlength=len(counted))
        packed_pairs = np.empty(len(unique_pairs), dtype=[("a", "<i4"), ("b", "<i4"), ("w", "<f4")])
        packed_pairs["a"], packed_pairs["b"], packed_pairs["w"] = unique_pairs[:, 0], unique_pairs[:, 1], summed
        packed_counts = np.empty(len(counted), dtype=[("m", "<i4"), ("c", "<f4")])
        packed_counts["m"], packed_counts["c"] = counted, counts
        async with self.redis.pipeline(transaction=False) as pipe:
            for start in range(0, max(len(packed_pairs), 1), SCRIPT_PAIRS):  # Redis serves others in between
                counts_once = packed_counts.tobytes() if start == 0 else b""
                await self._apply(args=[packed_pairs[start:start + SCRIPT_PAIRS].tobytes(), counts_once, KEEP,
                                        PRUNE_AT], client=pipe)
            for user in distinct:
                pipe.delete(history_key(user))
                pipe.rpush(history_key(user), *recent[user][: self.model.history])
            await pipe.execute()
        return len(unique_pairs)

    async def similar(self, movie: int, k: int = 10) -> list[tuple[int, float]]:
        """Top-``k`` neighbours by cosine, re-ranked from the strongest raw co-occurrences."""
        candidates = cast(list[tuple[bytes, float]],
                          await self.redis.zrevrange(cooc_key(movie), 0, 4 * k - 1, withscores=True))
        if not candidates:
            return []
        ids = [int(m) for m, _ in candidates]
        counts = await self.redis.hmget(COUNT, [str(movie), *map(str, ids)])
        own = float(counts[0] or 0)
        others = np.array([float(c or 0) for c in counts[1:]])
        scores = self.model.cosine(np.array([s for _, s in candidates]), own, others)
        order = np.argsort(-scores, kind="stable")[:k]
        return [(ids[j], float(scores[j])) for j in order]

    async def best_anchor(self, candidates: list[int], liked: list[int]) -> dict[int, int | None]:
        """For each candidate, the liked movie most similar to it (the "because you rated …").

        Similarity is the cosine ``C(j, a) / sqrt(N(j) N(a))``, so a blockbuster everyone rated
        does not explain every suggestion."""
        if not candidates or not liked:
            return dict.fromkeys(candidates)
        async with self.redis.pipeline(transaction=False) as pipe:
            pipe.hmget(COUNT, [str(m) for m in liked])
            for movie in candidates:
                pipe.zmscore(cooc_key(movie), [str(m) for m in liked])
            counts, *rows = await pipe.execute()
        liked_counts = np.array([float(c or 0) for c in counts])
        anchors: dict[int, int | None] = {}
        for movie, scores in zip(candidates, rows, strict=True):
            cooc = np.array([s or 0.0 for s in scores])
            similarity = self.model.cosine(cooc, 1.0, liked_counts)  # N(j) is common to all anchors
            best = int(np.argmax(similarity))
            anchors[movie] = liked[best] if similarity[best] > 0 else None
        return anchors
