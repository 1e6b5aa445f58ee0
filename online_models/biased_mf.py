"""Biased matrix factorisation learned online, one micro-batch of ratings at a time.

The model predicts

    r̂(u, i) = μ + b_u + b_i + p_u · q_i

and each micro-batch takes one SGD step on the squared error with L2 regularisation λ:

    e = r − r̂,   b_u += η_u (e − λ b_u),   b_i += η_i (e − λ b_i),
    p_u += η_u (e q_i − λ p_u),   q_i += η_i (e p_u − λ q_i)

By default a micro-batch is learned event after event, in order — true online SGD, where a
user's 40th rating of a session is predicted from what their first 39 taught — by a loop
compiled with numba (about 1 µs an event). ``sequential=False`` instead takes one vectorised
step for the whole batch, summing the gradients of a row seen several times (damped by
1/sqrt(count)): that suits shuffled mini-batches (``online_models.batch_fit``), not a stream in
time order, where it predicts a whole session as if the user were new. Per-row learning rates
follow AdaGrad (``η = lr / sqrt(G + ε)`` with G the running sum of squared errors of that
row), so a newcomer learns fast and a well-known user or movie moves little.

The model holds no state of its own: vectors come in as arrays (fetched by the caller, e.g.
from Redis in one round trip) and go out updated. That keeps it pure and lets the caller
own persistence and exactly-once bookkeeping.

Parameters
----------
n_factors
    Latent dimension k.
lr
    Base learning rate η (of the biases, and of the factors unless ``factor_lr`` is given).
factor_lr
    Base learning rate of the factors: a stream in time order is best served by biases that
    settle fast and factors that move boldly (measured: ``lr=0.25, factor_lr=1.0``).
reg
    L2 regularisation λ.
init_std
    Standard deviation of the random initial factors.
adaptive
    Use AdaGrad per-row rates (True) or the plain rate ``lr`` (False).
sequential
    Learn a batch's events one after another (True) or in one vectorised step (False).
watch_weight
    How hard a watch event (``learn_watches``) pulls the factors, against a rating error's 1.

Example
-------
>>> import numpy as np
>>> mf = BiasedMF(n_factors=4, seed=0)
>>> users, items = mf.new_rows(2), mf.new_rows(3)
>>> batch = MFBatch(users=users, items=items, user_index=np.array([0, 1]),
...                 item_index=np.array([2, 2]), ratings=np.array([5.0, 4.0]))
>>> predicted = mf.learn_many(batch, global_mean=3.5)
>>> predicted.round(2).tolist()      # each made before learning its event; the 2nd after the 1st
[3.5, 3.75]
>>> bool(mf.predict_one(users[0], items[2], 3.5) > 3.5)
True
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numba import njit

from online_models.item_matrix import item_scores, top_k
from online_models.mf_rows import ACC, BIAS, FACTORS, FloatArray, IntArray, row_width

__all__ = ["ACC", "BIAS", "FACTORS", "BiasedMF", "FloatArray", "IntArray", "MFBatch"]  # the layout, re-exported


@dataclass
class MFBatch:
    """A micro-batch: the rows it touches and, per event, which row of each it uses."""

    users: FloatArray  # (n_users_in_batch, 2 + k), updated in place
    items: FloatArray  # (n_items_in_batch, 2 + k), updated in place
    user_index: IntArray  # (n_events,)
    item_index: IntArray  # (n_events,)
    ratings: FloatArray  # (n_events,)


@njit(cache=True)
def _splitmix64(x: np.uint64) -> np.uint64:
    x = x + np.uint64(0x9E3779B97F4A7C15)
    x = (x ^ (x >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
    x = (x ^ (x >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
    return x ^ (x >> np.uint64(31))


@njit(cache=True)
def _hashed_normal_into(ids: np.ndarray, salt: int, out: np.ndarray) -> None:
    scale = 1.0 / 9007199254740992.0  # 2**-53
    salted = np.uint64(salt) * np.uint64(0x632BE59BD9B4E019)
    for r in range(out.shape[0]):
        row = np.uint64(ids[r]) * np.uint64(1 << 20)
        for c in range(out.shape[1]):
            base = row + np.uint64(c) + salted
            u1 = (np.float64(_splitmix64(base) >> np.uint64(11)) + 0.5) * scale
            u2 = np.float64(_splitmix64(base ^ np.uint64(0xD1B54A32D192ED03)) >> np.uint64(11)) * scale
            out[r, c] = np.sqrt(-2.0 * np.log(u1)) * np.cos(2.0 * np.pi * u2)


def hashed_normal(ids: IntArray, width: int, salt: int) -> FloatArray:
    """Standard normal draws that are a pure function of (salt, id, column): Box–Muller over
    two splitmix64 hashes. A numba loop: as a dozen numpy passes it was 7 % of a small batch."""
    out = np.empty((len(ids), width), dtype=np.float32)
    _hashed_normal_into(np.ascontiguousarray(ids, dtype=np.int64), int(salt), out)
    return out


@njit(cache=True)
def _learn_in_order(users: np.ndarray, items: np.ndarray, u: np.ndarray, i: np.ndarray, ratings: np.ndarray,
                    mean: float, lr: float, reg: float, adaptive: bool, factor_scale: float,
                    predicted: np.ndarray) -> None:
    """The update rule of the module docstring, one event at a time, rows updated in place."""
    width = users.shape[1]
    for e in range(len(ratings)):
        pu, qi = users[u[e]], items[i[e]]
        estimate = mean + pu[BIAS] + qi[BIAS]
        for f in range(FACTORS, width):
            estimate += pu[f] * qi[f]
        estimate = min(max(estimate, 0.5), 5.0)
        predicted[e] = estimate
        err = ratings[e] - estimate
        rate_u = rate_i = lr
        if adaptive:
            pu[ACC] += err * err
            qi[ACC] += err * err
            rate_u, rate_i = lr / np.sqrt(pu[ACC] + 1.0), lr / np.sqrt(qi[ACC] + 1.0)
        bu, bi = pu[BIAS], qi[BIAS]
        pu[BIAS] += rate_u * (err - reg * bu)
        qi[BIAS] += rate_i * (err - reg * bi)
        rate_u, rate_i = rate_u * factor_scale, rate_i * factor_scale
        for f in range(FACTORS, width):
            p, q = pu[f], qi[f]
            pu[f] += rate_u * (err * q - reg * p)
            qi[f] += rate_i * (err * p - reg * q)


@njit(cache=True)
def _learn_watches(users: np.ndarray, items: np.ndarray, u: np.ndarray, i: np.ndarray, confidence: np.ndarray,
                   weight: float, lr: float, reg: float) -> None:
    """Implicit feedback, one watch at a time: move ``p_u · q_i`` up for a film watched to the end
    and down for one abandoned early (signal ``2c − 1`` for completion ``c``), scaled by ``weight``.
    Biases and the AdaGrad sums are left to the ratings: a watch says *what* someone likes, not
    how many stars they give."""
    width = users.shape[1]
    for e in range(len(confidence)):
        pu, qi = users[u[e]], items[i[e]]
        signal = weight * (2.0 * confidence[e] - 1.0)
        rate_u, rate_i = lr / np.sqrt(pu[ACC] + 1.0), lr / np.sqrt(qi[ACC] + 1.0)
        for f in range(FACTORS, width):
            p, q = pu[f], qi[f]
            pu[f] += rate_u * (signal * q - reg * p)
            qi[f] += rate_i * (signal * p - reg * q)


class BiasedMF:
    def __init__(self, n_factors: int = 32, lr: float = 0.3, reg: float = 0.05, init_std: float = 0.05,
                 adaptive: bool = True, sequential: bool = True, watch_weight: float = 0.2,
                 factor_lr: float | None = None, seed: int | None = None) -> None:
        self.n_factors = n_factors
        self.lr = lr
        self.reg = reg
        self.init_std = init_std
        self.adaptive = adaptive
        self.sequential = sequential
        self.watch_weight = watch_weight
        self.factor_lr = lr if factor_lr is None else factor_lr
        self.seed = seed
        self._rng = np.random.default_rng(seed)

    @property
    def width(self) -> int:
        return row_width(self.n_factors)

    def new_rows(self, n: int) -> FloatArray:
        rows = np.zeros((n, self.width), dtype=np.float32)
        rows[:, FACTORS:] = self._rng.normal(0.0, self.init_std, (n, self.n_factors))
        return rows

    def rows_for(self, ids: IntArray, salt: int) -> FloatArray:
        """Initial rows that depend only on (seed, salt, id): a replay that batches events
        differently still starts every user and movie from the same values."""
        rows = np.zeros((len(ids), self.width), dtype=np.float32)
        rows[:, FACTORS:] = self.init_std * hashed_normal(ids, self.n_factors, (self.seed or 0) * 2 + salt)
        return rows

    def predict_many(self, users: FloatArray, items: FloatArray, global_mean: float) -> FloatArray:
        """Rating predictions for aligned rows ``users[j]``, ``items[j]``, clipped to the scale."""
        dot = np.einsum("ij,ij->i", users[:, FACTORS:], items[:, FACTORS:])
        return np.clip(global_mean + users[:, BIAS] + items[:, BIAS] + dot, 0.5, 5.0).astype(np.float32)

    def predict_one(self, user: FloatArray, item: FloatArray, global_mean: float) -> float:
        return float(self.predict_many(user[None, :], item[None, :], global_mean)[0])

    def learn_many(self, batch: MFBatch, global_mean: float) -> FloatArray:
        """Learn the batch; returns each event's prediction made just before it was learned
        (test-then-train)."""
        if not self.sequential:
            return self._step(batch, batch.user_index, batch.item_index, batch.ratings, global_mean)
        predicted = np.empty(len(batch.ratings), dtype=np.float32)
        _learn_in_order(batch.users, batch.items, batch.user_index.astype(np.int64),
                        batch.item_index.astype(np.int64), batch.ratings.astype(np.float32), float(global_mean),
                        float(self.lr), float(self.reg), self.adaptive, float(self.factor_lr / self.lr), predicted)
        return predicted

    def warm_up(self) -> None:
        """Load (or compile) the numba kernels now: a worker does it before its first batch, so
        no event waits for it (measured: ~20% of a 5-second replay otherwise)."""
        users, items = np.zeros((1, self.width), np.float32), np.zeros((1, self.width), np.float32)
        one, value = np.zeros(1, dtype=np.int64), np.ones(1, dtype=np.float32)
        _learn_in_order(users, items, one, one, value, 3.5, 0.1, 0.1, True, 1.0, np.empty(1, np.float32))
        _learn_watches(users, items, one, one, value, 0.1, 0.1, 0.1)
        hashed_normal(one, self.n_factors, 0)

    def learn_watches(self, batch: MFBatch) -> None:
        """Learn watch events: ``batch.ratings`` holds each watch's completion ratio in [0, 1]."""
        _learn_watches(batch.users, batch.items, batch.user_index.astype(np.int64), batch.item_index.astype(np.int64),
                       batch.ratings.astype(np.float32), float(self.watch_weight), float(self.lr), float(self.reg))

    def _step(self, batch: MFBatch, u: IntArray, i: IntArray, ratings: FloatArray, global_mean: float) -> FloatArray:
        """One vectorised SGD step over events ``(u, i, ratings)`` of the batch's rows."""
        pu, qi = batch.users[u], batch.items[i]
        predicted = self.predict_many(pu, qi, global_mean)
        err = (ratings - predicted).astype(np.float32)

        grad_pu = err[:, None] * qi[:, FACTORS:] - self.reg * pu[:, FACTORS:]
        grad_qi = err[:, None] * pu[:, FACTORS:] - self.reg * qi[:, FACTORS:]
        grad_bu = err - self.reg * pu[:, BIAS]
        grad_bi = err - self.reg * qi[:, BIAS]

        # A row seen c times in the batch gets its summed gradient scaled by 1/sqrt(c): the full sum
        # overshoots when a user rates hundreds of films at once, the mean under-learns.
        count_u = np.bincount(u, minlength=len(batch.users)).astype(np.float32)
        count_i = np.bincount(i, minlength=len(batch.items)).astype(np.float32)
        damp_u, damp_i = 1.0 / np.sqrt(count_u[u]), 1.0 / np.sqrt(count_i[i])

        if self.adaptive:
            np.add.at(batch.users[:, ACC], u, err**2)
            np.add.at(batch.items[:, ACC], i, err**2)
            rate_u = self.lr / np.sqrt(batch.users[u, ACC] + 1.0)
            rate_i = self.lr / np.sqrt(batch.items[i, ACC] + 1.0)
        else:
            rate_u = rate_i = np.full(len(err), self.lr, dtype=np.float32)
        rate_u, rate_i = rate_u * damp_u, rate_i * damp_i

        np.add.at(batch.users[:, FACTORS:], u, rate_u[:, None] * grad_pu)
        np.add.at(batch.items[:, FACTORS:], i, rate_i[:, None] * grad_qi)
        np.add.at(batch.users[:, BIAS], u, rate_u * grad_bu)
        np.add.at(batch.items[:, BIAS], i, rate_i * grad_bi)
        return predicted

    def recommend(self, user: FloatArray, items: FloatArray, item_ids: IntArray, k: int,
                  exclude: set[int] | None = None) -> list[tuple[int, float]]:
        """Top-``k`` ``(item_id, score)`` for one user over a candidate matrix, skipping ``exclude``."""
        scores = item_scores(user, items[:, BIAS], np.ascontiguousarray(items[:, FACTORS:]))
        excluded = np.flatnonzero(np.isin(item_ids, list(exclude))) if exclude else None
        return top_k(scores, item_ids, k, excluded)
