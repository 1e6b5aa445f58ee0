"""The sequence ranker is its windowed transition sum over each person's time order, popularity-scaled,
cut to each film's strongest successors, and read from a person's last films, the latest counting most."""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp

from recommenders.data import Ratings
from recommenders.sequence import Sequence, keep_largest


def loop_definition(data: Ratings, model: Sequence) -> tuple[np.ndarray, np.ndarray]:
    """T and the recent-history matrix, step by step from the module's formulas."""
    n = data.n_items
    t = np.zeros((n, n))
    history = np.zeros((data.n_users, n))
    for u in range(data.n_users):
        mine = np.flatnonzero(data.users == u)
        films = data.items[mine[np.argsort(data.timestamps[mine], kind="stable")]]
        for s in range(len(films)):
            for d in range(1, model.window + 1):
                if s + d < len(films):
                    t[films[s], films[s + d]] += model.decay ** (d - 1)
                    t[films[s + d], films[s]] += model.backward * model.decay ** (d - 1)
            back = len(films) - 1 - s
            if back < model.recent:
                history[u, films[s]] += model.recency ** back
    np.fill_diagonal(t, 0.0)
    count = np.maximum(np.bincount(data.items, minlength=n), 1.0)
    return t * count[:, None] ** -model.alpha * count[None, :] ** -model.beta, history


def test_transitions_and_scores_equal_their_definition() -> None:
    rng = np.random.default_rng(5)
    n = 600
    data, _, _ = Ratings.from_ids(rng.integers(0, 40, n), np.minimum(rng.zipf(1.4, n) - 1, 59), rng.integers(1, 6, n),
                                  rng.permutation(n))  # distinct times: one order
    model = Sequence(window=4, decay=0.7, backward=0.3, alpha=0.4, beta=0.2, neighbours=data.n_items, recent=6,
                     recency=0.8).fit(data)
    t, history = loop_definition(data, model)
    np.testing.assert_allclose(model.t_.toarray(), t, atol=1e-12)
    np.testing.assert_allclose(model.score(np.arange(data.n_users)), history @ t, atol=1e-12)


def test_the_next_film_follows_the_last_one_not_an_old_one() -> None:
    # everyone who took film 1 went on to 2, and who took 3 went on to 4; person 9 took 3 long ago, 1 last
    users = [0, 0, 1, 1, 2, 2, 3, 3, 9, 9]
    films = [1, 2, 1, 2, 3, 4, 3, 4, 3, 1]
    data, user_ids, item_ids = Ratings.from_ids(users, films, [4] * 10, [1, 2, 1, 2, 1, 2, 1, 2, 1, 50])
    model = Sequence(backward=0.0).fit(data)
    top = model.recommend(np.flatnonzero(user_ids == 9), k=2, seen=data)[0]
    assert item_ids[top].tolist()[0] == 2  # what follows the latest film comes first


def test_keep_largest_keeps_each_rows_strongest() -> None:
    rng = np.random.default_rng(1)
    dense = rng.random((30, 30)) * (rng.random((30, 30)) < 0.4)
    cut = keep_largest(sp.csr_matrix(dense), 3).toarray()
    for row, full in zip(cut, dense, strict=True):
        kept = np.flatnonzero(row)
        assert len(kept) == min(3, np.count_nonzero(full))
        assert np.all(full[kept] >= np.sort(full)[-3])
        np.testing.assert_array_equal(row[kept], full[kept])
