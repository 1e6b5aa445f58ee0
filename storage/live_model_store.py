"""The live ranker's published parts in Redis, and each API process's copy of them.

- ``{live}:model``: every part of ``online_models.live_ranker.LiveModel`` as one ``.npz`` blob
  (about 3 MB at ml-latest-small's 9,742 films; per film 4·64 bytes of factors, 8·100 of EASE links
  for the 3,000 it covers, a byte a genre: 24 MB at ml-25m's 59,047);
- ``{live}:version``: a counter bumped with every install (one hash tag, so one ``MSET`` writes both);
- ``live:genres:<user>``: the genres a person chose, comma-joined (bounded by the profile's 20).

A request reads the version in its one round trip (``storage.item_factors``' ``also`` keys) and the
copy reloads only when it changed, so a publish reaches every process at its next request.
"""

from __future__ import annotations

import asyncio
import io
import json
from collections import OrderedDict
from collections.abc import Hashable
from typing import Any

import numpy as np
import redis.asyncio as aioredis

from online_models.live_ranker import LiveModel

MODEL, VERSION = "{live}:model", "{live}:version"
ARRAYS = ("ids", "factors", "kept", "neighbours", "links", "prior", "genres", "blend")


def genres_key(user: int) -> str:
    return f"live:genres:{user}"


def dumps(model: LiveModel, meta: dict[str, Any]) -> bytes:
    out = io.BytesIO()
    header = {"reg": model.reg, "alpha": model.alpha, "genre_names": model.genre_names, "meta": meta}
    np.savez(out, header=np.frombuffer(json.dumps(header).encode(), dtype=np.uint8),
             **{name: getattr(model, name) for name in ARRAYS})
    return out.getvalue()


def loads(blob: bytes) -> tuple[LiveModel, dict[str, Any]]:
    with np.load(io.BytesIO(blob)) as saved:
        header = json.loads(saved["header"].tobytes())
        arrays = {name: saved[name] for name in ARRAYS}
    model = LiveModel(reg=header["reg"], alpha=header["alpha"], genre_names=header["genre_names"], **arrays)
    return model, header["meta"]


async def install(redis: aioredis.Redis, model: LiveModel, meta: dict[str, Any]) -> int:
    """Make this model live for every API process; returns its version."""
    version = int(await redis.get(VERSION) or 0) + 1
    await redis.mset({MODEL: dumps(model, meta), VERSION: version})
    return version


async def set_genres(redis: aioredis.Redis, user: int, genres: list[str]) -> None:
    await redis.set(genres_key(user), ",".join(genres))


def chosen(value: Any) -> list[str]:
    """A ``live:genres:<user>`` value as the list of genres."""
    text = value.decode() if isinstance(value, bytes) else (value or "")
    return [g for g in text.split(",") if g]


LISTS_KEPT = 10_000  # people whose last list a process keeps: about 0.5 KB each


class LiveModelCopy:
    """This process's copy of the published live model, reloaded when the version it is shown changes,
    and the last list it ranked for each person: a list depends only on the model, the person's ratings
    (whose version changes with each one the worker writes), their genres and its length, so a page
    fetched again before their next event costs no ranking (about 1 ms of CPU, 6 ms for 2,700 ratings).

    A new version is read in the background while the one in hand keeps serving: requests never wait
    for a reload (parsing and preparing a model takes 20–200 ms, which at 500 requests/s queued a
    hundred of them). Only the first model of a process is waited for, having nothing to serve before."""

    def __init__(self, redis: aioredis.Redis) -> None:
        self.redis = redis
        self.model: LiveModel | None = None
        self.version: Any = None
        self._lock = asyncio.Lock()
        self._loading: asyncio.Task[None] | None = None
        self._lists: OrderedDict[Hashable, Any] = OrderedDict()

    def recall(self, key: Hashable) -> Any:
        """The list kept under ``key`` (None: none)."""
        found = self._lists.get(key)
        if found is not None:
            self._lists.move_to_end(key)
        return found

    def keep(self, key: Hashable, ranked: Any) -> None:
        self._lists[key] = ranked
        if len(self._lists) > LISTS_KEPT:
            self._lists.popitem(last=False)

    async def at(self, version: Any) -> LiveModel | None:
        """The model to rank with, given the ``version`` read with the request's other keys: the one in
        hand while a newer one loads; None before any publish."""
        if version is None:  # never published, or Redis lost it: serve as before any publish
            self.model, self.version = None, None
            self._lists.clear()
            return None
        if version != self.version:
            if self.model is None:
                await self.load()
            elif self._loading is None or self._loading.done():
                self._loading = asyncio.create_task(self.load())
        return self.model

    async def load(self) -> None:
        """Read the published model if its version is not the one in hand (at start-up, and whenever
        a request shows a new version)."""
        async with self._lock:
            blob, now = await self.redis.mget([MODEL, VERSION])
            if now == self.version:
                return
            if isinstance(blob, bytes) and blob:
                # parsing 3–24 MB of arrays and preparing them: off the event loop
                self.model, _ = await asyncio.to_thread(loads, blob)
            self.version = now
            self._lists.clear()
