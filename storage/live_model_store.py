"""The live ranker's published parts in Redis, and each API process's copy of them.

- ``{live}:model``: every part of ``online_models.live_ranker.LiveModel`` as one ``.npz`` blob
  (about 5 MB at ml-latest-small's 9,742 films; per film 4·64 bytes of factors, 8·100 of EASE links
  and 8·100 of next links for the 3,000 they cover, 8·10 of similar films, a byte a genre: 26 MB at ml-25m's 59,047);
- ``{live}:version``: a counter bumped with every install (one hash tag, so one ``MSET`` writes both);
- ``live:genres:<user>``: the genres a person chose, comma-joined (bounded by the profile's 20);
- ``{live}:model:<v>`` and ``{live}:meta:<v>``: every version fitted (the live one, candidates, the
  refused with their reasons), listed in ``{live}:versions``; the newest ``KEEP`` and the live one
  are kept, so their size is bounded whatever the number of refits. ``{live}:counter`` numbers them.

Going live is one ``MSET`` of the version's blob and number into ``MODEL`` and ``VERSION`` (one hash
tag): a process reads both in one round trip, so no list mixes two versions' factors.

A request reads the version in its one round trip (``storage.item_factors``' ``also`` keys) and the
copy reloads only when it changed, so a publish reaches every process at its next request.
"""

from __future__ import annotations

import asyncio
import io
import json
import logging
import time
from collections import OrderedDict
from collections.abc import Hashable
from dataclasses import dataclass
from typing import Any, cast

import numpy as np
import numpy.typing as npt
import redis.asyncio as aioredis

from online_models.live_ranker import LiveModel, Ranked, ranked_list

log = logging.getLogger("uvicorn.error")  # the API's own log, at info level

MODEL, VERSION = "{live}:model", "{live}:version"
COUNTER, VERSIONS = "{live}:counter", "{live}:versions"
KEEP = 4  # versions kept besides the live one: about 3 MB each at ml-latest-small, 24 MB at ml-25m
ARRAYS = ("ids", "factors", "kept", "neighbours", "links", "prior", "genres", "blend",
          "next_kept", "next_neighbours", "next_links",  # absent from versions fitted before them…
          "similar_kept", "similar_neighbours", "similar_links")  # …as these are

GENRES = "live:genres:"


def genres_key(user: int) -> str:
    return f"{GENRES}{user}"


def dumps(model: LiveModel, meta: dict[str, Any]) -> bytes:
    out = io.BytesIO()
    header = {"reg": model.reg, "alpha": model.alpha, "genre_names": model.genre_names, "meta": meta}
    np.savez(out, header=np.frombuffer(json.dumps(header).encode(), dtype=np.uint8),
             **{name: getattr(model, name) for name in ARRAYS})
    return out.getvalue()


def loads(blob: bytes) -> tuple[LiveModel, dict[str, Any]]:
    with np.load(io.BytesIO(blob)) as saved:
        header = json.loads(saved["header"].tobytes())
        arrays = {name: saved[name] for name in ARRAYS if name in saved}
    model = LiveModel(reg=header["reg"], alpha=header["alpha"], genre_names=header["genre_names"], **arrays)
    return model, header["meta"]


def stored_key(version: int) -> str:
    return f"{{live}}:model:{version}"


def meta_key(version: int) -> str:
    return f"{{live}}:meta:{version}"


async def install(redis: aioredis.Redis, model: LiveModel, meta: dict[str, Any]) -> int:
    """Keep this model as a new version and make it live for every API process; returns its version."""
    version = await save(redis, model, {**meta, "status": "live"})
    await promote(redis, version)
    return version


async def save(redis: aioredis.Redis, model: LiveModel, meta: dict[str, Any]) -> int:
    """Keep a fitted model as a new version (not live); returns its number."""
    live, counter = await redis.mget([VERSION, COUNTER])
    if int(counter or 0) < int(live or 0):  # versions published before they were numbered by the counter
        await redis.set(COUNTER, int(live or 0))
    version = int(await redis.incr(COUNTER))
    await redis.mset({stored_key(version): dumps(model, meta), meta_key(version): json.dumps(meta)})
    await redis.zadd(VERSIONS, {str(version): version})
    await _trim(redis)
    return version


