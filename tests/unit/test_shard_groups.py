"""``storage.shards.shard_groups``: every position once, in its id's shard, ascending within it."""

from __future__ import annotations

import numpy as np

from storage.shards import SHARDS, shard_groups


def test_shard_groups_match_the_definition() -> None:
    rng = np.random.default_rng(0)
    for size in (0, 1, 7, 500):
        ids = rng.integers(0, 10**6, size)
        groups = shard_groups(ids)
        assert sorted(shard for shard, _ in groups) == sorted(set((ids % SHARDS).tolist()))
        for shard, at in groups:
            assert at.tolist() == np.flatnonzero(ids % SHARDS == shard).tolist()
