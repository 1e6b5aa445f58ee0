"""The catalogue contract: a title added, changed or retired while the system runs, and its bytes on
the ``movies`` topic.

The catalogue is a stream like the events: the API's admin routes, a platform's service key
(``catalogue:write``) and ``cinestream catalogue build`` all write these messages, and one worker
agent (``streams.agents.catalogue``) applies them to MongoDB, the content neighbours and every
process' in-memory copy. One definition, as for events (``contracts.events``): the API's request
models take their limits from ``TITLE_LIMITS``, the worker decodes with ``decode_titles``.

A message is keyed by movie id (one partition keeps a title's changes in order) and holds
``{"v": 1, "titles": [...]}``: each an ``{"op": "upsert", "movieId": …, "title": …, …}`` with the
title's whole public record, or ``{"op": "retire", "movieId": …}``. A message is applied or refused
whole, and a refused one goes to the dead-letter topic with its bytes and reason.

>>> decode_titles(encode_titles([{"op": "upsert", "movieId": 9, "title": "Alien", "genres": ["Horror"]}]))[0].title
'Alien'
>>> decode_titles(b'{"v": 1, "titles": [{"op": "upsert", "movieId": 9, "title": ""}]}')
Invalid(reason='Expected `str` of length >= 1 - at `$.titles[0].title`')
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

import msgspec

from contracts.events import MAX_ID, MAX_MOVIE_ID, Invalid

MAX_TITLES = 500  # titles in one message or request (about 1 MB with long overviews: Kafka's message limit)
Op = Literal["upsert", "retire"]
NAMES = {"max_length": 50}  # a cast beyond 50 names is credits, not a catalogue field
# Keyword arguments both msgspec.Meta and pydantic.Field take: the one set of limits.
TITLE_LIMITS: dict[str, dict[str, Any]] = {
    "movieId": {"ge": 0, "le": MAX_MOVIE_ID},
    "title": {"min_length": 1, "max_length": 300},
    "alt_title": {"max_length": 300},
    "year": {"ge": 1870, "le": 2100},
    "genres": {"max_length": 20},
    "directors": NAMES, "cast": NAMES, "writers": NAMES, "keywords": NAMES, "tags": NAMES,
    "overview": {"max_length": 5000},
    "tagline": {"max_length": 500},
    "runtime": {"ge": 0, "le": 1000},  # minutes
    "imdbId": {"ge": 0, "le": MAX_ID},
    "tmdbId": {"ge": 0, "le": MAX_ID},
}
NAME = Annotated[str, msgspec.Meta(min_length=1, max_length=200)]  # one genre, person, keyword or tag
LISTS = ("genres", "directors", "cast", "writers", "keywords", "tags")


def _meta(name: str) -> msgspec.Meta:
    return msgspec.Meta(**TITLE_LIMITS[name])


class Title(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    """One change to one title. A retirement needs only ``movieId``; history keeps the title."""

    op: Op = "upsert"
    movieId: Annotated[int, _meta("movieId")]
    title: Annotated[str, _meta("title")] | None = None
    alt_title: Annotated[str, _meta("alt_title")] | None = None
    year: Annotated[int, _meta("year")] | None = None
    genres: Annotated[list[NAME], _meta("genres")] = msgspec.field(default_factory=list)
    directors: Annotated[list[NAME], _meta("directors")] = msgspec.field(default_factory=list)
    cast: Annotated[list[NAME], _meta("cast")] = msgspec.field(default_factory=list)
    writers: Annotated[list[NAME], _meta("writers")] = msgspec.field(default_factory=list)
    keywords: Annotated[list[NAME], _meta("keywords")] = msgspec.field(default_factory=list)
    tags: Annotated[list[NAME], _meta("tags")] = msgspec.field(default_factory=list)
    overview: Annotated[str, _meta("overview")] | None = None
    tagline: Annotated[str, _meta("tagline")] | None = None
    runtime: Annotated[int, _meta("runtime")] | None = None
    imdbId: Annotated[int, _meta("imdbId")] | None = None
    tmdbId: Annotated[int, _meta("tmdbId")] | None = None


class _Message(msgspec.Struct, forbid_unknown_fields=True):
    v: Literal[1]
    titles: Annotated[list[Title], msgspec.Meta(min_length=1, max_length=MAX_TITLES)]


_decoder = msgspec.json.Decoder(_Message)
_encoder = msgspec.json.Encoder()


def encode_titles(titles: list[dict[str, Any]]) -> bytes:
    """One message of changes, as the worker decodes it (fields left out take their defaults)."""
    return _encoder.encode({"v": 1, "titles": titles})


def decode_titles(raw: bytes | None) -> list[Title] | Invalid:
    """The message's changes, or why it is refused: never an exception."""
    if not raw:
        return Invalid("empty message")
    try:
        titles = _decoder.decode(raw).titles
    except msgspec.ValidationError as exc:
        return Invalid(str(exc))
    except msgspec.DecodeError as exc:
        return Invalid(f"not JSON: {exc}")
    for at, title in enumerate(titles):
        if title.op == "upsert" and title.title is None:
            return Invalid(f"titles[{at}]: an upsert needs a title")
    return titles


def record(title: Title) -> dict[str, Any]:
    """The title's fields as a plain dict (what MongoDB stores beside what the worker derives)."""
    return {f: getattr(title, f) for f in title.__struct_fields__ if f != "op"}
