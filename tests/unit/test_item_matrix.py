"""The in-memory item matrix ranks exactly as a scan over the same rows does, however they arrived."""

from __future__ import annotations

import numpy as np

from online_models.biased_mf import BiasedMF
from online_models.item_matrix import ItemMatrix


def rows_and_ids(n: int = 500, seed: int = 1) -> tuple[BiasedMF, np.ndarray, np.ndarray]:
    mf = BiasedMF(n_factors=8, seed=0)
    rows = mf.new_rows(n)
    rows[:, 0] = np.random.default_rng(seed).normal(0, 0.3, n)
    return mf, np.random.default_rng(seed).choice(100_000, n, replace=False).astype(np.int64), rows


def test_ranks_as_a_scan_over_the_same_rows_with_the_rated_excluded() -> None:
    mf, ids, rows = rows_and_ids()
    user = mf.new_rows(1)[0]
    rated = set(ids[::7].tolist())
    matrix = ItemMatrix.of(ids, rows)
    assert matrix.recommend(user, 20, np.array(sorted(rated))) == mf.recommend(user, rows, ids, 20, exclude=rated)
    assert not rated & {m for m, _ in matrix.recommend(user, 100, np.array(sorted(rated)))}


def test_rows_arriving_in_pieces_and_in_any_order_give_the_same_matrix() -> None:
    mf, ids, rows = rows_and_ids()
    whole = ItemMatrix.of(ids, rows)
    pieces = ItemMatrix(8)
    order = np.random.default_rng(2).permutation(len(ids))
    for part in np.array_split(order, 7):
        pieces.upsert(ids[part], rows[part])
    assert np.array_equal(pieces.ids, whole.ids) and np.array_equal(pieces.factors, whole.factors)
    user = mf.new_rows(1)[0]
    assert pieces.recommend(user, 10) == whole.recommend(user, 10)


def test_an_update_replaces_the_row_and_the_last_of_duplicates_wins() -> None:
    _, ids, rows = rows_and_ids(10)
    matrix = ItemMatrix.of(ids, rows)
    changed = rows[[3, 3]].copy()
    changed[0, 0], changed[1, 0] = 7.0, 9.0
    matrix.upsert(ids[[3, 3]], changed)
    assert len(matrix) == 10 and matrix.bias[matrix.positions(ids[[3]])[0]] == 9.0


def test_removed_items_are_never_recommended_and_unknown_ids_are_ignored() -> None:
    mf, ids, rows = rows_and_ids(50)
    matrix = ItemMatrix.of(ids, rows)
    matrix.remove(np.concatenate([ids[:40], [-5, 10**9]]))
    assert sorted(m for m, _ in matrix.recommend(mf.new_rows(1)[0], 100)) == sorted(ids[40:].tolist())
    assert matrix.recommend(mf.new_rows(1)[0], 5, exclude=ids[40:]) == []
