"""Title search served from memory: the catalogue's normalised titles, refreshed when it changes.

FerretDB has no ``$text`` and scans for a regex (seconds over 10k movies), so the API keeps the
``search_key`` of every movie (about 1 MB for 10k movies) and matches in-process; MongoDB is
then read by ``_id`` only. The index reloads when the catalogue's fingerprint changes.

It also keeps every movie's card (id, title, year, genres: about 3 MB for 10k movies, 20 MB at
ml-25m's 59,047), so lists of recommendations, similar films, trending and history are titled
from memory: ten ``find_one`` calls on FerretDB took 1.5 s inside one request.
"""

from __future__ import annotations

import asyncio
import re
import time
from dataclasses import dataclass, field
from typing import Any

from motor.motor_asyncio import AsyncIOMotorDatabase

from storage import catalogue_store

RECHECK_S = 30.0


@dataclass
class TitleIndex:
    ids: list[int] = field(default_factory=list)
    keys: list[str] = field(default_factory=list)
    counts: list[int] = field(default_factory=list)
    years: dict[int, int | None] = field(default_factory=dict)
    #: movieId -> {movieId, title, year, genres}: the cards every list shows, served from memory
    cards: dict[int, dict[str, Any]] = field(default_factory=dict)
    fingerprint: str | None = None
    checked_at: float = 0.0
    _lock: asyncio.Lock = field(default_factory=asyncio.Lock)

    def card(self, movie_id: int) -> dict[str, Any]:
        """The movie's card; a movie outside the catalogue gets one without a title (never a MongoDB scan)."""
        return self.cards.get(movie_id) or {"movieId": movie_id, "title": None, "year": None, "genres": []}

    def has(self, movie_id: int) -> bool:
        """Whether the catalogue holds this movie (events for any other are refused)."""
        return movie_id in self.years

    def search(self, key: str, year: int | None, limit: int) -> list[int]:
        """Exact title matches first, then titles with a word starting with ``key``, most rated first."""
        pattern = re.compile(r"(^| )" + re.escape(key))
        exact, partial = [], []
        for j, title in enumerate(self.keys):
            if year is not None and self.years.get(self.ids[j]) != year:
                continue
            if title == key:
                exact.append(j)
            elif pattern.search(title):
                partial.append(j)
        partial.sort(key=lambda j: -self.counts[j])
        return [self.ids[j] for j in (exact + partial)[:limit]]

    async def ensure_fresh(self, db: AsyncIOMotorDatabase) -> None:
        if time.monotonic() - self.checked_at < RECHECK_S and self.ids:
            return
        async with self._lock:
            fingerprint = await catalogue_store.recorded_fingerprint(db)
            if fingerprint != self.fingerprint or not self.ids:
                rows = await catalogue_store.title_rows(db)
                self.ids = [r["movieId"] for r in rows]
                self.keys = [r.get("search_key", "") for r in rows]
                self.counts = [int(r.get("stats", {}).get("count", 0)) for r in rows]
                self.years = {r["movieId"]: r.get("year") for r in rows}
                self.cards = {r["movieId"]: {"movieId": r["movieId"], "title": r.get("title"), "year": r.get("year"),
                                             "genres": r.get("genres", [])} for r in rows}
                self.fingerprint = fingerprint
            self.checked_at = time.monotonic()