async def promote(redis: aioredis.Redis, version: int) -> None:
    """Make a kept version the one every list is ranked by, in one step; the one it replaces is
    recorded as replaced (whoever promotes: a refit, a forced promotion, ``model publish``)."""
    blob, before = await redis.mget([stored_key(version), VERSION])
    if blob is None:
        raise KeyError(f"no ranker version {version}")
    await redis.mset({MODEL: blob, VERSION: version})
    if before is not None and int(before) != version:
        await update_meta(redis, int(before), {"status": "replaced"})


async def is_kept(redis: aioredis.Redis, version: int) -> bool:
    """Whether ``version`` is still kept (the newest ``KEEP`` and the live one are)."""
    return bool(await redis.exists(stored_key(version)))


async def live_version(redis: aioredis.Redis) -> int | None:
    version = await redis.get(VERSION)
    return int(version) if version is not None else None


async def load_version(redis: aioredis.Redis, version: int) -> LiveModel:
    blob = await redis.get(stored_key(version))
    if not isinstance(blob, bytes):
        raise KeyError(f"no ranker version {version}")
    return (await asyncio.to_thread(loads, blob))[0]


async def load_live(redis: aioredis.Redis) -> LiveModel | None:
    """The model lists are ranked by now (None: none published)."""
    blob = await redis.get(MODEL)
    return (await asyncio.to_thread(loads, blob))[0] if isinstance(blob, bytes) and blob else None


async def update_meta(redis: aioredis.Redis, version: int, changes: dict[str, Any]) -> None:
    raw = await redis.get(meta_key(version))
    if raw is not None:
        await redis.set(meta_key(version), json.dumps({**json.loads(raw), **changes}))


async def versions(redis: aioredis.Redis) -> list[dict[str, Any]]:
    """Every kept version's record, newest first, with whether it is the live one."""
    numbers = [int(cast(bytes, v)) for v in await redis.zrevrange(VERSIONS, 0, -1)]
    live = await live_version(redis)
    metas = await redis.mget([meta_key(v) for v in numbers]) if numbers else []
    return [{"version": v, **json.loads(m), "live": v == live} for v, m in zip(numbers, metas, strict=True) if m]


async def _trim(redis: aioredis.Redis) -> None:
    live = await live_version(redis)
    numbers = [int(cast(bytes, v)) for v in await redis.zrevrange(VERSIONS, 0, -1)]
    doomed = [v for v in numbers[KEEP:] if v != live]
    if doomed:
        await redis.delete(*[key for v in doomed for key in (stored_key(v), meta_key(v))])
        await redis.zrem(VERSIONS, *[str(v) for v in doomed])


async def set_genres(redis: aioredis.Redis, user: int, genres: list[str]) -> None:
    await redis.set(genres_key(user), ",".join(genres))


def chosen(value: Any) -> list[str]:
    """A ``live:genres:<user>`` value as the list of genres."""
    text = value.decode() if isinstance(value, bytes) else (value or "")
    return [g for g in text.split(",") if g]


LISTS_KEPT = 10_000  # people whose last list a process keeps, with what it was asked (below)
REWARM_S = 20.0  # at most this long ranking kept lists again with a new version before switching to it


@dataclass(frozen=True)
class Asked:
    """What a person's list was ranked from, kept with it so a new version can rank it again before
    it serves: about 12 bytes a rated film (2 KB for ml-latest-small's median person, 32 KB for its
    most active), and LISTS_KEPT of them at most."""

    movies: npt.NDArray[np.int64]
    stars: npt.NDArray[np.float32]
    genres: list[str]
    excluded: npt.NDArray[np.int64]  # retired titles when it was asked
    k: int

    def rank(self, model: LiveModel) -> Ranked:
        return ranked_list(model, self.movies, self.stars, self.genres, self.excluded, self.k)


