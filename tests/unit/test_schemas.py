import json

import pytest

from streams.schemas import Invalid, Rating, RatingEvent, Watch, encode_events, parse_message

GOOD = {"event_id": "e1", "user_id": 7, "movie_id": 1, "rating": 4.5, "timestamp": 1.0, "source": "test"}


def test_envelope_of_ratings_and_watches_parses() -> None:
    watch = {**GOOD, "type": "watch", "event_id": "e2", "seconds_watched": 3600, "completed": True}
    events = parse_message(encode_events([GOOD, watch]))
    assert isinstance(events, list)
    assert isinstance(events[0], Rating) and events[0].rating == 4.5
    assert isinstance(events[1], Watch) and events[1].completed


def test_a_bare_event_is_accepted() -> None:
    events = parse_message(json.dumps(GOOD).encode())
    assert isinstance(events, list) and events[0].user_id == 7


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        (b"", "empty message"),
        (b"{not json", "not JSON"),
        (encode_events([{**GOOD, "rating": 5.5}]), "event 0: rating 5.5 is not in 0.5..5.0"),
        (encode_events([{**GOOD, "rating": 3.3}]), "steps of 0.5"),
        (encode_events([GOOD, {**GOOD, "user_id": "x"}]), "event 1:"),
        (encode_events([{**GOOD, "user_id": True}]), "user_id must be an integer"),
        (encode_events([{**GOOD, "event_id": ""}]), "event_id is required"),
        (encode_events([{**GOOD, "type": "like"}]), "unknown event type 'like'"),
        (json.dumps({"v": 2, "events": [GOOD]}).encode(), "unsupported schema version 2"),
        (json.dumps({"events": []}).encode(), "non-empty list"),
        (json.dumps({**GOOD, "timestamp": float("nan")}).encode(), "timestamp must be finite"),
    ],
)
def test_bad_messages_say_why(raw: bytes, reason: str) -> None:
    result = parse_message(raw)
    assert isinstance(result, Invalid) and reason in result.reason


def test_a_record_written_by_a_producer_parses_back_to_the_same_fields() -> None:
    record = RatingEvent(event_id="e9", user_id=3, movie_id=4, rating=3.5, timestamp=10.0, source="api")
    events = parse_message(encode_events([{**record.asdict(), "type": "rating"}]))
    assert isinstance(events, list)
    assert events[0] == Rating("e9", 3, 4, 3.5, 10.0, "api")
