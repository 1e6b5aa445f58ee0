"""Split a micro-batch into rounds so that a user's later events see their earlier ones.

Learning a whole batch in one vectorised step predicts every event from the state before the
batch: a user who rates 300 films in one session gets 300 predictions made as if they were new.
Events are therefore learned in rounds by their rank among the same user's events in the batch:
ranks below ``exact`` get one round each (sequential semantics where it matters most, for the
first events of a user); later ranks share rounds that grow as sqrt(rank), bounding the number
of vectorised steps. Measured on ml-latest-small in time order, batches of 2,000 (prequential
RMSE, events/s of the pure computation): one round 0.97 / 830k; rounds per rank 0.866 / 48k;
``exact=16`` 0.890 / 317k.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

IntArray = npt.NDArray[np.int64]


def occurrence_rank(keys: IntArray) -> IntArray:
    """For each position, how many earlier positions hold the same key (0 for the first)."""
    order = np.argsort(keys, kind="stable")
    sorted_keys = keys[order]
    starts = np.r_[0, np.flatnonzero(sorted_keys[1:] != sorted_keys[:-1]) + 1]
    lengths = np.diff(np.r_[starts, len(keys)])
    rank = np.empty(len(keys), dtype=np.int64)
    rank[order] = np.arange(len(keys)) - np.repeat(starts, lengths)
    return rank


def learning_rounds(user_index: IntArray, exact: int = 16) -> IntArray:
    if exact <= 0:
        return np.zeros(len(user_index), dtype=np.int64)
    rank = occurrence_rank(user_index)
    tail = exact + np.floor(np.sqrt(np.maximum(rank - exact, 0))).astype(np.int64)
    return np.where(rank < exact, rank, tail)
