"""Every movie's MF factors as one matrix, so a user's top-k is one BLAS call and an ``argpartition``.

Reading every item row from Redis per request grows with the catalogue (tens of milliseconds at
ml-latest-small's size); held in memory it costs ``n × (k + 1) × 4`` bytes (1.3 MB at 9,742 movies and 32
factors, 7.8 MB at ml-25m's 59,047) and a score for every movie in well under a millisecond.
Updates arrive as rows for a set of ids (what the workers changed); the matrix stays sorted by id
so two matrices over the same rows rank identically, whatever order the rows arrived in.

Past a few million movies (or many more factors) the exact scan stops fitting a request's budget
and an approximate index (HNSW, e.g. hnswlib or faiss-cpu) pays: see ``bench/mf_serving.py``.
"""

from __future__ import annotations

import numpy as np

from online_models.mf_rows import BIAS, FACTORS, FloatArray, IntArray


def top_k(scores: FloatArray, ids: IntArray, k: int, excluded: IntArray | None = None) -> list[tuple[int, float]]:
    """The ``k`` best ``(id, score)``, best first, skipping positions ``excluded``."""
    if excluded is not None and len(excluded):
        scores = scores.copy()
        scores[excluded] = -np.inf
    k = min(k, int(np.isfinite(scores).sum()))
    if not k:
        return []
    top = np.argpartition(-scores, k - 1)[:k]
    top = top[np.argsort(-scores[top], kind="stable")]
    return [(int(ids[j]), float(scores[j])) for j in top]


def item_scores(user: FloatArray, bias: FloatArray, factors: FloatArray) -> FloatArray:
    """A user's score for every item: the item's bias plus the factors' dot product (one ``sgemv``)."""
    return bias + factors @ np.ascontiguousarray(user[FACTORS:])


class ItemMatrix:
    """Item ids (sorted), biases and factors, updated in place by id."""

    def __init__(self, n_factors: int) -> None:
        self.ids: IntArray = np.zeros(0, dtype=np.int64)
        self.bias: FloatArray = np.zeros(0, dtype=np.float32)
        self.factors: FloatArray = np.zeros((0, n_factors), dtype=np.float32)

    def __len__(self) -> int:
        return len(self.ids)

    @classmethod
    def of(cls, ids: IntArray, rows: FloatArray) -> ItemMatrix:
        """From full MF rows ``[bias, adagrad, f_1 … f_k]``, in any order."""
        matrix = cls(rows.shape[1] - FACTORS)
        matrix.upsert(ids, rows)
        return matrix

    def positions(self, ids: IntArray) -> IntArray:
        """Where each of ``ids`` is held (-1: not held)."""
        at = np.searchsorted(self.ids, ids)
        found = at < len(self.ids)
        found[found] = self.ids[at[found]] == ids[found]
        return np.where(found, at, -1)

    def upsert(self, ids: IntArray, rows: FloatArray) -> None:
        """Replace the rows of held ids and add the others (the matrix is rebuilt only for new ids)."""
        ids = np.asarray(ids, dtype=np.int64)
        ids, last = np.unique(ids[::-1], return_index=True)  # the last row given for an id wins
        rows = rows[::-1][last]
        at = self.positions(ids)
        held = at >= 0
        self.bias[at[held]] = rows[held, BIAS]
        self.factors[at[held]] = rows[held, FACTORS:]
        if not held.all():
            new = ~held
            all_ids = np.concatenate([self.ids, ids[new]])
            order = np.argsort(all_ids, kind="stable")
            self.ids = all_ids[order]
            self.bias = np.concatenate([self.bias, rows[new, BIAS]])[order]
            self.factors = np.ascontiguousarray(np.concatenate([self.factors, rows[new, FACTORS:]])[order])

    def remove(self, ids: IntArray) -> None:
        at = self.positions(np.asarray(ids, dtype=np.int64))
        at = at[at >= 0]
        if len(at):
            keep = np.ones(len(self.ids), dtype=bool)
            keep[at] = False
            self.ids, self.bias, self.factors = self.ids[keep], self.bias[keep], self.factors[keep]

    def recommend(self, user: FloatArray, k: int, exclude: IntArray | None = None) -> list[tuple[int, float]]:
        """Top-``k`` ``(movie, score)`` for a user's row, skipping the movies ``exclude``."""
        excluded = None
        if exclude is not None and len(exclude):
            at = self.positions(np.asarray(exclude, dtype=np.int64))
            excluded = at[at >= 0]
        return top_k(item_scores(user, self.bias, self.factors), self.ids, k, excluded)