class LiveModelCopy:
    """This process's copy of the published live model, reloaded when the version it is shown changes,
    and the last list it ranked for each person: a list depends only on the model, the person's ratings
    (whose version changes with each one the worker writes), their genres and its length, so a page
    fetched again before their next event costs no ranking (about 1 ms of CPU, 6 ms for 2,700 ratings).

    A new version is read in the background while the one in hand keeps serving: requests never wait
    for a reload (parsing and preparing a model takes 20–200 ms, which at 500 requests/s queued a
    hundred of them). Before it serves, the kept lists are ranked again with it, most recent first, one
    person at a time between requests (for at most ``REWARM_S``): switching with every kept list dropped
    made every person's next request rank at once, and a refit's promotion queued requests for a
    second or more (recommendations p99 28 ms and 503s over 30 s with one promotion, 3 ms without).
    Model and lists then change in one step, so a list is never ranked by two versions. Only the first
    model of a process is waited for, having nothing to serve before."""

    def __init__(self, redis: aioredis.Redis) -> None:
        self.redis = redis
        self.model: LiveModel | None = None
        self.version: Any = None
        self._lock = asyncio.Lock()
        self._loading: asyncio.Task[None] | None = None
        self._lists: OrderedDict[Hashable, tuple[Ranked, Asked]] = OrderedDict()

    def recall(self, key: Hashable) -> Ranked | None:
        """The list kept under ``key`` (None: none)."""
        found = self._lists.get(key)
        if found is None:
            return None
        self._lists.move_to_end(key)
        return found[0]

    def keep(self, key: Hashable, ranked: Ranked, asked: Asked) -> None:
        self._lists[key] = (ranked, asked)
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
            model, started = None, time.monotonic()
            if isinstance(blob, bytes) and blob:
                # parsing 3–24 MB of arrays and preparing them: off the event loop
                model, _ = await asyncio.to_thread(loads, blob)
            read, kept = time.monotonic(), len(self._lists)
            lists = await self._rewarm(model) if model is not None and self.model is not None else OrderedDict()
            self.model, self.version, self._lists = model, now, lists
            log.info("live ranker version %s in hand: read in %.2f s, %d of %d kept lists ranked again in %.2f s",
                     now.decode() if isinstance(now, bytes) else now, read - started, len(lists), kept,
                     time.monotonic() - read)

    async def _rewarm(self, model: LiveModel) -> OrderedDict[Hashable, tuple[Ranked, Asked]]:
        """The kept lists ranked by ``model``, the most recently served first, yielding to requests
        after each person; those not reached in ``REWARM_S`` are ranked when next asked for."""
        kept = list(self._lists.items())
        deadline = time.monotonic() + REWARM_S
        warm: list[tuple[Hashable, tuple[Ranked, Asked]]] = []
        for key, (_, asked) in reversed(kept):
            started = time.monotonic()
            if started > deadline:
                break
            warm.append((key, (asked.rank(model), asked)))
            # a third of the loop's time at most: yielding only once let each request's every await
            # wait for a ranking, and a switch queued requests for two seconds
            await asyncio.sleep(2 * (time.monotonic() - started))
        return OrderedDict(reversed(warm))


KEPT_IN_HAND = 2  # kept versions an API process holds at once (an experiment's arms)
KEPT_LISTS = 2_000  # lists it keeps ranked by them


class KeptVersions:
    """This process's copies of kept ranker versions other than the live one, which an experiment
    serves as a variant (``ranker:<version>``). A version never changes once fitted, so it is read
    once (concurrent requests wait for the same read) and kept while an experiment asks for it: at
    most ``KEPT_IN_HAND`` of them, with the last ``KEPT_LISTS`` lists they ranked."""

    def __init__(self, redis: aioredis.Redis) -> None:
        self.redis = redis
        self._models: OrderedDict[int, asyncio.Task[LiveModel]] = OrderedDict()
        self._lists: OrderedDict[Hashable, Ranked] = OrderedDict()

    async def at(self, version: int) -> LiveModel:
        """The version's model; KeyError when it is not kept (any more)."""
        task = self._models.get(version)
        if task is None or (task.done() and task.exception() is not None):
            task = asyncio.ensure_future(load_version(self.redis, version))
            self._models[version] = task
            while len(self._models) > KEPT_IN_HAND:
                self._models.popitem(last=False)
        self._models.move_to_end(version)
        return await asyncio.shield(task)

    def recall(self, key: Hashable) -> Ranked | None:
        found = self._lists.get(key)
        if found is not None:
            self._lists.move_to_end(key)
        return found

    def keep(self, key: Hashable, ranked: Ranked, asked: Asked) -> None:
        self._lists[key] = ranked
        if len(self._lists) > KEPT_LISTS:
            self._lists.popitem(last=False)
