"""The errors that mean a server of the stack is down or restarting, not that a request was wrong:
the API answers them with 503 and Retry-After (``api/errors.py``), never 500."""

from __future__ import annotations

from pymongo.errors import ConnectionFailure
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import RedisError
from redis.exceptions import TimeoutError as RedisTimeoutError

# ConnectionFailure covers pymongo's AutoReconnect, NetworkTimeout and ServerSelectionTimeoutError
OUTAGES: tuple[type[Exception], ...] = (RedisConnectionError, RedisTimeoutError, ConnectionFailure)


def server_of(exc: Exception) -> str:
    """Which server an outage error came from, for the message."""
    return "Redis" if isinstance(exc, RedisError) else "MongoDB"
