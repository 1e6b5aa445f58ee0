"""Time-decayed popularity ("trending now") with one number per movie.

A view or rating at time t adds ``w · 2^((t − t₀)/h)`` to the movie's score, where h is the
half-life and t₀ a fixed epoch. Ranking by that score equals ranking by
``Σ w · 2^(−(now − t)/h)`` (the common factor ``2^((now − t₀)/h)`` cancels), so scores never need
rewriting as time passes: one increment per event. The exponent is rebased by ``t₀`` so it stays
well inside float range for years of events.

Example
-------
>>> import numpy as np
>>> trend = Trending(half_life_s=3600.0, epoch=0.0)
>>> ids, inc = trend.increments(np.array([7, 7, 9]), np.array([1.0, 1.0, 1.0]), np.array([0.0, 0.0, 3600.0]))
>>> dict(zip(ids.tolist(), inc.round(3).tolist()))
{7: 2.0, 9: 2.0}
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt


class Trending:
    def __init__(self, half_life_s: float = 7 * 24 * 3600.0, epoch: float = 1.5e9) -> None:
        self.half_life_s = half_life_s
        self.epoch = epoch

    def increments(self, movies: npt.NDArray[np.int64], weights: npt.NDArray[np.float64],
                   timestamps: npt.NDArray[np.float64]) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.float64]]:
        """Per distinct movie, the amount to add to its score for this batch."""
        decayed = weights * np.exp2((timestamps - self.epoch) / self.half_life_s)
        ids, index = np.unique(movies, return_inverse=True)
        return ids, np.bincount(index, weights=decayed, minlength=len(ids)).astype(np.float64)

    def current(self, score: float, now: float) -> float:
        """A stored score expressed as the decayed weight at ``now`` (for display)."""
        return float(score * np.exp2(-(now - self.epoch) / self.half_life_s))
