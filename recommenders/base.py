"""The one interface every recommender follows, batch or online.

``fit`` learns from ratings, ``predict`` estimates ratings of (user, item) pairs, ``score``
gives a row of preference scores over the whole catalogue per user (higher is better; only
the order matters), and ``recommend`` is the top of that row without what the user has seen.
Online models add ``learn`` (see ``online_models``). Evaluation, the hybrid and the API use
nothing else, so any model can replace any other.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import Self

import numpy as np

from recommenders.data import FloatArray, IntArray, Ratings


def top_k(scores: FloatArray, k: int) -> IntArray:
    """Indices of the ``k`` best scores of each row, best first (argpartition, then a small sort)."""
    k = min(k, scores.shape[1])
    part = np.argpartition(-scores, k - 1, axis=1)[:, :k]
    order = np.argsort(-np.take_along_axis(scores, part, axis=1), axis=1, kind="stable")
    return np.take_along_axis(part, order, axis=1).astype(np.int64)


class Recommender(ABC):
    name: str = "recommender"
    rates: bool = True  # False for models whose scores are not ratings (popularity, implicit ALS)

    @abstractmethod
    def fit(self, train: Ratings) -> Self: ...

    @abstractmethod
    def score(self, users: IntArray) -> FloatArray:
        """``len(users) × n_items`` preference scores."""

    def memory_needed(self, train: Ratings) -> int:
        """An upper estimate of the bytes the fit on ``train`` needs at its peak, where that grows past
        O(ratings + rows·factors) (dense users × items or items × items matrices); 0 for the models
        that stay within it."""
        return 0

    def predict(self, users: IntArray, items: IntArray) -> FloatArray:
        """Rating estimates; the default reads them off ``score`` one user at a time."""
        out = np.empty(len(users), dtype=np.float64)
        order = np.argsort(users, kind="stable")
        bounds = np.flatnonzero(np.diff(users[order])) + 1
        for group in np.split(order, bounds):
            if len(group):
                out[group] = self.score(users[group[:1]])[0, items[group]]
        return out

    def predict_at(self, users: IntArray, items: IntArray, timestamps: IntArray) -> FloatArray:
        """Rating estimates of ratings made at ``timestamps`` (seconds): models that learn how ratings
        drift in time override this; the rest ignore the time."""
        return self.predict(users, items)

    def recommend(self, users: IntArray, k: int, seen: Ratings | None = None) -> IntArray:
        """Top-``k`` item codes per user, without the items ``seen`` holds for that user."""
        scores = np.asarray(self.score(users), dtype=np.float64)
        if seen is not None:
            rows = {int(u): j for j, u in enumerate(users)}
            mask = np.isin(seen.users, users)
            scores[[rows[int(u)] for u in seen.users[mask]], seen.items[mask]] = -np.inf
        return top_k(scores, k)
