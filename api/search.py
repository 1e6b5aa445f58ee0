"""The catalogue in the API's memory: title search, the cards lists show, and each movie's page.

FerretDB has no ``$text`` and scans for a regex (seconds over 10k movies), and ten ``find_one``
calls took 1.5 s inside one request, so no request reads the catalogue from MongoDB. Each process
keeps, per movie, its ``search_key`` (matched in-process), its card (id, title, year, genres:
what recommendations, similar films, trending and history show) and its public page as JSON bytes,
served as they are. For ml-latest-small's 9,742 movies that is 5.7 MB of pages and about 3 MB of
cards and keys; ml-25m's 62,423 movies, most without TMDB metadata, need about five times that.
Everything reloads in one scan (2.5 s on FerretDB, in the background at start-up) when the
catalogue's fingerprint changes, checked every ``RECHECK_S``. Titles added, changed or retired while
the system runs arrive one by one on ``storage.catalogue_changes`` and are applied as they come: a
new title is searchable, and a retired one gone, within milliseconds of the worker storing it.
"""

from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import numpy as np
import redis.asyncio as aioredis
from motor.motor_asyncio import AsyncIOMotorDatabase
from pydantic_core import to_json

from catalogue.titles import title_key
from storage import catalogue_changes, catalogue_store, published_store

RECHECK_S = 30.0
MAX_CHANGED = 1000  # titles changed since the load before the whole catalogue is read again
NEW_FOR_S = 30 * 86400.0  # how long a title added while the system runs is offered as new
PUBLIC_FIELDS = ("movieId", "title", "alt_title", "year", "genres", "directors", "cast", "writers",
                 "overview", "tagline", "runtime", "keywords", "tags", "stats", "imdbId", "tmdbId", "missing")


@dataclass
class TitleRows:
    """Search arrays over some titles: the catalogue as loaded, or the titles changed since."""

    ids: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))
    counts: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))
    keys: np.ndarray = field(default_factory=lambda: np.zeros(0, object))
    years: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))
    text: str = ""
    starts: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))
    title_words: WordIndex = field(default_factory=lambda: WordIndex([]))
    people_words: WordIndex = field(default_factory=lambda: WordIndex([]))
    people: str = ""  # per movie, its directors' and cast's names as search keys, one line each
    people_starts: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))
    #: genre -> which rows carry it (a boolean mask over the rows, so a filter is one indexing)
    genre_rows: dict[str, np.ndarray] = field(default_factory=dict)

    @classmethod
    def of(cls, rows: list[dict[str, Any]]) -> TitleRows:
        keys = [r.get("search_key", "") for r in rows]
        names = [" ".join(title_key(name, None)[:-1] for field in ("directors", "cast")
                          for name in r.get(field) or []) for r in rows]
        genres = sorted({g for r in rows for g in r.get("genres") or []})
        return cls(ids=np.array([r["movieId"] for r in rows], dtype=np.int64),
                   counts=np.array([int((r.get("stats") or {}).get("count", 0)) for r in rows], dtype=np.int64),
                   keys=np.array(keys, dtype=object),
                   years=np.array([r.get("year") or 0 for r in rows], dtype=np.int64),
                   text="\n" + "\n".join(keys),  # search keys hold no newline
                   starts=_starts(keys), title_words=WordIndex(keys), people_words=WordIndex(names),
                   people="\n" + "\n".join(names), people_starts=_starts(names),
                   genre_rows={g: np.array([g in (r.get("genres") or []) for r in rows], dtype=bool) for g in genres})

    def groups(self, key: str, year: int | None, genre: str | None) -> list[np.ndarray]:
        """Rows matching ``key``: exact titles, then titles with a word starting with it, then people's names.

        A one-word key is a range of each field's ``WordIndex``; a key of several words (a prefix
        across words) is one ``str.find`` pass over the field's lines joined by newlines (a regex
        per title took 3 ms, which capped search at about 300 requests/s)."""
        if key:
            if " " in key:  # a prefix across words: one pass over the text
                titles = _lines_with(self.text, self.starts, key)
                people = _lines_with(self.people, self.people_starts, key)
            else:
                titles, people = self.title_words.rows_with(key), self.people_words.rows_with(key)
            people = np.setdiff1d(people, titles)
            found = [titles[self.keys[titles] == key], titles[self.keys[titles] != key], people]
        else:
            found = [np.arange(len(self.ids))]
        kept = []
        for rows in found:
            if year is not None:
                rows = rows[self.years[rows] == year]
            if genre is not None:
                rows = rows[self.genre_rows.get(genre, np.zeros(len(self.ids), bool))[rows]]
            kept.append(rows)
        return kept


