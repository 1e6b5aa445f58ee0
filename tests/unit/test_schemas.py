import json
import time
from typing import Any

import numpy as np
import pytest
from pydantic import TypeAdapter, ValidationError

from api.routes.events import ServiceEvent, _check
from contracts.events import Invalid, decode_message, encode_columns, encode_events
from streams.event_columns import EventColumns, parse_message

GOOD = {"event_id": "e1", "user_id": 7, "movie_id": 1, "rating": 4.5, "timestamp": 1.6e9, "source": "test"}
WATCH = {**GOOD, "type": "watch", "event_id": "e2", "seconds_watched": 3600, "completed": True}


def columns(**overrides: object) -> bytes:
    body = {"v": 2, "type": "rating", "source": "replay", "event_id": ["a", "b"], "user_id": [1, 1],
            "movie_id": [10, 20], "rating": [4.0, 0.5], "timestamp": [1.6e9, 1.6e9 + 1], **overrides}
    return json.dumps(body).encode()


def test_envelope_of_ratings_and_watches_parses() -> None:
    events = parse_message(encode_events([GOOD, WATCH]))
    assert isinstance(events, EventColumns)
    assert events.kinds.tolist() == [False, True]
    assert events.ratings[0] == 4.5 and np.isnan(events.ratings[1])
    assert np.isnan(events.seconds[0]) and events.seconds[1] == 3600 and events.completed.tolist() == [False, True]


def test_a_bare_event_is_accepted() -> None:
    events = parse_message(json.dumps(GOOD).encode())
    assert isinstance(events, EventColumns) and events.users.tolist() == [7] and events.sources == ["test"]


def test_columns_written_by_encode_columns_read_back_as_the_same_events() -> None:
    users, movies = np.array([3, 3, 3]), np.array([5, 6, 7])
    raw = encode_columns("watch", "tv", event_id=["w1", "w2", "w3"], user_id=users, movie_id=movies,
                         seconds_watched=np.array([10.0, 20.0, 30.0]), completed=[False, False, True],
                         timestamp=1.6e9 + np.array([1.0, 2.0, 3.0]))
    events = parse_message(raw)
    assert isinstance(events, EventColumns)
    assert events.event_ids == ["w1", "w2", "w3"] and events.kinds.all() and events.sources == ["tv"] * 3
    assert events.users.tolist() == [3, 3, 3] and events.movies.tolist() == [5, 6, 7]
    assert events.seconds.tolist() == [10.0, 20.0, 30.0] and events.completed.tolist() == [False, False, True]
    assert np.isnan(events.ratings).all()


