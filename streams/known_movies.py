"""The catalogue's movie ids in the worker's memory: events for any other movie are dead-lettered.

Platforms may write to Kafka directly, so the stream cannot rely on the API's check. A phantom id
learned once would stay in trending, similarity and the MF for good. The ids (8 bytes a movie:
0.5 MB at ml-25m's 59,047) are read once at start and again when the catalogue's fingerprint
changes, checked every ``RECHECK_S`` by a background task, never on a batch's path. Titles added
or retired while the worker runs arrive on ``storage.catalogue_changes`` within milliseconds.

With no catalogue at all (nothing built yet) every movie is let through, with a warning: refusing
everything would silently drop a whole replay started before ``catalogue build``.
"""

from __future__ import annotations

import asyncio
import logging

import numpy as np
import redis.asyncio as aioredis
from motor.motor_asyncio import AsyncIOMotorDatabase

from storage import catalogue_changes, catalogue_store

RECHECK_S = 30.0
log = logging.getLogger(__name__)


class KnownMovies:
    def __init__(self) -> None:
        self.ids: np.ndarray | None = None  # sorted int64; None until first loaded
        self.fingerprint: str | None = None
        self._lock = asyncio.Lock()

    def unknown(self, movies: np.ndarray) -> np.ndarray:
        """A mask of the movies not in the catalogue (all False when no catalogue exists)."""
        if self.ids is None or not len(self.ids):
            return np.zeros(len(movies), dtype=bool)
        at = np.minimum(np.searchsorted(self.ids, movies), len(self.ids) - 1)
        return np.asarray(self.ids[at] != movies)

    async def refresh(self, db: AsyncIOMotorDatabase, force: bool = False) -> None:
        """Reload the ids if the catalogue changed (or ``force``); retried until MongoDB answers the first time."""
        async with self._lock:
            delay = 0.5
            while True:
                try:
                    fingerprint = await catalogue_store.recorded_fingerprint(db)
                    if force or fingerprint != self.fingerprint or self.ids is None:
                        self.ids = np.sort(await catalogue_store.movie_ids(db))
                        self.fingerprint = fingerprint
                        if not len(self.ids):
                            log.warning("no catalogue in MongoDB: events are not checked against it")
                    return
                except Exception:
                    if self.ids is not None:  # keep the ids we have; try again at the next check
                        log.warning("catalogue check failed; keeping %d known movies", len(self.ids), exc_info=True)
                        return
                    log.warning("cannot read the catalogue yet; retrying in %.1f s", delay, exc_info=True)
                    await asyncio.sleep(delay)
                    delay = min(delay * 2, 10.0)

    async def ready(self, db: AsyncIOMotorDatabase) -> KnownMovies:
        """Loaded (waiting for the first load only); stale checks happen in :meth:`keep_fresh`."""
        if self.ids is None:
            await self.refresh(db)
        return self

    async def keep_fresh(self, db: AsyncIOMotorDatabase) -> None:
        while True:
            await asyncio.sleep(RECHECK_S)
            await self.refresh(db)

    def apply(self, changes: list[catalogue_changes.Change]) -> None:
        """Titles added are known from now on; titles retired are refused."""
        if self.ids is None:
            return
        added = np.array([c.movie for c in changes if c.op == "upsert"], dtype=np.int64)
        retired = np.array([c.movie for c in changes if c.op == "retire"], dtype=np.int64)
        self.ids = np.setdiff1d(np.union1d(self.ids, added), retired)

    async def follow(self, db: AsyncIOMotorDatabase, redis: aioredis.Redis) -> None:
        """Apply the catalogue's changes as they are announced, for as long as the worker runs."""

        async def load(asked: float) -> None:
            await self.refresh(db, force=True)

        await catalogue_changes.follow(redis, load, self.apply, log)
