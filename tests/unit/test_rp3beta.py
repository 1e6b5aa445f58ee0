"""RP3beta is its random walk, popularity-penalised and cut to each film's strongest neighbours."""

from __future__ import annotations

import numpy as np

from recommenders.data import Ratings
from recommenders.rp3beta import RP3beta


def test_the_walk_equals_its_dense_formula_and_keeps_the_strongest_links() -> None:
    rng = np.random.default_rng(3)
    n = 900
    data, _, _ = Ratings.from_ids(rng.integers(0, 70, n), np.minimum(rng.zipf(1.5, n) - 1, 49), rng.integers(1, 6, n))
    x = np.zeros((data.n_users, data.n_items))
    x[data.users, data.items] = 1.0
    walk = ((x.T / x.sum(axis=0)[:, None]) ** 0.8) @ ((x / x.sum(axis=1)[:, None]) ** 0.8)
    walk *= x.sum(axis=0) ** -0.6
    np.fill_diagonal(walk, 0.0)
    model = RP3beta(alpha=0.8, beta=0.6, neighbours=data.n_items, block=7).fit(data)  # nothing cut, blocks uneven
    np.testing.assert_allclose(model.w_.toarray(), walk, atol=1e-12)
    np.testing.assert_allclose(model.score(np.arange(data.n_users)), x @ walk, atol=1e-12)

    cut = RP3beta(alpha=0.8, beta=0.6, neighbours=5).fit(data).w_.toarray()
    for row, full in zip(cut, walk, strict=True):
        kept = np.flatnonzero(row)
        assert len(kept) <= 5
        assert np.all(full[kept] >= np.sort(full)[-5] - 1e-15)  # the five largest of the row
