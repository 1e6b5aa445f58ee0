"""``streams.retry.until_stored``: a batch is kept until its write lands, whatever the client raised
(faust would ack a crashed agent's batch, and its events would be lost)."""

from __future__ import annotations

import pytest
from redis.exceptions import ConnectionError as RedisConnectionError

from streams.retry import until_stored


@pytest.mark.parametrize("failure", [RedisConnectionError("node down"), AttributeError("'NoneType' object has no "
                                                                                       "attribute 'writelines'")])
async def test_a_failed_write_is_retried_until_it_lands(failure: Exception) -> None:
    calls: list[int] = []

    async def write(batch: int) -> int:
        calls.append(batch)
        if len(calls) < 3:
            raise failure
        return batch * 2

    assert await until_stored("a batch", write, 21) == 42
    assert calls == [21, 21, 21]
