import json

import numpy as np
import pandas as pd
from aiokafka.partitioner import DefaultPartitioner

from contracts.partitions import partition_of
from simulators.replay import envelopes
from streams.event_columns import EventColumns, parse_message


def test_a_users_partition_is_the_one_kafka_gives_their_key() -> None:
    users = np.array([1, 2, 3, 610, 162541, 2])
    expected = [DefaultPartitioner()(str(u).encode(), list(range(8)), list(range(8))) for u in users.tolist()]
    assert partition_of(users, 8).tolist() == expected


def test_events_of_many_users_share_a_partitions_envelope_in_time_order_up_to_the_cap() -> None:
    users = [1, 2, 3, 1, 2, 3, 4, 1]
    df = pd.DataFrame({"userId": users, "movieId": range(10, 18), "rating": [4.0] * 8,
                       "timestamp": np.arange(8) + 1.6e9})
    out = envelopes(df, per_message=2, source="t", partitions=2)
    parts = partition_of(np.array(users), 2)
    for partition, payload, n in out:
        body = json.loads(payload)
        assert n == len(body["user_id"]) <= 2 and body["v"] == 2
        assert {parts[users.index(u)] for u in body["user_id"]} == {partition}  # one partition per envelope
    # every event once, and each partition's events in their time order
    parsed = [(p, parse_message(payload)) for p, payload, _ in out]
    per_partition: dict[int, list[int]] = {}
    for partition, columns in parsed:
        assert isinstance(columns, EventColumns)
        per_partition.setdefault(partition, []).extend(columns.movies.tolist())
    assert sorted(m for ms in per_partition.values() for m in ms) == list(range(10, 18))
    assert all(ms == sorted(ms) for ms in per_partition.values())
    ids = [e for _, payload, _ in out for e in json.loads(payload)["event_id"]]
    assert len(set(ids)) == 8
    # interleaved users no longer make one message each: 8 events, at most 2 per message, 2 partitions
    assert len(out) <= 6


def test_a_window_keeps_a_paced_replay_in_time_order() -> None:
    df = pd.DataFrame({"userId": np.arange(100) % 7, "movieId": np.arange(100), "rating": 3.0,
                       "timestamp": np.arange(100)})
    out = envelopes(df, per_message=5, source="t", partitions=2)  # windows of 10 events
    windows = [int(min(json.loads(payload)["timestamp"])) // 10 for _, payload, _ in out]
    assert windows == sorted(windows)  # no envelope of a later window before one of an earlier one
