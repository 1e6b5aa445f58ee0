"""Time-decayed popularity ("trending now") with one number per movie.

A view or rating at time t adds ``w · 2^((t − t₀)/h)`` to the movie's score, where h is the
half-life and t₀ a reference time (the epoch). Ranking by that score equals ranking by
``Σ w · 2^(−(now − t)/h)`` (the common factor ``2^((now − t₀)/h)`` cancels), so scores never
need rewriting as time passes: one increment per event. To keep ``2^((t − t₀)/h)`` inside float
range the epoch moves forward once events get ``MAX_EXPONENT`` half-lives ahead of it, and every
stored score is multiplied by ``2^(−shift/h)`` (see :meth:`Trending.rebase`).

Example
-------
>>> import numpy as np
>>> trend = Trending(half_life_s=3600.0)
>>> ids, inc = trend.increments(np.array([7, 7, 9]), np.array([1.0, 1.0, 1.0]), np.array([0.0, 0.0, 3600.0]), 0.0)
>>> dict(zip(ids.tolist(), inc.round(3).tolist()))
{7: 2.0, 9: 2.0}
>>> new_epoch, factor = trend.rebase(epoch=0.0, latest=3600.0 * 600)
>>> new_epoch, factor == 2.0 ** -600
(2160000.0, True)

A batch against the stored epoch (None before the first) is one update, what the store writes:

>>> update = trend.update(np.array([7]), np.array([1.0]), np.array([3600.0]), epoch=None, now=3600.0)
>>> update.epoch, update.factor, update.movies.tolist(), update.increments.tolist()
(3600.0, 1.0, [7], [1.0])
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from contracts.events import FUTURE_SLACK_S

MAX_EXPONENT = 500.0  # 2^500 ≈ 3e150: far from float64's 1.8e308, even summed over many events


@dataclass(frozen=True)
class TrendingUpdate:
    """What one batch changes: every stored score times ``factor``, the epoch set to ``epoch``, then
    ``increments`` added to the scores of ``movies``."""

    epoch: float
    factor: float
    movies: npt.NDArray[np.int64]
    increments: npt.NDArray[np.float64]


class Trending:
    def __init__(self, half_life_s: float = 7 * 24 * 3600.0) -> None:
        self.half_life_s = half_life_s

    def increments(self, movies: npt.NDArray[np.int64], weights: npt.NDArray[np.float64],
                   timestamps: npt.NDArray[np.float64], epoch: float
                   ) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.float64]]:
        """Per distinct movie, the amount to add to its score for this batch."""
        decayed = weights * np.exp2((timestamps - epoch) / self.half_life_s)
        ids, index = np.unique(movies, return_inverse=True)
        return ids, np.bincount(index, weights=decayed, minlength=len(ids)).astype(np.float64)

    @staticmethod
    def bounded(timestamps: npt.NDArray[np.float64], now: float) -> npt.NDArray[np.float64]:
        """No event counts as later than ``now`` + 5 minutes.

        Unbounded, one event stamped in the far future would outweigh every real one (its weight
        doubles each half-life it claims to be ahead) and, by moving the epoch, scale every real
        score to nothing: trending would stay broken for good. Bounded, no single event weighs more
        than ``2^(300 s / half-life)`` — 1.0003 with a week's half-life — times its confidence (≤ 1).

        >>> Trending.bounded(np.array([0.0, 1e9, 4e9]), now=1e9).tolist()
        [0.0, 1000000000.0, 1000000300.0]
        """
        return np.minimum(timestamps, now + FUTURE_SLACK_S)

    def rebase(self, epoch: float, latest: float) -> tuple[float, float]:
        """``(new_epoch, factor)``: where the epoch moves and what stored scores are multiplied by.

        Unchanged ``(epoch, 1.0)`` while ``latest`` is within range of ``epoch``.
        """
        if (latest - epoch) / self.half_life_s <= MAX_EXPONENT:
            return epoch, 1.0
        return latest, float(np.exp2(-(latest - epoch) / self.half_life_s))

    def update(self, movies: npt.NDArray[np.int64], weights: npt.NDArray[np.float64],
               timestamps: npt.NDArray[np.float64], epoch: float | None, now: float) -> TrendingUpdate:
        """The batch's update against the stored ``epoch`` (None: nothing stored yet, the batch's first
        event sets it); timestamps are bounded by the learner's clock ``now`` (``bounded``)."""
        timestamps = self.bounded(timestamps, now)
        start = float(timestamps.min()) if epoch is None else epoch
        new_epoch, factor = self.rebase(start, float(timestamps.max()))
        ids, increments = self.increments(movies, weights, timestamps, new_epoch)
        return TrendingUpdate(new_epoch, factor, ids, increments)
