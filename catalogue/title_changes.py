"""What a rebuild of the catalogue changes, as the catalogue events every other producer sends.

``cinestream catalogue build`` is one producer of the ``movies`` topic among others
(``contracts.catalogue``): on a rebuild over a stored catalogue, the titles the new inputs add,
change or drop are sent as upserts and retirements, and the catalogue agent applies them as it
applies an admin's or a platform's: written to MongoDB, content neighbours computed, every API
process's search index and every worker's known movies told, a new title offered in the "new" slot.
What is not a title's public record (rating statistics, sources, the knowledge graph's entities) is
the build's own, and it writes those directly.

Pure: the build job reads what is stored, calls ``changes``, and sends what it returns.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import msgspec

from contracts.catalogue import LISTS, TITLE_LIMITS, Title

PUBLIC = tuple(f for f in Title.__struct_fields__ if f != "op")
NUMBERS = ("movieId", "year", "runtime", "imdbId", "tmdbId")


def public(movie: dict[str, Any]) -> dict[str, Any]:
    """A built or stored movie's public record as an upsert, within the contract's limits (lists cut
    to their length, texts to theirs): the build's sources are not checked against them.

    >>> public({"movieId": 1, "title": "Toy Story", "year": 1995, "cast": ["A"] * 80, "stats": {"count": 9},
    ...         "overview": None})["cast"] == ["A"] * 50
    True
    """
    record: dict[str, Any] = {"op": "upsert"}
    for name in PUBLIC:
        value = movie.get(name)
        if value is None or value == [] or value != value:  # absent, empty or NaN
            continue
        if name in NUMBERS and isinstance(value, (float, str)):  # a runtime read as a float, an IMDb id as text
            try:
                value = int(float(value))
            except ValueError:
                continue
        limit = TITLE_LIMITS.get(name, {}).get("max_length")
        if limit is not None and isinstance(value, (list, str)):
            value = [v[:200] for v in value if v][:limit] if name in LISTS else value[:limit]
        record[name] = value
    return record


@dataclass(frozen=True)
class Changes:
    """Titles a rebuild adds, changes (their public record) and drops, by movie id, ascending; and
    those it leaves alone because a change came through the stream (an admin's or a platform's edit
    is not undone by a rebuild from files, nor a title they added retired for being in no file)."""

    added: list[int]
    changed: list[int]
    dropped: list[int]
    streamed: list[int]

    def events(self, built: dict[int, dict[str, Any]]) -> list[dict[str, Any]]:
        """Upserts of the added and changed titles, then retirements of the dropped."""
        return ([public(built[m]) for m in sorted(self.added + self.changed)]
                + [{"op": "retire", "movieId": m} for m in self.dropped])

    def __len__(self) -> int:
        return len(self.added) + len(self.changed) + len(self.dropped)


def changes(stored: dict[int, dict[str, Any]], built: dict[int, dict[str, Any]], retired: set[int]) -> Changes:
    """The difference between the stored catalogue and a new build of it (retired titles are not
    dropped again).

    >>> stored = {1: {"movieId": 1, "title": "A"}, 2: {"movieId": 2, "title": "B"}, 3: {"movieId": 3, "title": "C"}}
    >>> built = {1: {"movieId": 1, "title": "A", "stats": {"count": 5}}, 2: {"movieId": 2, "title": "B (2)"},
    ...          4: {"movieId": 4, "title": "D"}}
    >>> changes(stored, built, retired=set())
    Changes(added=[4], changed=[2], dropped=[3], streamed=[])
    >>> stored[3]["sources"] = ["stream"]
    >>> changes(stored, built, retired=set())
    Changes(added=[4], changed=[2], dropped=[], streamed=[3])
    """
    streamed = {m for m, doc in stored.items() if "stream" in (doc.get("sources") or [])}
    added = sorted(set(built) - set(stored))
    dropped = sorted(set(stored) - set(built) - retired - streamed)
    changed = sorted(m for m in (set(built) & set(stored)) - streamed if public(built[m]) != public(stored[m]))
    return Changes(added, changed, dropped, sorted(streamed))


def valid(events: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The events the contract accepts (a title the build could not make valid is left to the bulk load)."""
    return [e for e in events if _accepted(e)]


def _accepted(event: dict[str, Any]) -> bool:
    try:
        msgspec.convert(event, Title)
    except msgspec.ValidationError:
        return False
    return True
