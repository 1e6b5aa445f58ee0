"""Biased SVD (Funk style) trained by SGD: the stream's own model, fitted offline.

``r̂(u, i) = μ + b_u + b_i + p_u · q_i``, fitted by epochs of shuffled mini-batch SGD with
per-row AdaGrad rates — exactly ``online_models.biased_mf.BiasedMF`` through
``online_models.batch_fit``. Evaluating this class therefore evaluates the vectors that
``cinestream model bootstrap`` installs and the stream goes on learning from.

Example
-------
>>> import numpy as np
>>> from recommenders.data import Ratings
>>> data, _, _ = Ratings.from_ids([1, 1, 2, 2], [1, 2, 1, 2], [5.0, 1.0, 5.0, 1.0])
>>> svd = SVD(factors=4, epochs=30, batch_size=2).fit(data)
>>> bool(svd.predict(np.array([0]), np.array([0]))[0] > svd.predict(np.array([0]), np.array([1]))[0])
True
"""

from __future__ import annotations

from typing import Self

import numpy as np

from online_models.batch_fit import Fitted, fit
from online_models.biased_mf import BIAS, FACTORS, BiasedMF
from recommenders.base import Recommender
from recommenders.data import FloatArray, IntArray, Ratings


class SVD(Recommender):
    name = "SVD (SGD)"

    def __init__(self, factors: int = 32, epochs: int = 20, lr: float = 0.3, reg: float = 0.05,
                 batch_size: int = 512, seed: int = 0) -> None:
        self.factors, self.epochs, self.lr, self.reg = factors, epochs, lr, reg
        self.batch_size, self.seed = batch_size, seed

    def fit(self, train: Ratings) -> Self:
        self.model = BiasedMF(n_factors=self.factors, lr=self.lr, reg=self.reg, seed=self.seed)
        self.fitted: Fitted = fit(self.model, train.users, train.items, train.ratings, epochs=self.epochs,
                                  batch_size=self.batch_size, seed=self.seed)
        # Rows of every code, also those without a training rating (their initial row: bias 0).
        self.users = self.model.rows_for(np.arange(train.n_users), 1)
        self.items = self.model.rows_for(np.arange(train.n_items), 2)
        self.users[self.fitted.user_ids] = self.fitted.users
        self.items[self.fitted.item_ids] = self.fitted.items
        return self

    def predict(self, users: IntArray, items: IntArray) -> FloatArray:
        return self.model.predict_many(self.users[users], self.items[items], self.fitted.global_mean).astype(float)

    def score(self, users: IntArray) -> FloatArray:
        u = self.users[users]
        return (self.fitted.global_mean + u[:, BIAS][:, None] + self.items[:, BIAS][None, :]
                + u[:, FACTORS:] @ self.items[:, FACTORS:].T)
