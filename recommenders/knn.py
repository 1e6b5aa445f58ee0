"""Neighbourhood collaborative filtering: item-based and user-based kNN on baseline residuals.

Both predict ``r̂(u, i) = b_ui + Σ s · z / Σ s`` where ``b_ui = μ + b_u + b_i`` (``Baseline``),
``z = r − b`` are the neighbours' residuals and ``s`` their positive similarities:

- ``ItemKNN`` (as Surprise's KNNBaseline, item-based): the neighbours of ``i`` are the ``k`` items
  most similar to ``i`` *among those the user rated*.
- ``UserKNN``: the neighbours of ``u`` are the ``k`` most similar users overall, and those
  of them who rated ``i`` vote. Pre-selecting neighbours turns scoring into two dense matrix
  products, which is what makes user-based scoring of a whole catalogue affordable.

Similarities (over the users, or items, two entities have in common):

- ``cosine``: of the raw ratings;
- ``pearson``: of ratings centred on each entity's mean (Pearson with global means);
- ``pearson_baseline``: of baseline residuals (Koren 2010), the most accurate here;

each shrunk towards 0 when the support ``n`` is small: ``s · (n − 1) / (n − 1 + shrinkage)``,
and zero below ``min_support``. All three products are one BLAS call each on float32.

Example
-------
>>> import numpy as np
>>> from recommenders.data import Ratings
>>> users = [1, 1, 1, 2, 2, 2, 3, 3]
>>> items = [10, 20, 30, 10, 20, 30, 10, 20]
>>> data, _, _ = Ratings.from_ids(users, items, [5, 5, 1, 4, 4, 1, 5, 5])
>>> knn = ItemKNN(k=2, shrinkage=0, similarity="cosine").fit(data)
>>> round(float(knn.sim[0, 1]), 3)   # items 10 and 20 are rated alike
1.0
"""

from __future__ import annotations

from typing import Literal, Self

import numpy as np
import scipy.sparse as sp

from recommenders.base import Recommender
from recommenders.baseline import Baseline
from recommenders.data import FloatArray, IntArray, Ratings

Similarity = Literal["cosine", "pearson", "pearson_baseline"]


def residuals(train: Ratings, baseline: Baseline, similarity: Similarity, by: Literal["user", "item"]) -> FloatArray:
    """What the similarity is computed on, one value per training rating."""
    if similarity == "cosine":
        return train.ratings
    if similarity == "pearson_baseline":
        return train.ratings - baseline.predict(train.users, train.items)
    owner = train.items if by == "item" else train.users
    n = np.bincount(owner, minlength=owner.max() + 1)
    means = np.bincount(owner, weights=train.ratings, minlength=len(n)) / np.maximum(n, 1)
    return train.ratings - means[owner]


def similarity_bytes(rows: int, columns: int) -> int:
    """Peak of ``similarity_matrix``: three dense rows × columns float32 arrays and six columns²."""
    return 4 * (3 * rows * columns + 6 * columns * columns)


def similarity_matrix(values: sp.csr_matrix, shrinkage: float, min_support: int) -> FloatArray:
    """Column × column similarity of ``values`` (rows are the common observations)."""
    z = values.toarray().astype(np.float32)
    seen = np.zeros_like(z)
    seen[values.nonzero()] = 1.0
    num = z.T @ z
    squares = (z * z).T @ seen  # [i, j]: Σ z_i² over the rows i and j share
    support = seen.T @ seen
    den = np.sqrt(squares * squares.T)
    sim = np.divide(num, den, out=np.zeros_like(num), where=den > 0)
    if shrinkage > 0:
        sim *= np.maximum(support - 1, 0) / (np.maximum(support - 1, 0) + shrinkage)
    sim[support < max(min_support, 1)] = 0.0
    np.fill_diagonal(sim, 0.0)
    return sim


