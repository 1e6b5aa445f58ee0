"""Alternating least squares, explicit (weighted-λ) and implicit (confidence-weighted).

Both alternate between users and items; each half-step solves, for every row ``x``,

    (B + Σ_j w_j y_j y_jᵀ + λ D) x = Σ_j w_j t_j y_j

where ``y_j`` are the other side's factors of the row's ratings ``j`` and, per kind:

- **explicit** (Zhou et al. 2008, weighted-λ): ``w = 1``, ``B = 0``, ``D = n_x`` (the row's number
  of ratings), ``t`` the rating minus the baseline ``μ + b_u + b_i`` (the factors model what the
  biases leave over);
- **implicit** (Hu, Koren & Volinsky 2008): every unobserved pair is a 0 with confidence 1 and an
  observed one a 1 with confidence ``1 + α·c`` (``c`` the signal: 1 per rating, or a watch's
  completion); ``B = YᵀY`` carries the zeros, ``w = α·c`` the extra confidence, ``D = 1``.

Each row's system gets a few conjugate-gradient steps warm-started from its current vector
(Takács et al. 2011, as ``implicit`` does), so no k×k matrix is formed per row and memory stays
O(ratings + rows·k). The per-row kernel is compiled by numba and runs rows in parallel: a numpy
formulation (gather the factor rows of every rating, then a sparse product) was measured at
4–5× ``implicit``'s time on ml-latest-small, this one at about ``implicit``'s own
(``bench/accuracy.py`` measures both in the same run).

We write our own rather than wrap ``implicit``: one solver serves the explicit model and watch
confidences, its vectors warm-start the online MF, and ``bench/accuracy.py`` measures it
against ``implicit`` on the same split.

Example
-------
>>> import numpy as np
>>> from recommenders.data import Ratings
>>> users = [1, 1, 2, 2, 3, 4, 4]
>>> items = [1, 2, 1, 2, 1, 3, 4]
>>> data, _, _ = Ratings.from_ids(users, items, [5, 4, 5, 4, 5, 5, 5])
>>> model = ImplicitALS(factors=2, iterations=10, seed=0).fit(data)
>>> model.recommend(np.array([2]), k=1, seen=data).tolist()   # user 3 watched what users 1 and 2 did
[[1]]
"""

from __future__ import annotations

from typing import Self

import numpy as np
from numba import njit, prange
from threadpoolctl import threadpool_limits

from online_models.batch_fit import Fitted
from online_models.biased_mf import ACC, BIAS, FACTORS, BiasedMF
from recommenders.base import Recommender
from recommenders.baseline import Baseline
from recommenders.data import FloatArray, IntArray, Ratings


@njit(fastmath=True, cache=True, inline="always")
def _times(indptr: np.ndarray, indices: np.ndarray, weight: np.ndarray, y: np.ndarray, gram: np.ndarray,
           damping: float, row: int, v: np.ndarray, out: np.ndarray) -> None:  # pragma: no cover
    """``out = (B + Σ w y yᵀ + λ D) v`` for one row, with loops numba turns into SIMD."""
    k = len(v)
    for a in range(k):
        acc = damping * v[a]
        for b in range(k):
            acc += gram[a, b] * v[b]
        out[a] = acc
    for idx in range(indptr[row], indptr[row + 1]):
        j = indices[idx]
        dot = 0.0
        for a in range(k):
            dot += y[j, a] * v[a]
        dot *= weight[idx]
        for a in range(k):
            out[a] += dot * y[j, a]


@njit(parallel=True, fastmath=True, cache=True)
def _cg_rows(indptr: np.ndarray, indices: np.ndarray, weight: np.ndarray, wt: np.ndarray, x: np.ndarray,
             y: np.ndarray, gram: np.ndarray, damping: np.ndarray, steps: int, scratch: np.ndarray) -> None:
    n, k = x.shape
    for row in prange(n):
        xu = x[row]
        r, p, ap = scratch[0, row], scratch[1, row], scratch[2, row]  # preallocated: no allocation per row
        _times(indptr, indices, weight, y, gram, damping[row], row, xu, ap)
        for a in range(k):
            r[a] = -ap[a]
        for idx in range(indptr[row], indptr[row + 1]):
            j = indices[idx]
            for a in range(k):
                r[a] += wt[idx] * y[j, a]
        rs = 0.0
        for a in range(k):
            p[a] = r[a]
            rs += r[a] * r[a]
        for _ in range(steps):
            if rs < 1e-20:
                break
            _times(indptr, indices, weight, y, gram, damping[row], row, p, ap)
            pap = 0.0
            for a in range(k):
                pap += p[a] * ap[a]
            alpha = rs / pap
            rs_new = 0.0
            for a in range(k):
                xu[a] += alpha * p[a]
                r[a] -= alpha * ap[a]
                rs_new += r[a] * r[a]
            for a in range(k):
                p[a] = r[a] + (rs_new / rs) * p[a]
            rs = rs_new


class _Side:
    """One half-step's fixed data: the ratings grouped by the rows being solved for (CSR)."""

    def __init__(self, rows: IntArray, cols: IntArray, weight: FloatArray, target: FloatArray, n_rows: int,
                 n_cols: int) -> None:
        order = np.lexsort((cols, rows))
        self.indptr = np.concatenate([[0], np.cumsum(np.bincount(rows, minlength=n_rows))]).astype(np.int64)
        self.indices = cols[order].astype(np.int32)
        self.weight = weight[order].astype(np.float32)
        self.wt = (self.weight * target[order]).astype(np.float32)
        self.counts = np.diff(self.indptr).astype(np.float32)
        self.scratch: FloatArray | None = None
        self.damping = self.counts


