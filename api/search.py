"""The catalogue in the API's memory: title search, the cards lists show, and each movie's page.

FerretDB has no ``$text`` and scans for a regex (seconds over 10k movies), and ten ``find_one``
calls took 1.5 s inside one request, so no request reads the catalogue from MongoDB. Each process
keeps, per movie, its ``search_key`` (matched in-process), its card (id, title, year, genres:
what recommendations, similar films, trending and history show) and its public page as JSON bytes,
served as they are. For ml-latest-small's 9,742 movies that is 5.7 MB of pages and about 3 MB of
cards and keys; ml-25m's 62,423 movies, most without TMDB metadata, need about five times that.
Everything reloads in one scan (2.5 s on FerretDB, in the background at start-up) when the
catalogue's fingerprint changes, checked every ``RECHECK_S``.
"""

from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from motor.motor_asyncio import AsyncIOMotorDatabase
from pydantic_core import to_json

from cinestream.catalogue.titles import title_key
from storage import catalogue_store

RECHECK_S = 30.0
PUBLIC_FIELDS = ("movieId", "title", "alt_title", "year", "genres", "directors", "cast", "writers",
                 "overview", "tagline", "runtime", "keywords", "tags", "stats", "imdbId", "tmdbId", "missing")


@dataclass
class TitleIndex:
    ids: list[int] = field(default_factory=list)
    years: dict[int, int | None] = field(default_factory=dict)
    #: movieId -> {movieId, title, year, genres}: the cards every list shows, served from memory
    cards: dict[int, dict[str, Any]] = field(default_factory=dict)
    #: movieId -> the movie's public fields as JSON (``PUBLIC_FIELDS``): its page and search results
    pages: dict[int, bytes] = field(default_factory=dict)
    fingerprint: str | None = None
    _ids: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))
    _counts: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))
    _keys_array: np.ndarray = field(default_factory=lambda: np.zeros(0, object))
    _years: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))
    _text: str = ""
    _starts: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))
    _title_words: WordIndex = field(default_factory=lambda: WordIndex([]))
    _people_words: WordIndex = field(default_factory=lambda: WordIndex([]))
    _people: str = ""  # per movie, its directors' and cast's names as search keys, one line each
    _people_starts: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))
    #: genre -> which rows carry it (a boolean mask over the rows, so a filter is one indexing)
    genre_rows: dict[str, np.ndarray] = field(default_factory=dict)
    checked_at: float = 0.0
    _lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    _checking: asyncio.Task[None] | None = None

    def card(self, movie_id: int) -> dict[str, Any]:
        """The movie's card; a movie outside the catalogue gets one without a title (never a MongoDB scan)."""
        return self.cards.get(movie_id) or {"movieId": movie_id, "title": None, "year": None, "genres": []}

    def has(self, movie_id: int) -> bool:
        """Whether the catalogue holds this movie (events for any other are refused)."""
        return movie_id in self.years

    def search(self, key: str, year: int | None, limit: int, genre: str | None = None) -> list[int]:
        """Exact title matches first, then titles with a word starting with ``key``, then films whose
        director or cast has a name starting with it, each group most rated first; no ``key``: the most
        rated of all. ``year`` and ``genre`` filter.

        A one-word key is a range of each field's ``WordIndex``; a key of several words (a prefix
        across words) is one ``str.find`` pass over the field's lines joined by newlines (a regex
        per title took 3 ms, which capped search at about 300 requests/s)."""
        if key:
            if " " in key:  # a prefix across words: one pass over the text
                titles = _lines_with(self._text, self._starts, key)
                people = _lines_with(self._people, self._people_starts, key)
            else:
                titles, people = self._title_words.rows_with(key), self._people_words.rows_with(key)
            people = np.setdiff1d(people, titles)
            groups = [titles[self._keys_array[titles] == key], titles[self._keys_array[titles] != key], people]
        else:
            groups = [np.arange(len(self._ids))]
        ranked = []
        for rows in groups:
            if year is not None:
                rows = rows[self._years[rows] == year]
            if genre is not None:
                rows = rows[self.genre_rows.get(genre, np.zeros(len(self._ids), bool))[rows]]
            ranked.append(rows[np.argsort(-self._counts[rows], kind="stable")])
        return self._ids[np.concatenate(ranked)[:limit]].tolist()

    def genres(self) -> dict[str, int]:
        """Every genre and how many movies carry it, most common first."""
        counts = {g: int(mask.sum()) for g, mask in self.genre_rows.items()}
        return dict(sorted(counts.items(), key=lambda kv: -kv[1]))

    async def ensure_fresh(self, db: AsyncIOMotorDatabase) -> None:
        """Load the catalogue if nothing is loaded; otherwise, past ``RECHECK_S``, start one check in
        the background and answer from what is loaded. Checking on the request's path queued every
        request of that moment behind the lock, each asking FerretDB for the fingerprint in turn."""
        if not self.ids:
            async with self._lock:  # the first requests wait for one load, not one each
                if not self.ids:
                    await self._reload_if_changed(db)
        elif time.monotonic() - self.checked_at >= RECHECK_S and (self._checking is None or self._checking.done()):
            self.checked_at = time.monotonic()  # one check at a time; the next after RECHECK_S
            self._checking = asyncio.create_task(self._reload_if_changed(db))
            self._checking.add_done_callback(_log_failure)

    async def _reload_if_changed(self, db: AsyncIOMotorDatabase) -> None:
        fingerprint = await catalogue_store.recorded_fingerprint(db)
        if fingerprint != self.fingerprint or not self.ids:
            rows = await catalogue_store.public_rows(db, PUBLIC_FIELDS)
            self.ids = [r["movieId"] for r in rows]
            keys = [r.get("search_key", "") for r in rows]
            self._ids = np.array(self.ids, dtype=np.int64)
            self._counts = np.array([int(r.get("stats", {}).get("count", 0)) for r in rows])
            self._keys_array = np.array(keys, dtype=object)
            self._years = np.array([r.get("year") or 0 for r in rows])
            self._text = "\n" + "\n".join(keys)  # search keys hold no newline
            self._starts = _starts(keys)
            names = [" ".join(title_key(name, None)[:-1] for field in ("directors", "cast")
                              for name in r.get(field) or []) for r in rows]
            self._people, self._people_starts = "\n" + "\n".join(names), _starts(names)
            self._title_words, self._people_words = WordIndex(keys), WordIndex(names)
            genres = sorted({g for r in rows for g in r.get("genres", [])})
            self.genre_rows = {g: np.array([g in r.get("genres", []) for r in rows], dtype=bool) for g in genres}
            self.years = {r["movieId"]: r.get("year") for r in rows}
            self.cards = {r["movieId"]: {"movieId": r["movieId"], "title": r.get("title"), "year": r.get("year"),
                                         "genres": r.get("genres", [])} for r in rows}
            self.pages = {r["movieId"]: to_json({k: r.get(k) for k in PUBLIC_FIELDS}) for r in rows}
            self.fingerprint = fingerprint
        self.checked_at = time.monotonic()


