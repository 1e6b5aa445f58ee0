"""Accuracy measures shared by the offline suite, the prequential evaluation and the dashboard.

Like Surprise's ``accuracy`` module, these functions know nothing about models: rating measures
take arrays of errors, ranking measures take a matrix of recommended item indices (one row per
user, best first) and each user's set of relevant items. Everything is vectorised over users,
so a whole test set is scored in a few numpy calls.

Example
-------
>>> import numpy as np
>>> round(rmse(np.array([1.0, -1.0])), 3), round(mae(np.array([1.0, -3.0])), 3)
(1.0, 2.0)
>>> top = np.array([[3, 1, 2], [0, 1, 2]])
>>> hits = hit_matrix(top, [{1}, {5}])
>>> hits.astype(int).tolist()
[[0, 1, 0], [0, 0, 0]]
>>> float(precision_at(hits, 3)), float(recall_at(hits, [1, 1], 3))
(0.16666666666666666, 0.5)
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import numpy.typing as npt

FloatArray = npt.NDArray[np.floating]
IntArray = npt.NDArray[np.integer]
BoolArray = npt.NDArray[np.bool_]


def rmse(errors: FloatArray) -> float:
    return float(np.sqrt(np.mean(np.square(errors)))) if len(errors) else float("nan")


def mae(errors: FloatArray) -> float:
    return float(np.mean(np.abs(errors))) if len(errors) else float("nan")


def relevant_sets(users: npt.NDArray[np.int64], items: IntArray) -> tuple[npt.NDArray[np.int64], list[set[int]]]:
    """The distinct users of (user, item) pairs, and each one's set of items (what counts as a hit)."""
    distinct = np.unique(users)
    sets: list[set[int]] = [set() for _ in distinct]
    for slot, item in zip(np.searchsorted(distinct, users).tolist(), items.tolist(), strict=True):
        sets[slot].add(item)
    return distinct, sets


def hit_matrix(top: IntArray, relevant: Sequence[set[int] | frozenset[int]]) -> BoolArray:
    """``hits[u, r]``: the item at rank ``r`` of user ``u``'s list is relevant to ``u``.

    One sorted search per call: each (user, item) pair is encoded as one int64 key.
    """
    n_users, depth = top.shape
    width = int(max(top.max(initial=0), max((max(s) for s in relevant if s), default=0))) + 1
    keys = np.sort(np.fromiter((u * width + i for u, items in enumerate(relevant) for i in items), dtype=np.int64))
    wanted = (np.arange(n_users, dtype=np.int64)[:, None] * width + top.astype(np.int64)).ravel()
    if not len(keys):
        return np.zeros((n_users, depth), dtype=bool)
    pos = np.clip(np.searchsorted(keys, wanted), 0, len(keys) - 1)
    return (keys[pos] == wanted).reshape(n_users, depth)


def precision_at(hits: BoolArray, k: int) -> float:
    return float(hits[:, :k].sum(axis=1).mean() / k)


def recall_at(hits: BoolArray, n_relevant: Sequence[int] | IntArray, k: int) -> float:
    n = np.asarray(n_relevant, dtype=np.float64)
    return float((hits[:, :k].sum(axis=1) / np.maximum(n, 1)).mean())


def ndcg_at(hits: BoolArray, n_relevant: Sequence[int] | IntArray, k: int) -> float:
    """Binary-relevance NDCG: the ideal list puts all of a user's relevant items first."""
    discounts = 1.0 / np.log2(np.arange(2, k + 2))
    dcg = (hits[:, :k] * discounts).sum(axis=1)
    ideal_cum = np.concatenate([[0.0], np.cumsum(discounts)])
    idcg = ideal_cum[np.minimum(np.asarray(n_relevant, dtype=np.int64), k)]
    return float(np.where(idcg > 0, dcg / np.where(idcg > 0, idcg, 1), 0.0).mean())


def map_at(hits: BoolArray, n_relevant: Sequence[int] | IntArray, k: int) -> float:
    h = hits[:, :k]
    precision_at_rank = np.cumsum(h, axis=1) / np.arange(1, k + 1)
    denom = np.minimum(np.asarray(n_relevant, dtype=np.float64), k)
    return float(((precision_at_rank * h).sum(axis=1) / np.maximum(denom, 1)).mean())


def hit_rate_at(hits: BoolArray, k: int) -> float:
    return float(hits[:, :k].any(axis=1).mean())


def pr_curve(hits: BoolArray, n_relevant: Sequence[int] | IntArray) -> tuple[FloatArray, FloatArray]:
    """Mean precision@k and recall@k for k = 1 … depth (one point per cut-off)."""
    depth = hits.shape[1]
    cum = np.cumsum(hits, axis=1)
    ks = np.arange(1, depth + 1)
    n = np.maximum(np.asarray(n_relevant, dtype=np.float64), 1)[:, None]
    return (cum / ks).mean(axis=0), (cum / n).mean(axis=0)


def coverage(top: IntArray, n_items: int, k: int) -> float:
    """Share of the catalogue that appears in at least one top-``k`` list."""
    return float(len(np.unique(top[:, :k])) / n_items)


def novelty(top: IntArray, popularity: FloatArray, n_users: int, k: int) -> float:
    """Mean self-information −log2(p(i)) of recommended items: high for rarely rated ones."""
    p = np.maximum(popularity[top[:, :k]] / max(n_users, 1), 1e-12)
    return float(np.mean(-np.log2(p)))


def diversity(top: IntArray, item_vectors: FloatArray, k: int) -> float:
    """Mean pairwise cosine distance inside each top-``k`` list (intra-list diversity)."""
    v = item_vectors[top[:, :k]]  # users × k × d
    norms = np.linalg.norm(v, axis=2, keepdims=True)
    v = v / np.where(norms > 0, norms, 1)
    sims = np.einsum("ukd,ujd->ukj", v, v)
    off = ~np.eye(k, dtype=bool)
    return float(1.0 - sims[:, off].mean())