class _ALS(Recommender):
    implicit_kind: bool

    def __init__(self, factors: int = 64, reg: float = 0.05, iterations: int = 15, cg_steps: int = 3,
                 seed: int = 0) -> None:
        self.factors, self.reg, self.iterations, self.cg_steps, self.seed = factors, reg, iterations, cg_steps, seed

    def _sides(self, train: Ratings) -> tuple[_Side, _Side]:
        raise NotImplementedError

    def _solve(self, side: _Side, x: FloatArray, y: FloatArray) -> None:
        k = y.shape[1]
        gram = y.T @ y if self.implicit_kind else np.zeros((k, k), np.float32)
        if side.scratch is None or side.scratch.shape[1:] != x.shape:
            side.scratch = np.empty((3, *x.shape), dtype=np.float32)  # once per fit: page faults cost ~ms
            side.damping = (self.reg * (np.ones_like(side.counts) if self.implicit_kind else side.counts))
        _cg_rows(side.indptr, side.indices, side.weight, side.wt, x, y, gram, side.damping, self.cg_steps,
                 side.scratch)

    def fit(self, train: Ratings) -> Self:
        by_user, by_item = self._sides(train)
        rng = np.random.default_rng(self.seed)
        scale = 0.01 if self.implicit_kind else 0.1
        self.user_factors = (rng.standard_normal((train.n_users, self.factors)) * scale).astype(np.float32)
        self.item_factors = (rng.standard_normal((train.n_items, self.factors)) * scale).astype(np.float32)
        # BLAS's own threads spin for a while after each call (here YᵀY) and then fight numba's
        # threads for the two cores: single-threaded BLAS halves the fit time (measured 1.1 s → 0.57 s).
        with threadpool_limits(1, "blas"):
            for _ in range(self.iterations):
                self._solve(by_user, self.user_factors, self.item_factors)
                self._solve(by_item, self.item_factors, self.user_factors)
        return self

    def _pairs(self, train: Ratings, weight: FloatArray, target: FloatArray) -> tuple[_Side, _Side]:
        return (_Side(train.users, train.items, weight, target, train.n_users, train.n_items),
                _Side(train.items, train.users, weight, target, train.n_items, train.n_users))


class ImplicitALS(_ALS):
    """Ranking from implicit feedback (ratings or watches as positive signals)."""

    name = "implicit ALS"
    rates = False
    implicit_kind = True

    def __init__(self, factors: int = 64, reg: float = 0.05, iterations: int = 15, alpha: float = 1.0,
                 cg_steps: int = 3, seed: int = 0, signal: FloatArray | None = None) -> None:
        super().__init__(factors, reg, iterations, cg_steps, seed)
        self.alpha, self.signal = alpha, signal

    def _sides(self, train: Ratings) -> tuple[_Side, _Side]:
        # Any rating is a sign of interest; a watch weighs by its completion (``signal``).
        signal = np.ones(len(train), np.float32) if self.signal is None else self.signal
        weight = (self.alpha * signal).astype(np.float32)
        target = (1.0 + weight) / np.maximum(weight, 1e-12)  # w·t = 1 + αc: confidence × preference 1
        return self._pairs(train, weight, target)

    def score(self, users: IntArray) -> FloatArray:
        return self.user_factors[users] @ self.item_factors.T


class ExplicitALS(_ALS):
    """Rating prediction: baseline plus factors fitted by weighted-λ ALS."""

    name = "ALS"
    implicit_kind = False

    def __init__(self, factors: int = 32, reg: float = 0.1, iterations: int = 15, cg_steps: int = 3,
                 seed: int = 0) -> None:
        super().__init__(factors, reg, iterations, cg_steps, seed)

    def _sides(self, train: Ratings) -> tuple[_Side, _Side]:
        self.baseline = Baseline().fit(train)
        target = train.ratings - self.baseline.predict(train.users, train.items)
        return self._pairs(train, np.ones(len(train), np.float32), target)

    def predict(self, users: IntArray, items: IntArray) -> FloatArray:
        dots = np.einsum("nk,nk->n", self.user_factors[users], self.item_factors[items])
        return self.baseline.predict(users, items) + dots

    def score(self, users: IntArray) -> FloatArray:
        return self.baseline.score(users) + self.user_factors[users] @ self.item_factors.T


def as_online_rows(als: ExplicitALS, train: Ratings, user_ids: IntArray, item_ids: IntArray, model: BiasedMF) -> Fitted:
    """The fitted ALS as the online model's rows, so the stream continues from it.

    ``BiasedMF`` predicts ``μ + b_u + b_i + p_u·q_i`` — the same form as the biased ALS — and
    its AdaGrad accumulator is set to what SGD epochs would have built up (the mean squared
    training error times the row's ratings), so a well-known user moves as little as after an
    SGD warm start and a newcomer learns fast.
    """
    if als.factors != model.n_factors:
        raise ValueError(f"ALS has {als.factors} factors, the online model {model.n_factors}")
    residual = train.ratings - als.predict(train.users, train.items)
    mse = float(np.mean(np.square(residual)))
    users = np.zeros((train.n_users, model.width), dtype=np.float32)
    items = np.zeros((train.n_items, model.width), dtype=np.float32)
    users[:, BIAS], items[:, BIAS] = als.baseline.user_bias, als.baseline.item_bias
    users[:, ACC], items[:, ACC] = mse * train.user_counts(), mse * train.item_counts()
    users[:, FACTORS:], items[:, FACTORS:] = als.user_factors, als.item_factors
    return Fitted(user_ids, item_ids, users, items, als.baseline.mean, len(train), [mse**0.5])
