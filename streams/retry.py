"""Keep a batch until its effect is stored: retry storage errors instead of letting the agent die.

faust acks the events of a ``take_events`` batch when the agent moves on *or crashes*, and
restarts a crashed agent from the next batch: a batch whose write failed would be lost. So
agents retry failed writes with backoff until they land: transient storage failures (a Redis or
MongoDB restart) and anything else a client raises meanwhile (a cluster client may raise an
unexpected error type from a connection a failing node closed under it). A bug that fails every
time then stops the partition, in the logs with its traceback, instead of dropping its events.
The MF store makes a retry exactly-once (applied offsets); the side models are approximate, and a
retry after a half-acknowledged write may count a batch twice.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

from pymongo.errors import PyMongoError
from redis.exceptions import RedisError

from storage.model_store import RedisBehind

T = TypeVar("T")
TRANSIENT = (RedisError, PyMongoError, ConnectionError, OSError, asyncio.TimeoutError)
MAX_DELAY_S = 5.0
log = logging.getLogger(__name__)


async def until_stored(what: str, write: Callable[..., Awaitable[T]], *args: Any) -> T:
    delay = 0.1
    while True:
        try:
            return await write(*args)
        except RedisBehind:  # not a failure to wait out: the caller reads the lost events again
            raise
        except TRANSIENT as exc:
            log.warning("%s failed (%s: %s); retrying in %.1fs", what, type(exc).__name__, exc, delay)
            await asyncio.sleep(delay)
            delay = min(delay * 2, MAX_DELAY_S)
        except Exception:  # not a known storage failure: keep the batch all the same (see the module)
            log.exception("%s failed unexpectedly; retrying in %.1fs", what, delay)
            await asyncio.sleep(delay)
            delay = min(delay * 2, MAX_DELAY_S)
