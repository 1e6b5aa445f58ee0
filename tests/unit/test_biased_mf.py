from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from online_models.biased_mf import BIAS, BiasedMF, MFBatch


def batch_for(mf: BiasedMF, users: np.ndarray, items: np.ndarray, ratings: np.ndarray) -> MFBatch:
    uu, ui = np.unique(users, return_inverse=True)
    iu, ii = np.unique(items, return_inverse=True)
    return MFBatch(mf.new_rows(len(uu)), mf.new_rows(len(iu)), ui, ii, ratings.astype(np.float32))


def test_predictions_are_made_before_learning_and_learning_reduces_error() -> None:
    mf = BiasedMF(n_factors=8, seed=1)
    batch = batch_for(mf, np.array([0, 1, 2]), np.array([0, 0, 1]), np.array([5.0, 5.0, 1.0]))
    first = mf.learn_many(batch, global_mean=3.0)
    assert abs(first[0] - 3.0) < 0.05  # predicted before anything was learned
    assert first[1] > first[0] + 0.1  # movie 0 again: after its first 5★ was learned
    for _ in range(50):
        last = mf.learn_many(batch, global_mean=3.0)
    assert np.abs(last - batch.ratings).max() < np.abs(first - batch.ratings).max() / 4
    assert batch.items[0, BIAS] > 0 > batch.items[1, BIAS]


def test_a_user_seen_many_times_in_a_batch_does_not_overshoot() -> None:
    mf = BiasedMF(n_factors=8, seed=2)
    batch = batch_for(mf, np.zeros(500, dtype=np.int64), np.arange(500), np.full(500, 5.0))
    mf.learn_many(batch, global_mean=3.5)
    assert 0 < batch.users[0, BIAS] < 1.5  # the summed raw gradient would push it past 5


def test_recommend_ranks_by_score_and_skips_excluded() -> None:
    mf = BiasedMF(n_factors=2, seed=0)
    items = mf.new_rows(4)
    items[:, BIAS] = [0.1, 0.9, 0.5, 0.7]
    user = mf.new_rows(1)[0]
    user[2:] = 0
    ids = np.array([10, 11, 12, 13])
    assert [i for i, _ in mf.recommend(user, items, ids, k=3)] == [11, 13, 12]
    assert [i for i, _ in mf.recommend(user, items, ids, k=3, exclude={11})] == [13, 12, 10]
    assert mf.recommend(user, items, ids, k=10, exclude={10, 11, 12, 13}) == []


def test_prequential_rmse_on_movielens_beats_the_global_mean(data_dir: Path) -> None:
    """Test-then-train over the first 20,000 real ratings in time order, micro-batches of 32."""
    df = pd.read_csv(data_dir / "ml-latest-small" / "ratings.csv").sort_values("timestamp", kind="stable")[:20000]
    _, u = np.unique(df["userId"].to_numpy(), return_inverse=True)
    _, i = np.unique(df["movieId"].to_numpy(), return_inverse=True)
    r = df["rating"].to_numpy(np.float32)
    mf = BiasedMF(n_factors=16, seed=0)
    users, items = mf.new_rows(u.max() + 1), mf.new_rows(i.max() + 1)
    errors, running = [], []
    for start in range(0, len(r), 32):
        sl = slice(start, start + 32)
        mean = float(r[:start].mean()) if start else 3.5
        batch = MFBatch(users, items, u[sl], i[sl], r[sl])
        errors.append(mf.learn_many(batch, mean) - r[sl])
        running.append(r[sl] - mean)
    rmse = float(np.sqrt(np.mean(np.concatenate(errors) ** 2)))
    baseline = float(np.sqrt(np.mean(np.concatenate(running) ** 2)))
    assert rmse < 0.97 * baseline, (rmse, baseline)


def test_rows_round_trip_through_bytes() -> None:
    mf = BiasedMF(n_factors=4, seed=3)
    rows = mf.new_rows(3)
    assert np.array_equal(np.frombuffer(rows.tobytes(), dtype=np.float32).reshape(3, -1), rows)


@pytest.mark.parametrize("k", [0, 1])
def test_recommend_handles_tiny_k(k: int) -> None:
    mf = BiasedMF(n_factors=2, seed=0)
    assert len(mf.recommend(mf.new_rows(1)[0], mf.new_rows(3), np.arange(3), k=k)) == k


def test_initial_rows_depend_only_on_the_id() -> None:
    mf = BiasedMF(n_factors=8, seed=4)
    together = mf.rows_for(np.array([3, 9, 27]), salt=1)
    apart = np.vstack([mf.rows_for(np.array([27]), salt=1), mf.rows_for(np.array([3]), salt=1)])
    assert np.array_equal(together[[2, 0]], apart)
    assert not np.array_equal(mf.rows_for(np.array([3]), salt=1), mf.rows_for(np.array([3]), salt=2))
    assert 0.02 < float(np.std(mf.rows_for(np.arange(5000), salt=1)[:, 2:])) < 0.08
