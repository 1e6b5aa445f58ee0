"""Online MF recommendation latency as the catalogue grows: ml-latest-small's 9,742 movies, ml-25m's
59,047, and synthetic catalogues up to a million, with synthetic rows of the model's width.

Per size, in the same run:
- the reference: what the API did before, every item row read from Redis (``SMEMBERS`` + ``MGET``)
  and scanned per request;
- ``ItemFactors.recommend``: the API's path now, one round trip for the user's row, their
  ratings' version and the log's position, then one BLAS call and ``argpartition`` in memory;
- the in-memory scoring alone (``ItemMatrix.recommend``), which is what grows with the catalogue,
  to show where an approximate index (HNSW: hnswlib, faiss-cpu) starts to pay.

The user has rated 2,700 movies (the heaviest in ml-latest-small), all excluded. Sizes past
``--redis-max`` are measured in memory only (a million rows in Redis is 136 MB and a minute to
write). Usage: ``python -m bench.mf_serving`` with the local Redis up (uses database 1, emptied).
"""

from __future__ import annotations

import argparse
import asyncio
import time
from collections.abc import Awaitable, Callable
from functools import partial
from typing import cast

import numpy as np
import pandas as pd
import redis.asyncio as aioredis
from rich.progress import track

from bench import record
from core.settings import get_settings
from online_models.biased_mf import BiasedMF
from online_models.item_matrix import ItemMatrix
from storage import item_log
from storage.item_factors import ItemFactors
from storage.model_keys import ITEM_SETS, item_key, item_shard, seen_key, user_key
from storage.model_store import item_members
from storage.redis_store import mset_chunked

MF = BiasedMF(n_factors=32, seed=0)
USER = 1


async def _write(redis: aioredis.Redis, ids: np.ndarray, rows: np.ndarray, rated: np.ndarray) -> None:
    await redis.flushdb()
    blob = rows.tobytes()
    width = rows.shape[1] * 4
    for start in range(0, len(ids), 20_000):
        chunk = ids[start:start + 20_000]
        await mset_chunked(redis, {item_key(int(m)): blob[width * (start + j):width * (start + j + 1)]
                                   for j, m in enumerate(chunk)})
        async with redis.pipeline(transaction=False) as pipe:
            for m in chunk.tolist():
                pipe.sadd(ITEM_SETS[item_shard(m)], m)
            await pipe.execute()
    await redis.set(user_key(USER), MF.new_rows(1)[0].tobytes())
    await redis.hset(seen_key(USER), mapping={str(m): 4.0 for m in rated.tolist()})
    await item_log.announce_all(redis)


async def _reference(redis: aioredis.Redis, k: int) -> list[tuple[int, float]]:
    """Every item row from Redis per request: the API before the in-memory copy."""
    async with redis.pipeline(transaction=False) as pipe:
        pipe.get(user_key(USER))
        pipe.hkeys(seen_key(USER))
        blob, seen = await pipe.execute()
    ids = await item_members(redis)
    rows = np.frombuffer(b"".join(cast(list[bytes], await redis.mget([item_key(int(i)) for i in ids]))), np.float32)
    return MF.recommend(np.frombuffer(blob, np.float32), rows.reshape(len(ids), -1), ids, k,
                        exclude={int(s) for s in seen})


async def _timed(call: Callable[[], Awaitable[object]], repeat: int) -> float:
    """Median milliseconds of ``repeat`` awaited calls of ``call()``."""
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        await call()
        times.append(time.perf_counter() - started)
    return float(np.median(times) * 1000)


async def run(sizes: list[int], redis_max: int, repeat: int) -> pd.DataFrame:
    settings = get_settings()
    redis = aioredis.Redis.from_url(settings.redis_url.rsplit("/", 1)[0] + "/1")
    rng = np.random.default_rng(0)
    out = {}
    try:
        for n in track(sizes, description="catalogue sizes"):
            ids = np.sort(rng.choice(max(n * 3, 300_000), n, replace=False)).astype(np.int64)
            rows = MF.rows_for(ids, 2)
            rows[:, 0] = rng.normal(0, 0.3, n)
            rated = rng.choice(ids, min(2700, n // 2), replace=False)
            matrix = ItemMatrix.of(ids, rows)
            user_row = MF.new_rows(1)[0]
            figures = {"in-memory scoring ms": await _timed(partial(_sync, matrix, user_row, rated), repeat),
                       "matrix MB": (matrix.factors.nbytes + matrix.bias.nbytes) / 1e6}
            if n <= redis_max:
                await _write(redis, ids, rows, rated)
                served = ItemFactors(redis, MF.width)
                await served.refresh()
                mine = await served.recommend(USER, 50)
                assert [m for m, _ in mine[0]] == [m for m, _ in await _reference(redis, 50)]  # the same list
                before = "every row from Redis ms (before)"
                figures["API path ms"] = await _timed(partial(served.recommend, USER, 50), repeat)
                figures[before] = await _timed(partial(_reference, redis, 50), max(3, repeat // 10))
                figures["speed-up"] = figures[before] / figures["API path ms"]
            out[f"{n:,} movies"] = figures
    finally:
        await redis.flushdb()
        await redis.aclose()
    return pd.DataFrame(out).T


async def _sync(matrix: ItemMatrix, user: np.ndarray, rated: np.ndarray) -> None:
    matrix.recommend(user, 50, rated)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="9742,59047,250000,1000000")
    parser.add_argument("--redis-max", type=int, default=60_000, help="largest catalogue also written to Redis")
    parser.add_argument("--repeat", type=int, default=100)
    record.add_option(parser)
    args = parser.parse_args()
    table = asyncio.run(run([int(s) for s in args.sizes.split(",")], args.redis_max, args.repeat))
    print(f"online MF top-50 for a user with 2,700 rated movies excluded, {MF.n_factors} factors, median of "
          f"{args.repeat} calls")
    print(table.round(3).to_string())
    if args.record:
        rows = record.rows_of(table)
        record.write("mf-serving", "online MF top-50 as the catalogue grows (a user with 2,700 rated movies)",
                     {f"{size}: {column}": value for size, row in rows.items() for column, value in row.items()
                      if column in ("API path ms", "speed-up")},
                     "API path: one Redis round trip and in-memory scoring; before: every row read from Redis", rows)


if __name__ == "__main__":
    main()
