"""Check, before a command starts its work, that the servers it needs answer.

A newcomer whose stack is down should read one line naming the server, its address and the fix,
not a traceback from deep inside a client library half-way through a job. The same advice is given
when a server goes away later (:func:`explain`), so a command says the same thing either way.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

from core.settings import Settings

NAMES = {"kafka": "Kafka", "mongo": "MongoDB", "redis": "Redis"}
_ADDRESS_SETTING = {"kafka": "CINESTREAM_KAFKA_BOOTSTRAP", "mongo": "CINESTREAM_MONGO_URI",
                    "redis": "CINESTREAM_REDIS_URL"}


class ServerDown(RuntimeError):
    """A server a command needs does not answer; the message says which, where and what to do."""


def address(settings: Settings, server: str) -> str:
    return {"kafka": settings.kafka_bootstrap, "mongo": settings.mongo_uri, "redis": settings.redis_url}[server]


def advice(settings: Settings, server: str) -> str:
    """One line: which server, where, and the fix that fits how it was configured."""
    where = f"cannot reach {NAMES[server]} at {address(settings, server)}"
    if settings.is_external(server):
        return f"{where}: start that server, or correct {_ADDRESS_SETTING[server]}"
    return (f"{where}: start the local stack with `cinestream stack up` "
            f"(or set {_ADDRESS_SETTING[server]} to a server of yours)")


def _checks(settings: Settings) -> dict[str, Callable[[], Awaitable[object]]]:
    from storage import mongo, redis_store
    from streams.admin import broker_count

    return {"kafka": lambda: broker_count(settings, 3.0),
            "mongo": lambda: mongo.ping(settings, 3.0),
            "redis": lambda: redis_store.ping(settings)}


async def _down(settings: Settings, servers: tuple[str, ...]) -> list[str]:
    checks = _checks(settings)

    async def one(server: str) -> bool:
        try:
            await asyncio.wait_for(checks[server](), 5.0)
            return True
        except Exception:  # any failure means "does not answer": the advice says what to do
            return False

    answers = await asyncio.gather(*(one(s) for s in servers))
    return [s for s, ok in zip(servers, answers, strict=True) if not ok]


def require(settings: Settings, *servers: str) -> None:
    """Raise :class:`ServerDown` for the first of ``servers`` that does not answer (all probed at once)."""
    down = asyncio.run(_down(settings, servers))
    if down:
        raise ServerDown(advice(settings, down[0]))


def explain(exc: BaseException, settings: Settings) -> str | None:
    """The one-line advice for a server lost mid-command, or None when ``exc`` is not such a loss."""
    import pymongo.errors
    import redis.exceptions
    from aiokafka.errors import KafkaConnectionError, KafkaTimeoutError

    if isinstance(exc, KafkaConnectionError | KafkaTimeoutError):
        return advice(settings, "kafka")
    if isinstance(exc, pymongo.errors.ConnectionFailure):
        return advice(settings, "mongo")
    if isinstance(exc, redis.exceptions.ConnectionError | redis.exceptions.TimeoutError):
        return advice(settings, "redis")
    return None