@dataclass
class TitleIndex:
    """The catalogue as loaded (``rows``) and the titles changed since (``changed``), which hide
    their loaded rows: a title added or retired while the system runs is searchable, or gone, the
    moment its change arrives (``storage.catalogue_changes``), with no reload of the whole."""

    ids: list[int] = field(default_factory=list)
    years: dict[int, int | None] = field(default_factory=dict)
    #: movieId -> {movieId, title, year, genres}: the cards every list shows, served from memory
    cards: dict[int, dict[str, Any]] = field(default_factory=dict)
    #: movieId -> the movie's public fields as JSON (``PUBLIC_FIELDS``): its page and search results
    pages: dict[int, bytes] = field(default_factory=dict)
    #: titles retired from the catalogue: on no page, in no search and no list; histories keep their cards
    retired: set[int] = field(default_factory=set)
    #: titles added while the system ran, for ``NEW_FOR_S``: their content neighbours as (movie, cosine) rows
    new: dict[int, np.ndarray] = field(default_factory=dict)
    #: how many changes were applied since the start: lists cached under the catalogue's state use it
    version: int = 0
    fingerprint: str | None = None
    rows: TitleRows = field(default_factory=TitleRows)
    changed: TitleRows = field(default_factory=TitleRows)
    _changed_rows: dict[int, dict[str, Any]] = field(default_factory=dict)
    _hidden: np.ndarray = field(default_factory=lambda: np.zeros(0, bool))  # loaded rows a change replaced
    _row_of: dict[int, int] = field(default_factory=dict)
    _applied: list[catalogue_changes.Change] = field(default_factory=list)  # since the last load began
    checked_at: float = 0.0
    _load_began: float = -1.0
    _lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    _checking: asyncio.Task[None] | None = None

    def card(self, movie_id: int) -> dict[str, Any]:
        """The movie's card; a movie outside the catalogue gets one without a title (never a MongoDB scan)."""
        return self.cards.get(movie_id) or {"movieId": movie_id, "title": None, "year": None, "genres": []}

    def has(self, movie_id: int) -> bool:
        """Whether the catalogue holds this movie, not retired (events for any other are refused)."""
        return movie_id in self.years

    def search(self, key: str, year: int | None, limit: int, genre: str | None = None) -> list[int]:
        """Exact title matches first, then titles with a word starting with ``key``, then films whose
        director or cast has a name starting with it, each group most rated first; no ``key``: the most
        rated of all. ``year`` and ``genre`` filter."""
        ranked = []
        for loaded, changed in zip(self.rows.groups(key, year, genre), self.changed.groups(key, year, genre),
                                   strict=True):
            loaded = loaded[~self._hidden[loaded]]
            ids = np.concatenate([self.rows.ids[loaded], self.changed.ids[changed]])
            counts = np.concatenate([self.rows.counts[loaded], self.changed.counts[changed]])
            ranked.append(ids[np.argsort(-counts, kind="stable")])
        return np.concatenate(ranked)[:limit].tolist()

    def genres(self) -> dict[str, int]:
        """Every genre and how many movies carry it, most common first."""
        counts = {g: int((mask & ~self._hidden).sum()) for g, mask in self.rows.genre_rows.items()}
        for g, mask in self.changed.genre_rows.items():
            counts[g] = counts.get(g, 0) + int(mask.sum())
        return dict(sorted(((g, n) for g, n in counts.items() if n), key=lambda kv: -kv[1]))

    def apply(self, changes: list[catalogue_changes.Change], now: float | None = None) -> None:
        """Titles added, changed or retired since the load, in the order they were applied."""
        if not changes:
            return
        now = time.time() if now is None else now
        for change in changes:
            movie = change.movie
            if movie in self._row_of:
                self._hidden[self._row_of[movie]] = True
            if change.op == "retire":
                self.retired.add(movie)
                self._changed_rows.pop(movie, None)
                self.pages.pop(movie, None)
                self.years.pop(movie, None)
                self.new.pop(movie, None)
                continue
            row = change.page or {}
            self._add(row)
            self._changed_rows[movie] = row
            if _is_new(row, now):
                self.new[movie] = change.near
        self.changed = TitleRows.of(list(self._changed_rows.values()))
        self._applied += changes
        self.version += 1
        if len(self._changed_rows) > MAX_CHANGED:  # the next check reloads everything, changes included
            self.fingerprint = None

    def _add(self, row: dict[str, Any]) -> None:
        movie = row["movieId"]
        self.retired.discard(movie)
        self.years[movie] = row.get("year")
        self.cards[movie] = _card(row)
        self.pages[movie] = to_json({k: row.get(k) for k in PUBLIC_FIELDS})

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

    async def follow(self, db: AsyncIOMotorDatabase, redis: aioredis.Redis) -> None:
        """Apply the catalogue's changes as the stream announces them, for as long as the process runs."""

        async def load(asked: float) -> None:
            async with self._lock:
                if not self.ids or self._load_began < asked:  # no load began since the id was read
                    self.fingerprint = None
                    await self._reload_if_changed(db)
            await self._neighbours_of_new(redis)

        await catalogue_changes.follow(redis, load, self.apply, logging.getLogger(__name__))

    async def _neighbours_of_new(self, redis: aioredis.Redis) -> None:
        missing = [m for m, near in self.new.items() if not len(near)]
        for movie, near in zip(missing, await published_store.similar_many(redis, missing), strict=True):
            if movie in self.new:
                self.new[movie] = near

    async def _reload_if_changed(self, db: AsyncIOMotorDatabase) -> None:
        fingerprint = await catalogue_store.recorded_fingerprint(db)
        if fingerprint != self.fingerprint or not self.ids:
            applied = len(self._applied)  # changes that arrive while MongoDB is read are applied again after
            self._load_began = time.monotonic()
            rows = await catalogue_store.public_rows(db, PUBLIC_FIELDS)
            live = [r for r in rows if not r.get("retired")]
            self.rows, self.changed, self._changed_rows = TitleRows.of(live), TitleRows(), {}
            self._hidden = np.zeros(len(live), bool)
            self._row_of = {r["movieId"]: i for i, r in enumerate(live)}
            self.ids = [r["movieId"] for r in live]
            self.retired = {r["movieId"] for r in rows if r.get("retired")}
            self.years = {r["movieId"]: r.get("year") for r in live}
            self.cards = {r["movieId"]: _card(r) for r in rows}
            self.pages = {r["movieId"]: to_json({k: r.get(k) for k in PUBLIC_FIELDS}) for r in live}
            now = time.time()
            self.new = {r["movieId"]: self.new.get(r["movieId"], np.zeros((0, 2), np.float32))
                        for r in live if _is_new(r, now)}
            self.fingerprint = fingerprint
            again, self._applied = self._applied[applied:], []
            self.apply(again)
            self.version += 1
        self.checked_at = time.monotonic()


def _card(row: dict[str, Any]) -> dict[str, Any]:
    """What a list shows of a movie."""
    return {"movieId": row["movieId"], "title": row.get("title"), "year": row.get("year"),
            "genres": row.get("genres") or []}


def _is_new(row: dict[str, Any], now: float) -> bool:
    """A title added while the system ran, less than ``NEW_FOR_S`` ago."""
    added = row.get("added_at")
    if added is None:
        return False
    at = added.timestamp() if isinstance(added, datetime) else datetime.fromisoformat(str(added)).timestamp()
    return now - at < NEW_FOR_S


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
