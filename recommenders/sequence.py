"""A sequence-aware ranker: what people took next, after the films someone took last.

People rate and watch in runs (a genre evening, a franchise, the films a page showed together), so the
films rated just after a film say more about what comes next than those rated years apart. From each
person's history in time order, a transition weight counts every later film within ``window`` steps,
discounted by ``decay`` per step (and, at ``backward`` of the weight, the films just before):

    T[i, j] = Σ_persons Σ_{0 < d ≤ window, film i at step s, film j at step s + d} decay^(d−1)

Rows are divided by the source film's count to the power ``alpha`` and columns by the target's to the
power ``beta`` (as RP3beta does, so the most-taken films do not win every row), and each row keeps its
``neighbours`` largest weights. A person's scores are the rows of their last ``recent`` films, the most
recent weighted 1 and each earlier one ``recency`` times the next:

    score_u = Σ_{r < recent} recency^r · T[film taken r steps before the last]

A time-ordered, windowed item-to-item model (session-kNN and FPMC's first-order transitions are its
relatives) in a few sparse products: no iterations, no torch.

Example
-------
>>> import numpy as np
>>> from recommenders.data import Ratings
>>> users = [1, 1, 1, 2, 2, 2, 3, 3]
>>> films = [10, 20, 30, 10, 20, 30, 40, 10]
>>> data, _, _ = Ratings.from_ids(users, films, [5] * 8, [1, 2, 3, 1, 2, 3, 1, 2])
>>> seq = Sequence(window=1, backward=0.0, alpha=0.0, beta=0.0).fit(data)
>>> seq.recommend(np.array([2]), k=1, seen=data).tolist()  # person 3 last took film 10 (code 0): 20 (code 1) follows it
[[1]]
"""

from __future__ import annotations

from typing import Self

import numpy as np
import scipy.sparse as sp

from recommenders.base import Recommender
from recommenders.data import FloatArray, IntArray, Ratings


def in_time_order(train: Ratings) -> tuple[IntArray, IntArray]:
    """Users and items sorted by user, then time (ties kept in the data's order)."""
    order = np.lexsort((np.arange(len(train)), train.timestamps, train.users))
    return train.users[order], train.items[order]


def keep_largest(m: sp.csr_matrix, per_row: int) -> sp.csr_matrix:
    """Each row's ``per_row`` largest entries."""
    m = m.tocsr()
    counts = np.diff(m.indptr)
    if counts.max(initial=0) <= per_row:
        return m
    row = np.repeat(np.arange(m.shape[0]), counts)
    order = np.lexsort((-m.data, row))  # by row, largest first
    rank = np.arange(len(order)) - np.repeat(m.indptr[:-1], counts)
    keep = order[rank < per_row]
    return sp.csr_matrix((m.data[keep], (row[keep], m.indices[keep])), shape=m.shape)


class Sequence(Recommender):
    name = "sequence"
    rates = False

    def __init__(self, window: int = 20, decay: float = 0.9, backward: float = 0.5, alpha: float = 0.5,
                 beta: float = 0.3, neighbours: int = 300, recent: int = 20, recency: float = 0.85) -> None:
        self.window, self.decay, self.backward = window, decay, backward
        self.alpha, self.beta, self.neighbours = alpha, beta, neighbours
        self.recent, self.recency = recent, recency

    def fit(self, train: Ratings) -> Self:
        users, items = in_time_order(train)
        n = train.n_items
        t = sp.csr_matrix((n, n))
        for d in range(1, self.window + 1):  # one distance at a time: all at once held 40 triplets a rating
            same = users[:-d] == users[d:]
            before, after = items[:-d][same], items[d:][same]
            weight = np.full(len(before), self.decay ** (d - 1))
            t = t + sp.csr_matrix((weight, (before, after)), shape=(n, n))
            if self.backward:
                t = t + sp.csr_matrix((weight * self.backward, (after, before)), shape=(n, n))
        t.setdiag(0.0)
        t.eliminate_zeros()
        count = np.maximum(train.item_counts().astype(np.float64), 1.0)
        t = sp.diags(count ** -self.alpha) @ t @ sp.diags(count ** -self.beta)
        self.t_ = keep_largest(t, self.neighbours)
        self.h_ = self._recent_history(users, items, train.n_users, n)
        return self

    def _recent_history(self, users: IntArray, items: IntArray, n_users: int, n_items: int) -> sp.csr_matrix:
        """Each person's last ``recent`` films, weighted by how recently they came."""
        last = np.r_[np.flatnonzero(users[1:] != users[:-1]), len(users) - 1] if len(users) else np.array([], int)
        ends = np.repeat(last, np.diff(np.r_[-1, last]))  # each row's person's last position
        back = ends - np.arange(len(users))  # 0 for the last film
        keep = back < self.recent
        return sp.csr_matrix((self.recency ** back[keep], (users[keep], items[keep])), shape=(n_users, n_items))

    def score(self, users: IntArray) -> FloatArray:
        return np.asarray((self.h_[users] @ self.t_).toarray())
