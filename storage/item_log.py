"""``mf:item-log``: which item rows the learning workers changed, for the API processes' copies.

Entry ``<seq>-0`` with field ``ids`` (packed int64) or ``all`` (the rows changed wholesale), where
``seq`` counts from ``mf:item-seq``; about ``LOG_CAP`` entries are kept, each at most one batch's
ids. ``mf:item-epoch`` is set (to the server's time) by the first notice after the keys were lost
or flushed, so a follower can tell a new count from the old one. Followers: ``storage.item_factors``.
"""

from __future__ import annotations

import numpy as np
import redis.asyncio as aioredis

LOG, SEQ, EPOCH = "mf:item-log", "mf:item-seq", "mf:item-epoch"
LOG_CAP = 2000

_APPEND = f"""
local function append_notice(field, value)
  if not redis.call('GET', '{EPOCH}') then
    local now = redis.call('TIME')
    redis.call('SET', '{EPOCH}', now[1] .. '.' .. now[2])
  end
  local seq = redis.call('INCR', '{SEQ}')
  redis.call('XADD', '{LOG}', 'MAXLEN', '~', {LOG_CAP}, seq .. '-0', field, value)
end
"""
# Appends a notice: used by the wholesale writers and the eraser of phantom rows.
ANNOUNCE_LUA = _APPEND + "append_notice(ARGV[1], ARGV[2])"
# For WRITE_LUA in ``storage.model_store``: ``changed`` is a Lua table of packed int64 ids.
ANNOUNCE_IN_SCRIPT = _APPEND + """
if #changed > 0 then append_notice('ids', table.concat(changed)) end
"""


async def announce_all(redis: aioredis.Redis) -> None:
    """Tell every follower to reload: the rows changed wholesale."""
    await redis.eval(ANNOUNCE_LUA, 0, "all", "1")


async def announce(redis: aioredis.Redis, ids: list[int]) -> None:
    if ids:
        await redis.eval(ANNOUNCE_LUA, 0, "ids", np.array(ids, dtype="<i8").tobytes())
