import numpy as np

from contracts.events import Invalid, encode_events
from contracts.partitions import partition_of
from simulators.load import envelopes, synthetic_events
from streams.event_columns import EventColumns, parse_message


def test_synthetic_events_are_valid_and_follow_taste() -> None:
    ratings, watches = synthetic_events(np.random.default_rng(0), users=50, movies=400, n=6000, run="t",
                                        first_user=10)
    assert 0.25 < len(watches) / 6000 < 0.42
    parsed = parse_message(encode_events(ratings[:100] + watches[:100]))
    assert not isinstance(parsed, Invalid) and len(parsed) == 200
    assert len({e["event_id"] for e in ratings + watches}) == 6000
    stars = np.array([r["rating"] for r in ratings])
    assert 2.5 < stars.mean() < 4.0 and stars.std() > 0.6  # tastes spread the ratings


def test_a_ticks_events_travel_one_envelope_per_partition_each_users_in_order() -> None:
    ratings, watches = synthetic_events(np.random.default_rng(1), users=40, movies=50, n=600, run="t", first_user=10)
    for kind, events in (("rating", ratings), ("watch", watches)):
        sent = envelopes(kind, events, partitions=4)  # type: ignore[arg-type]
        users = np.array([e["user_id"] for e in events])
        assert len(sent) == len(set(partition_of(users, 4).tolist())) <= 4  # not one message per user
        seen = []
        for partition, payload in sent:
            parsed = parse_message(payload)
            assert isinstance(parsed, EventColumns)
            assert set(partition_of(parsed.users, 4).tolist()) == {partition}
            assert parsed.event_ids == [e["event_id"] for e in events if partition_of(np.array([e["user_id"]]), 4)[0]
                                        == partition]  # each user's events in their order
            assert (parsed.kinds == (kind == "watch")).all()
            seen += parsed.event_ids
        assert sorted(seen) == sorted(e["event_id"] for e in events)


def test_the_load_draws_movies_as_often_as_the_release_rated_them() -> None:
    popularity = np.r_[np.full(10, 0.08), np.full(990, 0.2 / 990)]  # ten films take 80 % of the ratings
    ratings, watches = synthetic_events(np.random.default_rng(2), users=100, movies=1000, n=20_000, run="t",
                                        first_user=10, popularity=popularity)
    drawn = np.array([e["movie_id"] for e in ratings + watches])
    assert 0.77 < np.isin(drawn, np.arange(1, 11)).mean() < 0.83
    alike, _ = synthetic_events(np.random.default_rng(2), users=100, movies=1000, n=20_000, run="t", first_user=10)
    assert np.isin([e["movie_id"] for e in alike], np.arange(1, 11)).mean() < 0.02