def test_a_batch_joins_messages_of_both_versions_in_order() -> None:
    parts = [decode_message(columns()), decode_message(encode_events([WATCH]))]
    assert not any(isinstance(part, Invalid) for part in parts)
    batch = EventColumns.of(parts)  # type: ignore[arg-type]
    assert batch.event_ids == ["a", "b", "e2"] and batch.movies.tolist() == [10, 20, 1]
    assert batch.kinds.tolist() == [False, False, True] and batch.users.dtype == np.int64


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        (b"", "empty message"),
        (b"{not json", "not JSON"),
        (encode_events([{**GOOD, "rating": 5.5}]), "<= 5.0 - at `$.events[0].rating`"),
        (encode_events([{**GOOD, "rating": 3.3}]), "multiple of 0.5 - at `$.events[0].rating`"),
        (encode_events([GOOD, {**GOOD, "user_id": "x"}]), "at `$.events[1].user_id`"),
        (encode_events([{**GOOD, "user_id": True}]), "Expected `int`, got `bool`"),
        (encode_events([{**GOOD, "user_id": -1}]), ">= 0 - at `$.events[0].user_id`"),
        # past what the model's Lua reads exactly (a double), and what a similarity row packs (<i4)
        (encode_events([{**GOOD, "user_id": 2**53}]), "<= 9007199254740991 - at `$.events[0].user_id`"),
        (encode_events([{**GOOD, "movie_id": 2**31}]), "<= 2147483647 - at `$.events[0].movie_id`"),
        (encode_events([{**GOOD, "event_id": ""}]), "length >= 1 - at `$.events[0].event_id`"),
        (encode_events([{**GOOD, "type": "like"}]), "'like' - at `$.events[0].type`"),
        (encode_events([GOOD, {k: v for k, v in WATCH.items() if k != "seconds_watched"}]),
         "event 1: a watch needs seconds_watched"),
        (json.dumps({"v": 3, "events": [GOOD]}).encode(), "unsupported schema version 3"),
        (json.dumps({"events": []}).encode(), "non-empty list"),
        (json.dumps({**GOOD, "timestamp": float("nan")}).encode(), "not JSON"),
        (json.dumps({**GOOD, "timestamp": 1.7e12}).encode(), "at `$.timestamp`"),  # milliseconds, not seconds
        (json.dumps({**GOOD, "timestamp": 7.0e8}).encode(), ">= 788918400.0 - at `$.timestamp`"),  # before 1995
        (encode_events([{**GOOD, "timestamp": time.time() + 3600}]), "s in the future"),
        (columns(timestamp=[1.6e9, time.time() + 3600]), "s in the future"),
        (encode_events([{**GOOD, "event_id": "a b"}]), "at `$.events[0].event_id`"),
        (encode_events([{**GOOD, "event_id": "x" * 65}]), "length <= 64"),
        (columns(rating=[4.0, 7.0]), "<= 5.0 - at `$.rating[1]`"),
        (columns(user_id=[1]), "columns differ in length"),
        (columns(rating=None), "a rating envelope needs the columns rating"),
        (columns(event_id=[], user_id=[], movie_id=[], rating=[], timestamp=[]), "no events"),
        (columns(type="like"), "'like' - at `$.type`"),
    ],
)
def test_bad_messages_say_why(raw: bytes, reason: str) -> None:
    result = parse_message(raw)
    assert isinstance(result, Invalid) and reason in result.reason


def test_an_event_written_as_dicts_parses_back_to_the_same_fields() -> None:
    events = parse_message(encode_events([{"event_id": "e9", "user_id": 3, "movie_id": 4, "rating": 3.5,
                                           "timestamp": 1.6e9, "source": "api", "type": "rating"}]))
    assert isinstance(events, EventColumns)
    assert (events.event_ids, events.users.tolist(), events.movies.tolist(), events.ratings.tolist(),
            events.timestamps.tolist(), events.sources) == (["e9"], [3], [4], [3.5], [1.6e9], ["api"])


class _EveryMovie:  # the catalogue check is the same on both sides (tests/integration/test_streaming.py)
    def has(self, movie: int) -> bool:
        return True


ALL_MOVIES: Any = _EveryMovie()


EDGES = [("event_id", ["", "a", "a.b:c-d_9", "a b", "é", "x" * 64, "x" * 65]),
         ("user_id", [-1, 0, 2**53 - 1, 2**53, 2**63 - 1, 2**63]),
         ("movie_id", [-1, 0, 2**31 - 1, 2**31, 2**63 - 1]),
         ("rating", [0.0, 0.5, 3.3, 3.5, 5.0, 5.5]),
         ("seconds_watched", [-1.0, 0.0, 1e6, 1e6 + 1]),
         ("timestamp", [7.88e8, 788_918_400.0, 1.6e9, time.time() + 60, time.time() + 3600, 1.7e12])]


@pytest.mark.parametrize(("field", "value"), [(field, value) for field, values in EDGES for value in values])
def test_the_api_accepts_exactly_what_the_stream_learns(field: str, value: object) -> None:
    """One set of limits: an event the API's batch route refuses is one the stream dead-letters."""
    kind = "watch" if field == "seconds_watched" else "rating"
    event = {**(WATCH if kind == "watch" else GOOD), "type": kind, field: value}
    event.pop("source")
    try:
        in_api = not isinstance(_check(TypeAdapter(ServiceEvent).validate_python(event), ALL_MOVIES, time.time()),
                                str)
    except ValidationError:
        in_api = False
    in_stream = not isinstance(decode_message(encode_events([event])), Invalid)
    assert in_api == in_stream, (field, value, in_api)

