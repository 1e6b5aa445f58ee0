"""Rate limits against the real Redis: a window's count, the wait it answers, and a backoff that
doubles for whoever keeps hitting it."""

from __future__ import annotations

import redis.asyncio as aioredis

from storage import rate_limits

REDIS_DB = 14


async def test_a_caller_within_the_limit_passes_and_the_next_attempt_waits_out_the_window(
        redis_db: aioredis.Redis) -> None:
    answers = [await rate_limits.hit(redis_db, "login", "ip-1", limit=3, window_s=60) for _ in range(4)]
    assert answers[:3] == [None, None, None]
    assert answers[3] is not None and 55 <= answers[3] <= 60
    assert await rate_limits.hit(redis_db, "login", "ip-2", limit=3, window_s=60) is None  # others unaffected
    assert await rate_limits.hit(redis_db, "search", "ip-1", limit=3, window_s=60) is None


async def test_a_cost_counts_that_many_attempts(redis_db: aioredis.Redis) -> None:
    assert await rate_limits.hit(redis_db, "events", "key-1", limit=1000, window_s=60, cost=1000) is None
    assert await rate_limits.hit(redis_db, "events", "key-1", limit=1000, window_s=60, cost=1) is not None


async def test_the_backoff_doubles_for_each_window_in_a_row_exceeded_and_clear_forgets_it(
        redis_db: aioredis.Redis) -> None:
    async def exceed() -> int | None:
        for _ in range(2):
            await rate_limits.hit(redis_db, "login", "ip-3", limit=2, window_s=10, backoff=True)
        return await rate_limits.hit(redis_db, "login", "ip-3", limit=2, window_s=10, backoff=True)

    assert await exceed() == 10  # first strike: the window itself
    count_key, _ = rate_limits._keys("login", "ip-3")
    await redis_db.delete(count_key)  # the window ran out; the strikes are kept an hour
    assert await exceed() == 20
    await redis_db.delete(count_key)
    assert await exceed() == 40
    assert 35 <= await redis_db.ttl(count_key) <= 40  # the window itself is lengthened, not only the answer
    await rate_limits.clear(redis_db, "login", "ip-3")
    assert await rate_limits.hit(redis_db, "login", "ip-3", limit=2, window_s=10, backoff=True) is None
    assert await redis_db.exists(*rate_limits._keys("login", "ip-3")) == 1  # a new window, no strikes
