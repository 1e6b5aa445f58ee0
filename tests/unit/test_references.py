"""The reference adapters score our codes: Cornac numbers people and films in the order it meets them,
so its EASE's scores must come back to the right person and film; Surprise's SVD++ is scored in bulk,
so the bulk formula must be its own ``estimate``."""

from __future__ import annotations

import numpy as np

from bench.references import CornacEASE, SurpriseSVDpp
from recommenders.data import Ratings


def test_cornac_ease_scores_are_its_closed_form_in_our_order() -> None:
    rng = np.random.default_rng(7)
    n = 500
    pairs = np.unique(rng.integers(0, 60 * 40, n))  # each (person, film) once
    data, _, _ = Ratings.from_ids(pairs // 40, pairs % 40, rng.integers(1, 6, len(pairs)))
    shuffled = data.subset(rng.permutation(len(data)))  # Cornac meets them in another order than ours
    x = np.zeros((data.n_users, data.n_items))
    x[data.users, data.items] = 1.0
    gram = x.T @ x + 500.0 * np.eye(data.n_items)
    p = np.linalg.inv(gram)
    b = p / -np.diag(p)
    np.fill_diagonal(b, 0.0)
    b[b < 0] = 0.0  # Cornac's default drops negative weights
    people = np.arange(data.n_users)
    np.testing.assert_allclose(CornacEASE().fit(shuffled).score(people), x @ b, atol=1e-9)


def test_surprise_svdpp_bulk_scores_are_its_own_estimates() -> None:
    rng = np.random.default_rng(3)
    pairs = np.unique(rng.integers(0, 80 * 50, 1500))
    data, _, _ = Ratings.from_ids(pairs // 50, pairs % 50, rng.integers(1, 6, len(pairs)).astype(float))
    model = SurpriseSVDpp().fit(data.subset(rng.permutation(len(data))))
    people = np.arange(data.n_users)
    films = rng.integers(0, data.n_items, data.n_users)
    bulk = model.score(people)[people, films]
    np.testing.assert_allclose(bulk, model.predict(people, films), atol=1e-9)
