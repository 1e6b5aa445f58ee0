"""A content-neighbourhood correction of the online MF's errors: what MF misses, similar films tell.

For a rating of movie ``i`` by user ``u``, the MF's estimate is corrected by the user's own
recent errors on movies like ``i``:

    r̂ = r̂_MF + w · Σ_j s_ij^p z_uj / (shrink + Σ_j s_ij^p),    s_ij = cos(c_i, c_j) > 0

over the user's last ``history`` ratings ``j``, with ``z_uj`` the MF's error on ``j`` when it
was learned and ``c`` content vectors (metadata TF-IDF with overview embeddings, reduced to a
few dozen dimensions). A user who loved every Pixar film the MF underrated gets the next one
corrected up, from their very first ratings — where a factor model has learned little.
Measured prequentially on ml-latest-small in time order (per-event simulation): MF alone
0.862, with the correction 0.845 (``w=0.8, p=3, shrink=0.3``, 100 ratings, 128 dimensions).

Pure computation: histories come in as flat buffers and go out with the batch appended.

Example
-------
>>> import numpy as np
>>> vecs = np.array([[1.0, 0.0], [0.99, 0.14], [0.0, 1.0]], dtype=np.float32)
>>> knn = ResidualKNN()
>>> history = Histories.empty(1, capacity=3)
>>> # the MF underrated film 0 by 1.5 stars; film 1 is like film 0, film 2 is not
>>> out = knn.correct(history, np.array([0, 0, 0]), np.array([0, 1, 2]), np.array([1.5, 0.0, 0.0]), vecs)
>>> np.round(out.astype(float), 2).tolist()   # film 1 is corrected up; film 2 (unlike) not at all
[0.0, 0.92, 0.0]
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
from numba import njit

FloatArray = npt.NDArray[np.float32]
IntArray = npt.NDArray[np.int64]


@dataclass
class Histories:
    """Each user's recent (item, MF error) pairs, flat: user ``k`` owns ``[start[k], start[k] + capacity[k])``
    of which ``length[k]`` are filled, oldest first."""

    items: IntArray  # rows of the content matrix
    errors: FloatArray
    start: IntArray
    length: IntArray

    @classmethod
    def empty(cls, users: int, capacity: int) -> Histories:
        return cls(np.zeros(users * capacity, np.int64), np.zeros(users * capacity, np.float32),
                   np.arange(users, dtype=np.int64) * capacity, np.zeros(users, np.int64))

    def of(self, user: int, last: int) -> tuple[IntArray, FloatArray]:
        """The user's latest ``last`` pairs."""
        end = self.start[user] + self.length[user]
        first = max(self.start[user], end - last)
        return self.items[first:end], self.errors[first:end]


@njit(cache=True, fastmath=True)  # the dot products vectorise: 12.7 µs an event without, ~3 with
def _correct(users: np.ndarray, items: np.ndarray, errors: np.ndarray, vecs: np.ndarray, h_items: np.ndarray,
             h_errors: np.ndarray, h_start: np.ndarray, h_length: np.ndarray, history: int, weight: float,
             power: int, shrink: float, out: np.ndarray) -> None:
    dims = vecs.shape[1]
    for e in range(len(items)):
        k, i = users[e], items[e]
        end = h_start[k] + h_length[k]
        num, den = np.float32(0.0), np.float32(shrink)
        for h in range(max(h_start[k], end - history), end):
            j = h_items[h]
            s = np.float32(0.0)
            for d in range(dims):
                s += vecs[i, d] * vecs[j, d]
            if s > 0:
                weight_j = s
                for _ in range(power - 1):
                    weight_j *= s
                num += weight_j * h_errors[h]
                den += weight_j
        out[e] = weight * num / den
        h_items[end], h_errors[end] = i, errors[e]
        h_length[k] += 1


class ResidualKNN:
    def __init__(self, weight: float = 0.8, power: int = 3, shrink: float = 0.3, history: int = 100) -> None:
        self.weight, self.power, self.shrink, self.history = weight, power, shrink, history

    def warm_up(self) -> None:
        """Load (or compile) the kernel before the first batch needs it."""
        one = np.zeros(1, dtype=np.int64)
        self.correct(Histories.empty(1, 1), one, one, np.zeros(1), np.ones((1, 2), np.float32))

    def correct(self, histories: Histories, users: IntArray, items: IntArray, errors: npt.NDArray[np.floating],
                vecs: FloatArray) -> FloatArray:
        """Each event's correction, computed before its own error joins the user's history.

        ``errors``: the MF's error on each event (rating minus the MF's estimate made before
        learning it); the histories need room for the batch (``capacity`` ≥ stored + new)."""
        out = np.empty(len(items), dtype=np.float32)
        _correct(users.astype(np.int64), items.astype(np.int64), errors.astype(np.float32), vecs.astype(np.float32),
                 histories.items, histories.errors, histories.start, histories.length, self.history,
                 float(self.weight), int(self.power), float(self.shrink), out)
        return out
