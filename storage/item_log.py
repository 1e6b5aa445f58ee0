"""``{mf}:item-log``: which item rows the learning workers changed, for the API processes' copies.

Entry ``<seq>-0`` with field ``ids`` (packed int64) or ``all`` (the rows changed wholesale), where
``seq`` counts from ``{mf}:item-seq``; about ``LOG_CAP`` entries are kept, each at most one batch's
ids. ``{mf}:item-epoch`` is set (to the server's time) by the first notice after the keys were lost
or flushed, so a follower can tell a new count from the old one. Followers: ``storage.item_factors``.
The keys share the commit shard's tag (``storage.model_keys``): a batch's commit script appends
its notice in the same step as its statistics.
"""

from __future__ import annotations

import numpy as np
import redis.asyncio as aioredis

from storage.lua import script

LOG, SEQ, EPOCH = "{mf}:item-log", "{mf}:item-seq", "{mf}:item-epoch"
LOG_CAP = 2000
NOTICE_LUA = script("mf", "item_notice")
_ANNOUNCE = NOTICE_LUA + "append_notice(KEYS[1], KEYS[2], KEYS[3], ARGV[1], ARGV[2], ARGV[3])"


async def _append(redis: aioredis.Redis, field: str, value: bytes | str) -> None:
    await redis.eval(_ANNOUNCE, 3, SEQ, EPOCH, LOG, LOG_CAP, field, value)


async def announce_all(redis: aioredis.Redis) -> None:
    """Tell every follower to reload: the rows changed wholesale."""
    await _append(redis, "all", "1")


async def announce(redis: aioredis.Redis, ids: list[int]) -> None:
    if ids:
        await _append(redis, "ids", np.array(ids, dtype="<i8").tobytes())