class ItemKNN(Recommender):
    name = "item-kNN"

    def __init__(self, k: int = 40, similarity: Similarity = "pearson_baseline", shrinkage: float = 100.0,
                 min_support: int = 1, min_k: int = 1) -> None:
        self.k, self.similarity, self.shrinkage = k, similarity, shrinkage
        self.min_support, self.min_k = min_support, min_k

    def fit(self, train: Ratings) -> Self:
        self.baseline = Baseline().fit(train)
        counts = train.item_counts()
        # With shrinkage, an item rated once has similarity 0 with every other: leave it out of the matrix.
        floor = 2 if self.shrinkage > 0 else 1
        active = np.flatnonzero(counts >= max(floor, self.min_support))
        self.slot = np.full(train.n_items, len(active), dtype=np.int64)  # inactive items map to a zero row
        self.slot[active] = np.arange(len(active))
        z = residuals(train, self.baseline, self.similarity, by="item")
        keep = self.slot[train.items] < len(active)
        values = sp.csr_matrix((z[keep] + 1e-9 * (z[keep] == 0), (train.users[keep], self.slot[train.items[keep]])),
                               shape=(train.n_users, len(active)))
        sim = similarity_matrix(values, self.shrinkage, self.min_support)
        self.sim = np.zeros((len(active) + 1, len(active) + 1), dtype=np.float32)
        self.sim[:-1, :-1] = sim
        self.by_user = train.matrix(train.ratings - self.baseline.predict(train.users, train.items))
        self.n_items = train.n_items
        return self

    def memory_needed(self, train: Ratings) -> int:
        return similarity_bytes(train.n_users, train.n_items)

    def _estimate(self, user: int, items: IntArray) -> FloatArray:
        row = self.by_user.getrow(user)
        rated, z = row.indices, row.data.astype(np.float32)
        base = self.baseline.predict(np.full(len(items), user), items)
        if not len(rated):
            return base
        s = self._similarities(items, rated)
        if len(rated) > self.k:
            pick = np.argpartition(-s, self.k - 1, axis=1)[:, :self.k]
            s, z_k = np.take_along_axis(s, pick, axis=1), z[pick]
        else:
            z_k = np.broadcast_to(z, s.shape)
        s = np.where(s > 0, s, 0)
        num, den = (s * z_k).sum(axis=1), s.sum(axis=1)
        enough = (den > 0) & ((s > 0).sum(axis=1) >= self.min_k)
        return base + np.divide(num, den, out=np.zeros_like(num), where=enough)

    def _similarities(self, items: IntArray, rated: IntArray) -> FloatArray:
        return self.sim[np.ix_(self.slot[items], self.slot[rated])]

    def predict(self, users: IntArray, items: IntArray) -> FloatArray:
        out = np.empty(len(users))
        order = np.argsort(users, kind="stable")
        for group in np.split(order, np.flatnonzero(np.diff(users[order])) + 1):
            if len(group):
                out[group] = self._estimate(int(users[group[0]]), items[group])
        return out

    def score(self, users: IntArray) -> FloatArray:
        everything = np.arange(self.n_items)
        return np.stack([self._estimate(int(u), everything) for u in users])

    def neighbours(self, item: int, k: int = 10) -> IntArray:
        """The ``k`` items most similar to ``item`` (what "similar movies" shows)."""
        row = self.sim[self.slot[item], self.slot]
        return np.argsort(-row, kind="stable")[:k]


class UserKNN(Recommender):
    name = "user-kNN"

    def __init__(self, k: int = 40, similarity: Similarity = "pearson_baseline", shrinkage: float = 100.0,
                 min_support: int = 1) -> None:
        self.k, self.similarity, self.shrinkage, self.min_support = k, similarity, shrinkage, min_support

    def memory_needed(self, train: Ratings) -> int:
        return similarity_bytes(train.n_items, train.n_users)

    def fit(self, train: Ratings) -> Self:
        self.baseline = Baseline().fit(train)
        z = residuals(train, self.baseline, self.similarity, by="user")
        values = sp.csr_matrix((z + 1e-9 * (z == 0), (train.items, train.users)),
                               shape=(train.n_items, train.n_users))
        sim = np.maximum(similarity_matrix(values, self.shrinkage, self.min_support), 0)
        if self.k < sim.shape[1]:
            cut = np.argpartition(-sim, self.k - 1, axis=1)[:, self.k:]
            np.put_along_axis(sim, cut, 0.0, axis=1)
        self.neighbour_weights = sp.csr_matrix(sim)
        residual = train.ratings - self.baseline.predict(train.users, train.items)
        self.residuals = train.matrix(residual, dtype=np.float32)
        self.rated = train.matrix(np.ones(len(train)), dtype=np.float32)
        return self

    def score(self, users: IntArray) -> FloatArray:
        w = self.neighbour_weights[users]
        num = np.asarray((w @ self.residuals).todense())
        den = np.asarray((w @ self.rated).todense())
        return self.baseline.score(users) + np.divide(num, den, out=np.zeros_like(num), where=den > 0)
