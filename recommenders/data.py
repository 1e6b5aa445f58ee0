"""Ratings as dense integer codes: the one input shape every batch model fits on."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
import scipy.sparse as sp

FloatArray = npt.NDArray[np.floating]
IntArray = npt.NDArray[np.int64]


@dataclass(frozen=True)
class Ratings:
    """Ratings on users ``0 … n_users-1`` and items ``0 … n_items-1`` (codes, not dataset ids).

    Codes are assigned over a whole dataset before it is split, so a test item unseen in
    training still has a column: models answer it as a cold item, not a crash.
    """

    users: IntArray
    items: IntArray
    ratings: FloatArray
    timestamps: IntArray
    n_users: int
    n_items: int

    def __len__(self) -> int:
        return len(self.users)

    @classmethod
    def from_ids(cls, users: npt.ArrayLike, items: npt.ArrayLike, ratings: npt.ArrayLike,
                 timestamps: npt.ArrayLike | None = None) -> tuple[Ratings, IntArray, IntArray]:
        """Encode dataset ids; also returns the ids of the codes (``user_ids[code]``)."""
        user_ids, u = np.unique(np.asarray(users, dtype=np.int64), return_inverse=True)
        item_ids, i = np.unique(np.asarray(items, dtype=np.int64), return_inverse=True)
        t = np.zeros(len(u), dtype=np.int64) if timestamps is None else np.asarray(timestamps, dtype=np.int64)
        data = cls(u.astype(np.int64), i.astype(np.int64), np.asarray(ratings, dtype=np.float64), t,
                   len(user_ids), len(item_ids))
        return data, user_ids, item_ids

    def subset(self, mask: npt.NDArray[np.bool_] | IntArray) -> Ratings:
        return Ratings(self.users[mask], self.items[mask], self.ratings[mask], self.timestamps[mask],
                       self.n_users, self.n_items)

    def matrix(self, values: FloatArray | None = None, dtype: type = np.float64) -> sp.csr_matrix:
        """users × items CSR of ``values`` (the ratings by default)."""
        data = self.ratings if values is None else values
        return sp.csr_matrix((data.astype(dtype), (self.users, self.items)), shape=(self.n_users, self.n_items))

    def item_counts(self) -> IntArray:
        return np.bincount(self.items, minlength=self.n_items).astype(np.int64)

    def user_counts(self) -> IntArray:
        return np.bincount(self.users, minlength=self.n_users).astype(np.int64)

    def newest_first(self) -> tuple[IntArray, IntArray]:
        """The ratings' order by user, newest first (ties in the data's order), and each one's place in
        its user's list: 0 for the newest. What the temporal hold-outs cut on."""
        order = np.lexsort((-self.timestamps, self.users))
        starts = np.concatenate([[0], np.cumsum(self.user_counts())[:-1]])
        return order, np.arange(len(self)) - starts[self.users[order]]
