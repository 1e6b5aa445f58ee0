"""A Redis written in the layout before the keys were sharded is moved in place: the model, its
statistics and offsets, the side models and the content vectors are found under the new keys, a
batch already applied is still skipped, and the API's copy serves from them."""

from __future__ import annotations

import numpy as np
import pytest
import redis.asyncio as aioredis

from online_models.biased_mf import BiasedMF
from storage import key_migration, model_keys
from storage.item_factors import ItemFactors
from storage.model_store import item_members
from storage.similarity_store import counts_of, row_key
from storage.trending_store import TRENDING
from streams.mf_learning import ExactlyOnceMF, RatingBatch

pytestmark = pytest.mark.integration
REDIS_DB = 3  # shared with test_accounts (modules run one after the other; each empties it)
MF = BiasedMF(n_factors=8, seed=0)


async def test_the_old_layout_is_moved_and_still_exactly_once(redis_db: aioredis.Redis) -> None:
    rows = MF.rows_for(np.array([1, 2, 260, 1196]), 1)
    old = {"mf:u:1": rows[0].tobytes(), "mf:u:2": rows[1].tobytes(), "mf:i:260": rows[2].tobytes(),
           "mf:i:1196": rows[3].tobytes(), "mf:seen-v:1": b"7", "mf:h:1": b"\x00" * 12, "sim:row:260": b"\x01" * 8,
           "mf:applied:ratings:0": b"41", "mf:applied:ratings:1": b"17", "content:ids": b"ids",
           "content:vecs": b"vecs", "trend:epoch": b"1.5"}
    await redis_db.mset(old)
    await redis_db.hset("mf:seen:1", mapping={"260": "4.5"})
    await redis_db.sadd("mf:items", 260, 1196)
    await redis_db.hset("mf:stats", mapping={"n": 42, "sum": 150.5})
    await redis_db.hset("mf:preq", mapping={"n": 42, "sse": 30.0, "sae": 25.0})
    await redis_db.hset("sim:count", mapping={"260": 3.0, "1196": 2.0})
    await redis_db.zadd("trend:movies", {"260": 2.0})
    await redis_db.xadd("mf:item-log", {"ids": b"x"}, id="1-0")

    assert await key_migration.migrate(redis_db) > 0
    assert await redis_db.get(model_keys.user_key(1)) == old["mf:u:1"]
    assert await redis_db.get(model_keys.item_key(1196)) == old["mf:i:1196"]
    assert await redis_db.hgetall(model_keys.seen_key(1)) == {b"260": b"4.5"}
    assert await redis_db.get(model_keys.history_key(1)) == old["mf:h:1"]
    assert (await item_members(redis_db)).tolist() == [260, 1196]
    assert await redis_db.hgetall(model_keys.STATS) == {b"n": b"42", b"sum": b"150.5", b"sse": b"30.0", b"sae": b"25.0"}
    assert await redis_db.hget(model_keys.COMMIT_APPLIED, "ratings:0") == b"41"
    assert await redis_db.hget(model_keys.applied_key(model_keys.USER, 5), "ratings:1") == b"17"
    assert await redis_db.get(row_key(260)) == old["sim:row:260"]
    assert await counts_of(redis_db, [260, 1196]) == [3.0, 2.0]
    assert await redis_db.zscore(TRENDING, "260") == 2.0
    leftovers = [k async for k in redis_db.scan_iter(match="*") if not (b"{" in k or k.startswith(b"mf:items:"))]
    assert leftovers == [], leftovers  # every old key moved or dropped
    assert await key_migration.migrate(redis_db) == 0  # nothing left to move

    learner = ExactlyOnceMF.over(redis_db, MF)
    replayed = RatingBatch("ratings", np.array([0, 0]), np.array([40, 41]), np.array([2, 2]), np.array([260, 1196]),
                           np.array([5.0, 3.0], dtype=np.float32))
    assert (await learner.apply(replayed)).skipped == 2  # applied before the move: still skipped
    fresh = RatingBatch("ratings", np.array([0]), np.array([42]), np.array([2]), np.array([260]),
                        np.array([5.0], dtype=np.float32))
    assert (await learner.apply(fresh)).applied == 1
    assert float(await redis_db.hget(model_keys.STATS, "n") or 0) == 43
    top, rated, _ = await ItemFactors(redis_db, MF.width).recommend(1, 5)
    assert [m for m, _ in top] == [1196] and rated == {260: 4.5}
