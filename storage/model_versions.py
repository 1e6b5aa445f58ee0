"""Versions of the online MF model in Redis: install a fitted model, snapshot, roll back.

A version is a frozen copy of every row plus the global statistics:
``mf:snap:<v>:u`` / ``mf:snap:<v>:i`` (hash id -> row bytes) and ``mf:snap:<v>:meta``.
``mf:versions`` lists them (sorted by number) and ``mf:current`` names the one the live rows
started from. Installing or rolling back rewrites the live rows the stream keeps learning on;
the stream's applied offsets are untouched, so it continues from where it was.
"""

from __future__ import annotations

import json
import time
from typing import Any, cast

import numpy as np
import redis.asyncio as aioredis

from online_models.batch_fit import Fitted
from storage.item_log import announce_all
from storage.model_keys import ITEM_ROW, ITEM_SETS, STATS, USER_ROW, item_key, user_key
from storage.redis_store import is_cluster, mget_chunked, round_trip
from storage.shards import shard_groups

VERSIONS, CURRENT, COUNTER = "mf:versions", "mf:current", "mf:version-counter"
CHUNK = 2000


def snap_key(version: int, part: str) -> str:
    return f"mf:snap:{version}:{part}"


async def _live_rows(redis: aioredis.Redis, prefix: str) -> dict[int, bytes]:
    keys = [key async for key in redis.scan_iter(match=f"{prefix}*", count=CHUNK)]
    rows: dict[int, bytes] = {}
    for key, blob in zip(keys, await mget_chunked(redis, keys), strict=True):
        if blob is not None:
            rows[int(key.decode().rsplit(":", 1)[1])] = cast(bytes, blob)
    return rows


async def _save(redis: aioredis.Redis, version: int, users: dict[int, bytes], items: dict[int, bytes],
                meta: dict[str, Any]) -> None:
    async with redis.pipeline(transaction=False) as pipe:
        for part, rows in (("u", users), ("i", items)):
            pairs = list(rows.items())
            for start in range(0, len(pairs), CHUNK):
                pipe.hset(snap_key(version, part), mapping=dict(pairs[start:start + CHUNK]))
        pipe.set(snap_key(version, "meta"), json.dumps(meta))
        pipe.zadd(VERSIONS, {str(version): version})
        await pipe.execute()


async def _make_live(redis: aioredis.Redis, version: int, users: dict[int, bytes], items: dict[int, bytes],
                     n: float, total: float) -> None:
    stale = [key for prefix in (USER_ROW, ITEM_ROW) async for key in redis.scan_iter(match=prefix + "*", count=CHUNK)]
    drop: list[tuple[str, tuple[Any, ...]]] = [("delete", tuple(group)) for group in _by_tag(stale)]
    drop += [("delete", (members,)) for members in ITEM_SETS]
    write: list[tuple[str, tuple[Any, ...]]] = []
    for rows, key in ((users, user_key), (items, item_key)):
        every = np.fromiter(rows, dtype=np.int64, count=len(rows))
        for shard, at in shard_groups(every):  # an MSET a shard: its keys share a slot
            ids = every[at].tolist()
            write += [("mset", ({key(i): rows[i] for i in ids[start:start + CHUNK]},))
                      for start in range(0, len(ids), CHUNK)]
            if rows is items:
                write.append(("sadd", (ITEM_SETS[shard], *ids)))
    write += [("hset", (STATS, "n", n)), ("hset", (STATS, "sum", total)), ("set", (CURRENT, version))]
    if is_cluster(redis):
        # a cluster cannot span slots in one transaction; the stream's compare-and-write refuses
        # whatever it meets half-installed, so the rows converge either way
        await round_trip(redis, drop)
        await round_trip(redis, write)
    else:
        await round_trip(redis, drop + write, transaction=True)
    await announce_all(redis)  # the API processes reload their copies of the item rows


def _by_tag(keys: list[bytes]) -> list[list[bytes]]:
    """Keys grouped by hash tag, in chunks: one ``DEL`` each stays in one slot."""
    groups: dict[bytes, list[bytes]] = {}
    for key in keys:
        groups.setdefault(key[key.find(b"{"):key.find(b"}") + 1], []).append(key)
    return [group[start:start + CHUNK] for group in groups.values() for start in range(0, len(group), CHUNK)]


async def snapshot(redis: aioredis.Redis, note: str) -> int:
    """Freeze the live rows (what the stream has learned so far) as a new version."""
    version = int(await redis.incr(COUNTER))
    stats = await redis.hgetall(STATS)
    users, items = await _live_rows(redis, USER_ROW), await _live_rows(redis, ITEM_ROW)
    await _save(redis, version, users, items, {
        "created": time.time(), "note": note, "users": len(users), "items": len(items),
        "n": float(stats.get(b"n", 0)), "sum": float(stats.get(b"sum", 0))})
    return version


async def install(redis: aioredis.Redis, fitted: Fitted, note: str) -> tuple[int, int]:
    """Keep the live state as a version, then make ``fitted`` live as a new one. Returns both."""
    previous = await snapshot(redis, "live state before install")
    version = int(await redis.incr(COUNTER))
    users = {int(u): row.tobytes() for u, row in zip(fitted.user_ids, fitted.users, strict=True)}
    items = {int(i): row.tobytes() for i, row in zip(fitted.item_ids, fitted.items, strict=True)}
    n = float(fitted.n_ratings)
    meta = {"created": time.time(), "note": note, "users": len(users), "items": len(items), "n": n,
            "sum": fitted.global_mean * n, "train_rmse": fitted.rmse}
    await _save(redis, version, users, items, meta)
    await _make_live(redis, version, users, items, n, fitted.global_mean * n)
    return previous, version


async def rollback(redis: aioredis.Redis, version: int) -> dict[str, Any]:
    raw = await redis.get(snap_key(version, "meta"))
    if raw is None:
        raise KeyError(f"no model version {version}")
    meta: dict[str, Any] = json.loads(raw)
    users = {int(k): cast(bytes, v) for k, v in (await redis.hgetall(snap_key(version, "u"))).items()}
    items = {int(k): cast(bytes, v) for k, v in (await redis.hgetall(snap_key(version, "i"))).items()}
    await _make_live(redis, version, users, items, meta["n"], meta["sum"])
    return meta


async def versions(redis: aioredis.Redis) -> list[dict[str, Any]]:
    numbers = [int(cast(bytes, v)) for v in await redis.zrange(VERSIONS, 0, -1)]
    current = await redis.get(CURRENT)
    metas = await redis.mget([snap_key(v, "meta") for v in numbers]) if numbers else []
    return [{"version": v, "current": current is not None and int(current) == v, **json.loads(m)}
            for v, m in zip(numbers, metas, strict=True) if m is not None]

