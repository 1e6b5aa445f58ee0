"""Runs of equal keys in grouped (e.g. sorted) arrays: where each run starts, and each element's
place in its run. The group-by of the numpy code that keeps a capped list per key (co-occurrence
rows, recent histories) and cuts ordered events into messages.

>>> keys = np.array([3, 3, 5, 7, 7, 7])
>>> run_starts(keys).tolist(), rank_in_runs(keys).tolist()
([0, 2, 3], [0, 1, 0, 0, 1, 2])
>>> run_starts(np.array([1, 1, 2]), np.array([0, 1, 1])).tolist()  # a run ends where any column changes
[0, 1, 2]
>>> run_starts(np.array([], dtype=np.int64)).tolist()
[]
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt


def run_starts(*columns: np.ndarray) -> npt.NDArray[np.int64]:
    """The index where each run of equal keys (one key: the columns' values at an index) starts."""
    n = len(columns[0])
    if not n:
        return np.zeros(0, dtype=np.int64)
    changed = np.zeros(n - 1, dtype=bool)
    for column in columns:
        changed |= column[1:] != column[:-1]
    return np.flatnonzero(np.r_[True, changed])


def rank_in_runs(*columns: np.ndarray) -> npt.NDArray[np.int64]:
    """Each element's position in its run of equal keys: 0 for the first."""
    starts = run_starts(*columns)
    n = len(columns[0])
    return np.arange(n) - np.repeat(starts, np.diff(np.r_[starts, n]))
