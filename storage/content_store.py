"""Content vectors of the catalogue in Redis, for the stream workers.

- ``{content}:ids``: movie ids, sorted, packed int64;
- ``{content}:vecs``: their unit vectors, packed float32, one row per id (one hash tag: one slot,
  so one ``MGET`` reads both on a Redis Cluster too). Written by ``cinestream model publish`` (or a
  bench) and read once by each learning worker (``online_models.residual_knn``).
- ``{content}:overviews``: a hash, movie id → its overview's MiniLM embedding (384 float32, 1,536
  bytes a film that has an overview; nothing else, whatever the number of people or events).
  Installed by ``model publish``, which counts each installation in ``{content}:overviews-version``;
  the catalogue agent reads them within seconds of a change (and says which installation it uses in
  ``{content}:overviews-in-use``) and adds the embedding of each title that arrives, so a new title's
  content neighbours weigh its story as the published ones do.
"""

from __future__ import annotations

import numpy as np
import redis.asyncio as aioredis

IDS, VECS, OVERVIEWS = "{content}:ids", "{content}:vecs", "{content}:overviews"
OVERVIEWS_VERSION = "{content}:overviews-version"
OVERVIEWS_IN_USE = "{content}:overviews-in-use"  # the installation the catalogue agent compares titles with


async def install(redis: aioredis.Redis, ids: np.ndarray, vectors: np.ndarray) -> None:
    order = np.argsort(ids)
    await redis.mset({IDS: np.ascontiguousarray(ids[order], dtype="<i8").tobytes(),  # one slot: atomic
                      VECS: np.ascontiguousarray(vectors[order], dtype="<f4").tobytes()})


async def load(redis: aioredis.Redis) -> tuple[np.ndarray, np.ndarray] | None:
    """``(ids, vectors)``, or None when no vectors were installed."""
    ids, vecs = await redis.mget([IDS, VECS])
    if not isinstance(ids, bytes) or not isinstance(vecs, bytes) or not ids:
        return None
    id_array = np.frombuffer(ids, dtype="<i8")
    return id_array, np.frombuffer(vecs, dtype="<f4").reshape(len(id_array), -1)


async def install_overviews(redis: aioredis.Redis, ids: np.ndarray, vectors: np.ndarray | None) -> int:
    """Replace the overview embeddings by ``vectors`` (rows for ``ids``; a zero row, no overview, is left
    out; None: there are none now) in one transaction; how many were stored."""
    has = np.abs(vectors).sum(axis=1) > 0 if vectors is not None else np.zeros(len(ids), dtype=bool)
    async with redis.pipeline(transaction=True) as pipe:
        pipe.delete(OVERVIEWS)
        if vectors is not None and has.any():
            pipe.hset(OVERVIEWS, mapping={int(m): np.ascontiguousarray(v, dtype="<f4").tobytes()
                                          for m, v in zip(ids[has].tolist(), vectors[has], strict=True)})
        pipe.incr(OVERVIEWS_VERSION)
        await pipe.execute()
    return int(has.sum())


async def set_overviews(redis: aioredis.Redis, vectors: dict[int, np.ndarray | None]) -> None:
    """Store the embeddings of titles added or changed while the system runs (None: the title has no
    overview now, so no embedding), in one round trip."""
    stored = {m: np.ascontiguousarray(v, dtype="<f4").tobytes() for m, v in vectors.items() if v is not None}
    gone = [m for m, v in vectors.items() if v is None]
    async with redis.pipeline(transaction=False) as pipe:
        if stored:
            pipe.hset(OVERVIEWS, mapping=stored)  # type: ignore[arg-type]
        if gone:
            pipe.hdel(OVERVIEWS, *gone)
        await pipe.execute()


async def overviews_version(redis: aioredis.Redis) -> int:
    """How many times the catalogue's embeddings were installed (0: never)."""
    return int(await redis.get(OVERVIEWS_VERSION) or 0)


async def overviews_in_use(redis: aioredis.Redis) -> int:
    """The installation the catalogue agent compares new titles with (0: none yet)."""
    return int(await redis.get(OVERVIEWS_IN_USE) or 0)


async def use_overviews(redis: aioredis.Redis, version: int) -> None:
    await redis.set(OVERVIEWS_IN_USE, version)


async def overviews(redis: aioredis.Redis) -> tuple[int, dict[int, np.ndarray]]:
    """Every stored overview embedding by movie id (empty: none installed), and the installation they
    belong to (one transaction: the two always agree)."""
    async with redis.pipeline(transaction=True) as pipe:
        pipe.get(OVERVIEWS_VERSION)
        pipe.hgetall(OVERVIEWS)
        version, raw = await pipe.execute()
    return int(version or 0), {int(m): np.frombuffer(v, dtype="<f4") for m, v in raw.items() if isinstance(v, bytes)}
