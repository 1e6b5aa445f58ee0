"""Train/test splits with fixed seeds, so every model in a run is scored on the same split.

- ``random_split``: a seeded share of all ratings is held out (the classic Surprise protocol).
- ``temporal_split``: each user's last ``n`` ratings by timestamp (or their last ``share`` of them)
  are held out — what a live system faces: predict what someone does next from what they did before.

Example
-------
>>> import numpy as np
>>> from recommenders.data import Ratings
>>> data, _, _ = Ratings.from_ids([1, 1, 1, 2, 2], [1, 2, 3, 1, 2], [4, 3, 5, 2, 1], [10, 30, 20, 5, 6])
>>> train, test = temporal_split(data, n=1)
>>> sorted(zip(test.users.tolist(), test.timestamps.tolist()))
[(0, 30), (1, 6)]
>>> train, test = temporal_split(data, share=0.5)  # half of each, rounded, at least one
>>> sorted(zip(test.users.tolist(), test.timestamps.tolist()))
[(0, 20), (0, 30), (1, 6)]
>>> a, b = random_split(data, 0.4, seed=1), random_split(data, 0.4, seed=1)
>>> a[1].ratings.tolist() == b[1].ratings.tolist()
True
"""

from __future__ import annotations

import numpy as np

from recommenders.data import Ratings


def random_split(data: Ratings, test_share: float = 0.2, seed: int = 0) -> tuple[Ratings, Ratings]:
    test = np.random.default_rng(seed).random(len(data)) < test_share
    return data.subset(~test), data.subset(test)


def temporal_split(data: Ratings, n: int = 5, min_left: int = 1, share: float | None = None) -> tuple[Ratings, Ratings]:
    """Each user's ``n`` latest ratings go to test (with ``share``: their latest ``share`` of them, rounded,
    at least one), if that leaves ``min_left`` for training."""
    order, rank = data.newest_first()
    counts = data.user_counts()
    held_of_user = np.full(len(counts), n) if share is None else np.maximum(np.rint(share * counts), 1).astype(np.int64)
    mine = data.users[order]
    held = (rank < held_of_user[mine]) & (counts[mine] - held_of_user[mine] >= min_left)
    test = np.zeros(len(data), dtype=bool)
    test[order[held]] = True
    return data.subset(~test), data.subset(test)
