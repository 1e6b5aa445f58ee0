import json

import pandas as pd

from simulators.replay import envelopes
from streams.schemas import EventColumns, parse_message


def test_consecutive_events_of_one_user_share_an_envelope_up_to_the_cap() -> None:
    df = pd.DataFrame({"userId": [1, 1, 1, 2, 1], "movieId": [1, 2, 3, 4, 5], "rating": [4.0, 3.5, 5.0, 1.0, 2.0],
                       "timestamp": [1, 2, 3, 4, 5]})
    out = envelopes(df, per_message=2, source="t")
    assert [(user, n) for user, _, n in out] == [(1, 2), (1, 1), (2, 1), (1, 1)]
    first = json.loads(out[0][1])
    assert first["movie_id"] == [1, 2] and first["rating"] == [4.0, 3.5] and first["v"] == 2
    ids = [e for _, payload, _ in out for e in json.loads(payload)["event_id"]]
    assert len(set(ids)) == 5
    parsed = [parse_message(payload) for _, payload, _ in out]
    assert [p.movies.tolist() for p in parsed if isinstance(p, EventColumns)] == [[1, 2], [3], [4], [5]]
