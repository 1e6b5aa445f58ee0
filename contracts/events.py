"""The event contract: what a rating or a watch is, its limits, and its bytes on a Kafka topic.

One definition for everyone who writes or reads events: the API's request models take their limits
from ``LIMITS``, the simulators encode with ``encode_columns``, the stream workers decode with
``decode_message``, so an event the API accepts is one the stream accepts, and the reverse.

A Kafka message is keyed by user id (so one partition keeps a user's order) and holds either

- **version 1**, one JSON event (the fields below plus ``"type": "rating" | "watch"``, which
  defaults to rating) or an envelope ``{"v": 1, "events": [...]}`` of several: what the API and
  small producers send; or
- **version 2**, a columnar envelope of one kind of event:
  ``{"v": 2, "type": "rating", "source": "…", "event_id": [...], "user_id": [...], ...}`` with
  one list per field: what bulk producers (the replay, the load generator) send; or
- an erasure, ``{"v": 1, "erase": <user id>}``: every worker forgets the person.

Decoding is pure: bytes become ``EventLists``, an ``Erasure`` or an ``Invalid`` reason, never an
exception. The decoders (msgspec) are built from ``FIELDS`` and ``LIMITS``, so the checks run in C
while the JSON is parsed; only "not from the future" needs the clock and is checked after.

>>> decode_message(encode_events([{"event_id": "e1", "user_id": 7, "movie_id": 1, "rating": 4.5,
...                                "timestamp": 1.6e9}])).ratings
[4.5]
>>> decode_message(b'{"event_id": "e1", "user_id": 7, "movie_id": 1, "rating": 4.2, "timestamp": 1.6e9}')
Invalid(reason="Expected `float` that's a multiple of 0.5 - at `$.rating`")
>>> decode_message(encode_erasure(7))
Erasure(user_id=7)
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass
from typing import Annotated, Any, Literal, NamedTuple

import msgspec
import numpy as np

SCHEMA_VERSION = 2  # what ``encode_columns`` writes; version 1 is still read (and written by the API)
MAX_ID = 2**63 - 1  # a signed 64-bit integer: versions, external ids
MAX_USER_ID = 2**53 - 1  # a person: the model's Lua scripts read ids as doubles, exact up to 2^53
MAX_MOVIE_ID = 2**31 - 1  # a film: packed <i4 in similarity rows, recent films and histories
EARLIEST = 788_918_400.0  # 1995-01-01T00:00:00Z, before MovieLens' first rating: anything older is a unit mistake
FUTURE_SLACK_S = 300.0  # clocks disagree by seconds, not by more than five minutes
MAX_BATCH = 1000  # events in one request to the API

Kind = Literal["rating", "watch"]

FIELDS: dict[str, type] = {  # every field of either kind, in the order the kinds list them
    "event_id": str, "user_id": int, "movie_id": int, "rating": float, "seconds_watched": float,
    "completed": bool, "timestamp": float, "source": str}
KIND_FIELDS: dict[Kind, list[str]] = {  # what each kind needs beside ``event_id`` (``source`` is optional)
    "rating": ["user_id", "movie_id", "rating", "timestamp"],
    "watch": ["user_id", "movie_id", "seconds_watched", "completed", "timestamp"],
}
# Keyword arguments both msgspec.Meta and pydantic.Field take: the one set of limits.
LIMITS: dict[str, dict[str, Any]] = {
    "event_id": {"min_length": 1, "max_length": 64, "pattern": r"^[\w.:-]+$"},
    "user_id": {"ge": 0, "le": MAX_USER_ID},
    "movie_id": {"ge": 0, "le": MAX_MOVIE_ID},
    "rating": {"ge": 0.5, "le": 5.0, "multiple_of": 0.5},
    "seconds_watched": {"ge": 0, "le": 10**6},  # eleven days: longer is a unit mistake (milliseconds)
    "timestamp": {"ge": EARLIEST, "le": 2**32},  # seconds since the epoch; milliseconds are refused
    "source": {"max_length": 64},
}
_DEFAULTS = {"source": "unknown", "completed": False}
_OPTIONAL = {"rating", "seconds_watched"}  # required by one kind only: checked after decoding


def _checked(name: str) -> Any:
    return Annotated[FIELDS[name], msgspec.Meta(**LIMITS[name])] if name in LIMITS else FIELDS[name]


# Version 1: one struct for both kinds (msgspec's tagged unions need the tag, which v1 may omit).
EventV1 = msgspec.defstruct("EventV1", [
    ("type", Kind, "rating"),
    *((name, _checked(name) | None, None) if name in _OPTIONAL
      else (name, _checked(name), _DEFAULTS[name]) if name in _DEFAULTS
      else (name, _checked(name)) for name in FIELDS),
], kw_only=True, forbid_unknown_fields=False)

# Version 2: a list per field.
ColumnsV2 = msgspec.defstruct("ColumnsV2", [
    ("v", Literal[2]),
    ("type", Kind),
    ("source", _checked("source"), "unknown"),
    *((name, list[_checked(name)] | None, None) for name in FIELDS if name != "source"),  # type: ignore[misc]
], kw_only=True, forbid_unknown_fields=False)


class _Header(msgspec.Struct):
    v: int = 1
    events: msgspec.Raw = msgspec.field(default_factory=msgspec.Raw)  # left undecoded: empty when absent
    erase: Annotated[int, msgspec.Meta(ge=0, le=MAX_USER_ID)] | None = None  # an erasure: {"v": 1, "erase": <user>}


class Erasure(NamedTuple):
    """A deleted account: every worker forgets the person (sent by the API on deletion, keyed by the
    user id so it follows the person's last events on their partition)."""

    user_id: int


class EventLists(NamedTuple):
    """The events of one message as decoded: plain lists, turned into arrays once per batch
    (a numpy array per field and message cost more than decoding the message)."""

    event_ids: list[str]
    kinds: list[bool]  # True for a watch
    users: list[int]
    movies: list[int]
    ratings: list[float]  # NaN for watches
    seconds: list[float]  # NaN for ratings
    completed: list[bool]  # False for ratings
    timestamps: list[float]
    sources: list[str]


@dataclass(frozen=True)
class Invalid:
    reason: str


class _Refused(ValueError):
    pass


_header = msgspec.json.Decoder(_Header)
_event_v1 = msgspec.json.Decoder(EventV1)
_events_v1 = msgspec.json.Decoder(list[EventV1])  # type: ignore[valid-type]
_columns_v2 = msgspec.json.Decoder(ColumnsV2)
_encoder = msgspec.json.Encoder()


def decode_message(raw: bytes | None) -> EventLists | Erasure | Invalid:
    """All events of one Kafka message, or why the message as a whole is refused.

    A message is refused whole if any event in it is bad: the dead-letter record keeps the
    original bytes, so nothing is lost and a fixed copy can be replayed.
    """
    if not raw:
        return Invalid("empty message")
    try:
        if raw.startswith(b'{"v":2,'):  # as ``encode_columns`` writes it: skip the header pass
            return _from_columns(_columns_v2.decode(raw))
        header = _header.decode(raw)
        if header.erase is not None:
            return Erasure(header.erase)
        if header.v == 2:
            return _from_columns(_columns_v2.decode(raw))
        if header.v != 1:
            return Invalid(f"unsupported schema version {header.v!r}")
        if not header.events:
            return _from_events([_event_v1.decode(raw)], enveloped=False)
        try:
            events = _events_v1.decode(header.events)
        except msgspec.ValidationError as exc:  # the path inside the envelope, as the producer wrote it
            raise msgspec.ValidationError(str(exc).replace("`$", "`$.events", 1)) from exc
        return _from_events(events, enveloped=True)
    except msgspec.ValidationError as exc:
        return Invalid(str(exc))
    except msgspec.DecodeError as exc:
        return Invalid(f"not JSON: {exc}")
    except _Refused as exc:
        return Invalid(str(exc))


def ahead_of(timestamp: float, now: float) -> bool:
    """An event stamped later than the clock allows: from the future, so impossible."""
    return timestamp > now + FUTURE_SLACK_S


def _not_ahead(events: EventLists) -> EventLists:
    """The events, unless one is from the future (checked where both decoders build their lists)."""
    latest = max(events.timestamps)
    if ahead_of(latest, time.time()):
        raise _Refused(f"timestamp {latest:.0f} is more than {FUTURE_SLACK_S:.0f} s in the future")
    return events


def _from_columns(columns: Any) -> EventLists:
    wanted = ["event_id", *KIND_FIELDS[columns.type]]
    missing = [name for name in wanted if getattr(columns, name) is None]
    if missing:
        raise _Refused(f"a {columns.type} envelope needs the columns {', '.join(missing)}")
    n = len(columns.event_id)
    if n == 0:
        raise _Refused("envelope holds no events")
    lengths = {name: len(getattr(columns, name)) for name in wanted}
    if len(set(lengths.values())) != 1:
        raise _Refused(f"columns differ in length: {lengths}")
    watch = columns.type == "watch"
    nan = [math.nan] * n
    return _not_ahead(EventLists(columns.event_id, [watch] * n, columns.user_id, columns.movie_id,
                                 nan if watch else columns.rating, columns.seconds_watched if watch else nan,
                                 columns.completed if watch else [False] * n, columns.timestamp,
                                 [columns.source] * n))


def _from_events(events: list[Any], enveloped: bool) -> EventLists:
    if not events:
        raise _Refused("envelope 'events' must be a non-empty list")
    for position, event in enumerate(events):
        missing = [name for name in KIND_FIELDS[event.type] if getattr(event, name) is None]
        if missing:
            where = f"event {position}: " if enveloped else ""
            raise _Refused(f"{where}a {event.type} needs {', '.join(missing)}")
    watch = [event.type == "watch" for event in events]
    return _not_ahead(EventLists(
        [event.event_id for event in events], watch, [event.user_id for event in events],
        [event.movie_id for event in events],
        [math.nan if event.rating is None or w else event.rating for event, w in zip(events, watch, strict=True)],
        [event.seconds_watched if w else math.nan for event, w in zip(events, watch, strict=True)],
        [event.completed and w for event, w in zip(events, watch, strict=True)],
        [event.timestamp for event in events], [event.source for event in events]))


def encode_events(events: list[dict[str, Any]]) -> bytes:
    """A version-1 envelope for events given as dicts (each with its ``type``; rating when absent)."""
    return _encoder.encode({"v": 1, "events": events})


def encode_erasure(user_id: int) -> bytes:
    return _encoder.encode({"v": 1, "erase": user_id})


def encode_columns(kind: Kind, source: str, **columns: Any) -> bytes:
    """A version-2 envelope: ``columns`` are the kind's fields (lists or numpy arrays) plus ``event_id``."""
    body: dict[str, Any] = {"v": SCHEMA_VERSION, "type": kind, "source": source}
    for name in ["event_id", *KIND_FIELDS[kind]]:
        values = columns[name]
        body[name] = values.tolist() if isinstance(values, np.ndarray) else list(values)
    return _encoder.encode(body)
