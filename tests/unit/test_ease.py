"""EASE^R is its closed form, restricted to the most-rated films where asked."""

from __future__ import annotations

import numpy as np

from recommenders.data import Ratings
from recommenders.ease import EASE


def random_ratings(seed: int = 0, users: int = 60, items: int = 40, n: int = 700) -> Ratings:
    rng = np.random.default_rng(seed)
    u, i = rng.integers(0, users, n), np.minimum(rng.zipf(1.6, n) - 1, items - 1)
    data, _, _ = Ratings.from_ids(u, i, rng.integers(1, 6, n))
    return data


def test_the_weights_are_steck_s_closed_form() -> None:
    data = random_ratings()
    model = EASE(lam=5.0).fit(data)
    x = np.zeros((data.n_users, data.n_items))
    x[data.users, data.items] = 1.0
    p = np.linalg.inv(x.T @ x + 5.0 * np.eye(data.n_items))
    expected = np.eye(data.n_items) - p / np.diag(p)
    np.fill_diagonal(expected, 0.0)
    kept = np.ix_(model.items_, model.items_)  # most-rated first
    np.testing.assert_allclose(model.b_, expected[kept], atol=1e-10)
    scores = model.score(np.arange(data.n_users))[:, model.items_]
    np.testing.assert_allclose(scores, x[:, model.items_] @ expected[kept], atol=1e-10)


def test_films_left_out_of_the_inverse_rank_after_every_kept_one() -> None:
    data = random_ratings(1)
    model = EASE(lam=5.0, max_items=10).fit(data)
    counts = data.item_counts()
    assert np.all(counts[model.items_].min() >= np.delete(counts, model.items_))  # the most-rated ten
    scores = model.score(np.arange(data.n_users))
    left_out = np.setdiff1d(np.arange(data.n_items), model.items_)
    assert np.all(scores[:, left_out].max(axis=1) < scores[:, model.items_].min(axis=1))
