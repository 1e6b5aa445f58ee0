"""Move a Redis written in the unsharded layout to the sharded one, in place.

The unsharded layout kept the model under untagged keys (``mf:u:<user>``, ``mf:i:<movie>``, ``mf:items``,
``mf:stats`` and ``mf:preq``, ``mf:applied:<topic>:<partition>``, …) and the side models under
``sim:row:<movie>``, ``sim:count``, ``trend:*`` and ``content:*``. A stack upgraded without this would
serve an empty online model while its replay mark said the dataset was learned (and replaying it
again would list every event twice in the history). So the main job's replay step moves the keys
first: rows and per-person keys are renamed (one Redis: ``RENAME`` across slots is allowed there;
a cluster never held the old layout), the statistics merged into ``{mf}:stats``, the members split
by shard, and each partition's applied offset given to every shard and the commit, which is what
they hold. The item change log is dropped: the API processes reload their copies from the new
epoch. Idempotent: a Redis without old keys is left alone.
"""

from __future__ import annotations

from typing import Any

import redis.asyncio as aioredis

from storage import content_store, model_keys, similarity_store, trending_store
from storage.redis_store import is_cluster

OLD_STATS, OLD_PREQ, OLD_ITEMS, OLD_APPLIED = "mf:stats", "mf:preq", "mf:items", "mf:applied:"
_PER_ID = {"mf:u:": model_keys.user_key, "mf:seen:": model_keys.seen_key, "mf:seen-v:": model_keys.seen_version_key,
           "mf:h:": model_keys.history_key, "mf:i:": model_keys.item_key, "sim:row:": similarity_store.row_key}
_RENAMED = {"mf:curve": model_keys.CURVE, "mf:drifts": model_keys.DRIFTS, "trend:movies": trending_store.TRENDING,
            "trend:epoch": trending_store.EPOCH, "content:ids": content_store.IDS, "content:vecs": content_store.VECS}
_DROPPED = ("mf:item-log", "mf:item-seq", "mf:item-epoch")


def _new_name(key: str) -> str | None:
    """The sharded name of an old per-user or per-movie key (None: not one)."""
    for prefix, name_of in _PER_ID.items():
        rest = key.removeprefix(prefix)
        if rest != key and rest.isdigit():
            return name_of(int(rest))
    return None


async def migrate(redis: aioredis.Redis) -> int:
    """Move every key of the old layout; returns how many were moved (0: nothing to do)."""
    if is_cluster(redis) or not await redis.exists(OLD_STATS, OLD_ITEMS, *_RENAMED):
        return 0
    moved = 0
    async with redis.pipeline(transaction=False) as pipe:
        async for raw in redis.scan_iter(match="*", count=5000):
            key = raw.decode()
            new = _new_name(key)
            if new is not None:
                pipe.rename(key, new)
                moved += 1
        await pipe.execute()
    stats: dict[Any, Any] = {**await redis.hgetall(OLD_PREQ), **await redis.hgetall(OLD_STATS)}  # sse, sae; n, sum
    offsets = [key.decode() async for key in redis.scan_iter(match=f"{OLD_APPLIED}*")]
    applied = {key: value for key, value in zip(offsets, await redis.mget(offsets) if offsets else [], strict=True)
               if value is not None}
    members = [int(m) for m in await redis.smembers(OLD_ITEMS)]
    counts = await redis.hgetall("sim:count")
    async with redis.pipeline(transaction=True) as pipe:
        if stats:
            pipe.hset(model_keys.STATS, mapping=stats)
        by_partition = {key.removeprefix(OLD_APPLIED): value for key, value in applied.items()}
        if by_partition:  # every shard and the commit hold what the partition had applied
            for kind in (model_keys.USER, model_keys.ITEM):
                for shard in range(model_keys.SHARDS):
                    pipe.hset(model_keys.applied_key(kind, shard), mapping=by_partition)
            pipe.hset(model_keys.COMMIT_APPLIED, mapping=by_partition)
        for movie in members:
            pipe.sadd(model_keys.ITEM_SETS[model_keys.item_shard(movie)], movie)
        for counted, count in counts.items():
            pipe.hset(similarity_store.count_key(int(counted) % similarity_store.SHARDS), counted, count)
        for old, new in _RENAMED.items():
            if await redis.exists(old):
                pipe.rename(old, new)
        pipe.delete(OLD_STATS, OLD_PREQ, OLD_ITEMS, "sim:count", *applied, *_DROPPED)
        await pipe.execute()
    return moved + len(applied) + bool(stats) + bool(members) + bool(counts)
