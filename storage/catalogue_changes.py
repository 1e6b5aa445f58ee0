"""The catalogue's changes as they are applied, for every process that keeps a copy of the catalogue.

The worker that applies a change to MongoDB (``streams.agents.catalogue``) appends it here after
MongoDB holds it. Each API process (its title index, ``api.search``) and each stream worker (its
known movies, ``streams.known_movies``) follows with a blocking ``XREAD``: a title added or retired
reaches all of them within milliseconds, with no consumer group to manage (every reader reads
everything), and a process that starts later loads MongoDB, which already holds every change.

- ``{catalogue}:changes``: a Redis stream capped near ``MAX_CHANGES`` entries (``MAXLEN ~``), so
  its size does not grow with the catalogue or with time. Each entry is ``op`` (upsert | retire),
  ``movie`` (the id), ``page`` (an upsert's public record, JSON) and ``near`` (its content
  neighbours, packed ``(movie, similarity)`` float32 pairs, at most ``NEIGHBOURS``).

A reader that fell behind past the cap (its last id older than the oldest kept) is told to reload
the whole catalogue from MongoDB (``Behind``) instead of missing changes.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import redis.asyncio as aioredis

from storage.redis_store import text

KEY = "{catalogue}:changes"
MAX_CHANGES = 10_000
NEIGHBOURS = 50
START = "0-0"


@dataclass(frozen=True)
class Change:
    op: str  # "upsert" or "retire"
    movie: int
    page: dict[str, Any] | None = None  # the public record of an upsert
    near: np.ndarray = field(default_factory=lambda: np.zeros((0, 2), np.float32))  # (movie, similarity) rows


class Behind(Exception):
    """The reader's last change was trimmed away: reload the catalogue from MongoDB."""


async def append(redis: aioredis.Redis, changes: list[Change]) -> None:
    """Publish applied changes, in order, in one round trip."""
    async with redis.pipeline(transaction=False) as pipe:
        for change in changes:
            fields: dict[Any, Any] = {"op": change.op, "movie": str(change.movie)}
            if change.page is not None:
                fields["page"] = json.dumps(change.page, default=str)
            if len(change.near):
                fields["near"] = np.ascontiguousarray(change.near[:NEIGHBOURS], dtype=np.float32).tobytes()
            pipe.xadd(KEY, fields, maxlen=MAX_CHANGES, approximate=True)
        await pipe.execute()


async def follow(redis: aioredis.Redis, load: Callable[[float], Awaitable[None]],
                 apply: Callable[[list[Change]], None], log: logging.Logger, block_ms: int = 1000) -> None:
    """Keep a process' copy of the catalogue current, for as long as it runs: the newest change's id
    first, then ``load`` (MongoDB, given the monotonic time just before that id was read), then every
    change after the id through ``apply``; a reader left behind by the cap loads again."""
    since: str | None = None
    while True:
        try:
            if since is None:  # the id first, then MongoDB: a change between them is applied twice, not lost
                asked = time.monotonic()
                since = await latest(redis)
                await load(asked)
            since, changes = await after(redis, since, block_ms)
            apply(changes)
        except asyncio.CancelledError:
            raise
        except Behind:
            since = None
        except Exception:
            log.warning("catalogue changes: not followed, retrying in 1 s", exc_info=True)
            await asyncio.sleep(1.0)


async def latest(redis: aioredis.Redis) -> str:
    """The id of the newest change (``START`` when none): read it before loading MongoDB, then follow
    from it, and nothing applied in between is missed (applying a change twice changes nothing)."""
    newest: Any = await redis.xrevrange(KEY, count=1)
    return text(newest[0][0]) if newest else START


async def after(redis: aioredis.Redis, since: str, block_ms: int, count: int = 500) -> tuple[str, list[Change]]:
    """The changes after ``since`` (waiting up to ``block_ms`` for one) and the id to follow from next."""
    if since != START:
        oldest: Any = await redis.xrange(KEY, count=1)
        if oldest and _order(text(oldest[0][0])) > _order(since):
            raise Behind(f"change {since} was trimmed from {KEY}")
    answer: Any = await redis.xread({KEY: since}, count=count, block=block_ms)
    changes: list[Change] = []
    for _, entries in answer or []:
        for entry_id, fields in entries:
            since = text(entry_id)
            changes.append(_change({text(k): v for k, v in fields.items()}))
    return since, changes


def _change(fields: dict[str, Any]) -> Change:
    page = json.loads(fields["page"]) if "page" in fields else None
    near = np.frombuffer(fields["near"], dtype=np.float32).reshape(-1, 2) if "near" in fields else None
    return Change(text(fields["op"]), int(fields["movie"]), page,
                  near if near is not None else np.zeros((0, 2), np.float32))


def _order(entry_id: str) -> tuple[int, int]:
    ms, _, seq = entry_id.partition("-")
    return int(ms), int(seq or 0)

