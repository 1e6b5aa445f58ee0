"""Incremental item–item similarity from co-occurrence in users' recent histories.

Each new positive event (u, i, w) pairs item i with the items in u's recent history H(u)
(the last ``history`` items, oldest dropped first) and adds w to the co-occurrence C(i, j)
and C(j, i); the item's own count N(i) grows by w. Similarity is the cosine of the implicit
vectors, ``C(i, j) / sqrt(N(i) N(j))``, computed when neighbours are read, so an update
never rewrites a whole row. Ratings count as positive from 3.5★ up, watches by completion.

Example
-------
>>> model = CoOccurrence(history=3)
>>> pairs = model.pairs(np.array([1, 2]), [[10, 11], [10]], np.array([1.0, 0.5]))
>>> sorted(zip(pairs.a.tolist(), pairs.b.tolist(), pairs.w.tolist()))
[(1, 10, 1.0), (1, 11, 1.0), (2, 10, 0.5), (10, 1, 1.0), (10, 2, 0.5), (11, 1, 1.0)]
>>> model.cosine(np.array([4.0]), 2.0, np.array([8.0])).round(3).tolist()
[1.0]
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt


@dataclass(frozen=True)
class Pairs:
    a: npt.NDArray[np.int64]
    b: npt.NDArray[np.int64]
    w: npt.NDArray[np.float64]


class CoOccurrence:
    def __init__(self, history: int = 20, min_rating: float = 3.5, neighbours: int = 20) -> None:
        self.history = history
        self.min_rating = min_rating
        self.neighbours = neighbours

    def rating_weight(self, ratings: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
        return (ratings >= self.min_rating).astype(np.float64)

    def event_weights(self, watches: npt.NDArray[np.bool_], confidence: npt.NDArray[np.float64],
                      ratings: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
        """A watch of at least half the film or a liked rating counts as a positive (weight 1)."""
        return np.where(watches, (confidence >= 0.5).astype(np.float64), self.rating_weight(np.nan_to_num(ratings)))

    def pairs(self, items: npt.NDArray[np.int64], histories: list[list[int]],
              weights: npt.NDArray[np.float64]) -> Pairs:
        """Symmetric co-occurrence increments of new items with their users' histories."""
        lengths = np.fromiter((len(h) for h in histories), dtype=np.int64, count=len(histories))
        others = np.fromiter((j for h in histories for j in h), dtype=np.int64, count=int(lengths.sum()))
        mine = np.repeat(items, lengths)
        w = np.repeat(weights, lengths)
        keep = (mine != others) & (w > 0)
        mine, others, w = mine[keep], others[keep], w[keep]
        return Pairs(np.r_[mine, others], np.r_[others, mine], np.r_[w, w])

    @staticmethod
    def cosine(cooc: npt.NDArray[np.float64], count_i: float, counts_j: npt.NDArray[np.float64]
               ) -> npt.NDArray[np.float64]:
        denom = np.sqrt(count_i * counts_j)
        return np.divide(cooc, denom, out=np.zeros_like(cooc), where=denom > 0)
