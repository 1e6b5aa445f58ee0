"""The online MF model with its rows held in memory: river's one-event API for in-process use.

The stream keeps rows in Redis and calls ``BiasedMF.learn_many`` on micro-batches; this class
keeps them in growing numpy arrays for notebooks, tests and benchmarks against river, with
the same verbs river's recommenders have.

Example
-------
>>> mf = InMemoryMF(n_factors=4, seed=0)
>>> for user, movie, stars in [(1, 10, 5.0), (1, 11, 1.0), (2, 10, 4.5)]:
...     _ = mf.learn_one(user, movie, stars)
>>> mf.predict_one(2, 10) > mf.predict_one(2, 11)
True
>>> [movie for movie, _ in mf.recommend(2, k=5, exclude={10})]
[11]
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from online_models.biased_mf import BiasedMF, FloatArray, MFBatch


class InMemoryMF:
    def __init__(self, **params: float | int | bool | None) -> None:
        self.model = BiasedMF(**params)  # type: ignore[arg-type]
        self._index: tuple[dict[int, int], dict[int, int]] = ({}, {})
        self._rows: list[FloatArray] = [np.zeros((0, self.model.width), np.float32)] * 2
        self._n = 0
        self._sum = 0.0

    @property
    def global_mean(self) -> float:
        return self._sum / self._n if self._n else 3.5

    def _positions(self, side: int, ids: npt.NDArray[np.int64]) -> npt.NDArray[np.int64]:
        index = self._index[side]
        new = [int(i) for i in dict.fromkeys(ids.tolist()) if int(i) not in index]
        if new:
            for i in new:
                index[i] = len(index)
            fresh = self.model.rows_for(np.array(new, dtype=np.int64), salt=side + 1)
            self._rows[side] = np.vstack([self._rows[side], fresh])
        return np.array([index[int(i)] for i in ids], dtype=np.int64)

    def learn_many(self, users: npt.NDArray[np.int64], items: npt.NDArray[np.int64],
                   ratings: npt.NDArray[np.floating]) -> FloatArray:
        """Learn a micro-batch; returns the predictions made before learning it."""
        u, i = self._positions(0, users), self._positions(1, items)
        r = ratings.astype(np.float32)
        predicted = self.model.learn_many(MFBatch(self._rows[0], self._rows[1], u, i, r), self.global_mean)
        self._n += len(r)
        self._sum += float(r.sum())
        return predicted

    def learn_one(self, user: int, item: int, rating: float) -> float:
        return float(self.learn_many(np.array([user]), np.array([item]), np.array([rating]))[0])

    def predict_many(self, users: npt.NDArray[np.int64], items: npt.NDArray[np.int64]) -> FloatArray:
        u, i = self._positions(0, users), self._positions(1, items)
        return self.model.predict_many(self._rows[0][u], self._rows[1][i], self.global_mean)

    def predict_one(self, user: int, item: int) -> float:
        return float(self.predict_many(np.array([user]), np.array([item]))[0])

    def recommend(self, user: int, k: int = 10, exclude: set[int] | None = None) -> list[tuple[int, float]]:
        ids = np.fromiter(self._index[1], dtype=np.int64, count=len(self._index[1]))
        row = self._rows[0][self._positions(0, np.array([user]))[0]]
        return self.model.recommend(row, self._rows[1], ids, k, exclude)

    def to_bytes(self) -> tuple[bytes, bytes]:
        """Compact state: the user and item row matrices as float32 bytes."""
        return self._rows[0].tobytes(), self._rows[1].tobytes()
