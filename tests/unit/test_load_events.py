import numpy as np

from simulators.load import envelopes, synthetic_events
from streams.schemas import EventColumns, Invalid, encode_events, parse_message


def test_synthetic_events_are_valid_and_follow_taste() -> None:
    ratings, watches = synthetic_events(np.random.default_rng(0), users=50, movies=400, n=6000, run="t",
                                        first_user=10)
    assert 0.25 < len(watches) / 6000 < 0.42
    parsed = parse_message(encode_events(ratings[:100] + watches[:100]))
    assert not isinstance(parsed, Invalid) and len(parsed) == 200
    assert len({e["event_id"] for e in ratings + watches}) == 6000
    stars = np.array([r["rating"] for r in ratings])
    assert 2.5 < stars.mean() < 4.0 and stars.std() > 0.6  # tastes spread the ratings


def test_each_users_events_of_a_tick_travel_in_one_envelope_in_order() -> None:
    ratings, watches = synthetic_events(np.random.default_rng(1), users=5, movies=50, n=60, run="t", first_user=10)
    for kind, events in (("rating", ratings), ("watch", watches)):
        sent = envelopes(kind, events)  # type: ignore[arg-type]
        assert len(sent) == len({e["user_id"] for e in events})
        for user, payload in sent:
            parsed = parse_message(payload)
            assert isinstance(parsed, EventColumns) and set(parsed.users.tolist()) == {user}
            assert parsed.event_ids == [e["event_id"] for e in events if e["user_id"] == user]
            assert (parsed.kinds == (kind == "watch")).all()
