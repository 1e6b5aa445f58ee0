"""Baselines every model must beat: popularity for ranking, biases for ratings.

``Baseline`` estimates ``r̂(u, i) = μ + b_u + b_i`` by alternating regularised means (as
Surprise's ``baseline_options`` with ALS): ``b_i = Σ(r − μ − b_u) / (λ_i + n_i)`` then
``b_u = Σ(r − μ − b_i) / (λ_u + n_u)``. The neighbourhood models predict residuals from it.

Example
-------
>>> import numpy as np
>>> from recommenders.data import Ratings
>>> data, _, _ = Ratings.from_ids([1, 1, 2, 2, 3], [7, 8, 7, 8, 7], [5.0, 3.0, 4.0, 2.0, 5.0])
>>> b = Baseline(reg_items=0.0, reg_users=0.0).fit(data)
>>> bool(b.predict(np.array([0]), np.array([0]))[0] > b.predict(np.array([0]), np.array([1]))[0])
True
>>> Popularity().fit(data).recommend(np.array([2]), k=2).tolist()
[[0, 1]]
"""

from __future__ import annotations

from typing import Self

import numpy as np

from recommenders.base import Recommender
from recommenders.data import FloatArray, IntArray, Ratings


class Popularity(Recommender):
    """Most-rated first, the same list for everyone (ties broken by mean rating)."""

    name = "popularity"
    rates = False

    def fit(self, train: Ratings) -> Self:
        counts = train.item_counts().astype(np.float64)
        sums = np.bincount(train.items, weights=train.ratings, minlength=train.n_items)
        self.popularity = counts + 1e-3 * sums / np.maximum(counts, 1)
        return self

    def score(self, users: IntArray) -> FloatArray:
        return np.broadcast_to(self.popularity, (len(users), len(self.popularity))).copy()


class Baseline(Recommender):
    name = "baseline"

    def __init__(self, reg_items: float = 10.0, reg_users: float = 15.0, epochs: int = 10) -> None:
        self.reg_items, self.reg_users, self.epochs = reg_items, reg_users, epochs

    def fit(self, train: Ratings) -> Self:
        self.mean = float(train.ratings.mean())
        n_u = train.user_counts().astype(np.float64)
        n_i = train.item_counts().astype(np.float64)
        bu, bi = np.zeros(train.n_users), np.zeros(train.n_items)
        r = train.ratings - self.mean
        for _ in range(self.epochs):
            bi = np.bincount(train.items, weights=r - bu[train.users], minlength=train.n_items) / (self.reg_items + n_i)
            bu = np.bincount(train.users, weights=r - bi[train.items], minlength=train.n_users) / (self.reg_users + n_u)
        self.user_bias, self.item_bias = bu, bi
        return self

    def predict(self, users: IntArray, items: IntArray) -> FloatArray:
        return self.mean + self.user_bias[users] + self.item_bias[items]

    def score(self, users: IntArray) -> FloatArray:
        return self.mean + self.user_bias[users][:, None] + self.item_bias[None, :]