def _log_failure(task: asyncio.Task[None]) -> None:
    if not task.cancelled() and task.exception() is not None:
        logging.getLogger(__name__).warning("catalogue check failed; answering from the loaded copy",
                                            exc_info=task.exception())


class WordIndex:
    """Every word of some lines, sorted, beside the line it is in: the lines with a word starting
    with a prefix are one ``searchsorted`` range. The text scan it replaces looped in Python over
    every match, 2-4 ms for a short prefix such as "man" among 50,000 cast names, which capped
    search below 500 requests/s."""

    def __init__(self, lines: list[str]) -> None:
        pairs = sorted({(word, row) for row, line in enumerate(lines) for word in line.split(" ") if word})
        self.words = np.array([word for word, _ in pairs], dtype=str)
        self.rows = np.array([row for _, row in pairs], dtype=np.int64)

    def rows_with(self, prefix: str) -> np.ndarray:
        """The lines (sorted, distinct) with a word starting with ``prefix`` (one word)."""
        lo, hi = np.searchsorted(self.words, [prefix, prefix + "\U0010ffff"])
        return np.unique(self.rows[lo:hi])


def _starts(lines: list[str]) -> np.ndarray:
    """Where each line's leading newline is in ``"\\n" + "\\n".join(lines)``."""
    return np.cumsum([0] + [len(line) + 1 for line in lines[:-1]]).astype(np.int64)


def _lines_with(text: str, starts: np.ndarray, key: str) -> np.ndarray:
    """The lines of ``text`` with a word starting with ``key`` (lines hold no newline)."""
    found: list[int] = []
    for boundary in ("\n", " "):
        at = text.find(boundary + key)
        while at >= 0:
            found.append(at)
            at = text.find(boundary + key, at + 1)
    return np.unique(np.searchsorted(starts, np.array(found, dtype=np.int64), side="right") - 1)
