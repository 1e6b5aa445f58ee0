from faust.types import TP

from streams.rewind import behind


def test_only_partitions_where_redis_is_behind_the_committed_offset_are_rewound() -> None:
    assigned = [TP("ratings", 0), TP("ratings", 1), TP("ratings", 2), TP("ratings", 3), TP("watches", 0)]
    committed: dict[TP, int | None] = {TP("ratings", 0): 100, TP("ratings", 1): 100, TP("ratings", 2): None,
                                       TP("ratings", 3): 100, TP("watches", 0): 100}
    applied = {0: 49, 1: 99, 2: 10, 3: 150}  # behind; caught up; never committed; ahead (a process crash)
    assert behind(assigned, "ratings", committed, applied) == {TP("ratings", 0): 50}
