"""The stream learns a micro-batch event after event: a session's later ratings see its earlier ones."""

from __future__ import annotations

import numpy as np

from online_models.biased_mf import BiasedMF, MFBatch


def test_a_users_second_event_is_predicted_after_learning_the_first() -> None:
    rows = BiasedMF(n_factors=4, seed=0)
    users, items = rows.new_rows(1), rows.new_rows(2)
    batch = MFBatch(users, items, np.array([0, 0]), np.array([0, 1]), np.array([5.0, 5.0], dtype=np.float32))
    predicted = BiasedMF(n_factors=4, seed=0).learn_many(batch, global_mean=3.0)
    assert predicted[1] > predicted[0] + 0.05  # the first rating already moved the user's bias

    users, items = rows.new_rows(1), rows.new_rows(2)
    batch = MFBatch(users, items, np.array([0, 0]), np.array([0, 1]), np.array([5.0, 5.0], dtype=np.float32))
    one_step = BiasedMF(n_factors=4, seed=0, sequential=False).learn_many(batch, global_mean=3.0)
    assert abs(one_step[1] - one_step[0]) < 0.05  # one vectorised step: both predicted from the start


def test_learning_in_one_batch_or_event_by_event_gives_the_same_rows() -> None:
    """Sequential learning does not depend on how the stream cut it into batches."""
    rng = np.random.default_rng(0)
    u, i = rng.integers(0, 20, 500), rng.integers(0, 50, 500)
    r = rng.integers(1, 11, 500).astype(np.float32) / 2
    mf = BiasedMF(n_factors=4, seed=0)
    whole = MFBatch(mf.rows_for(np.arange(20), 1), mf.rows_for(np.arange(50), 2), u, i, r)
    parts = MFBatch(mf.rows_for(np.arange(20), 1), mf.rows_for(np.arange(50), 2), u, i, r)
    at_once = mf.learn_many(whole, 3.5)
    pieces = np.concatenate([mf.learn_many(MFBatch(parts.users, parts.items, u[s:s + 7], i[s:s + 7], r[s:s + 7]),
                                           3.5) for s in range(0, 500, 7)])
    assert np.array_equal(at_once, pieces)
    assert np.array_equal(whole.users, parts.users) and np.array_equal(whole.items, parts.items)


def test_watching_to_the_end_brings_user_and_film_closer_and_abandoning_pushes_apart() -> None:
    mf = BiasedMF(n_factors=8, seed=0)
    users, items = mf.rows_for(np.arange(1), 1), mf.rows_for(np.arange(2), 2)
    before = items[:, 2:] @ users[0, 2:]
    biases = users[0, :2].copy(), items[:, :2].copy()
    for _ in range(20):
        mf.learn_watches(MFBatch(users, items, np.array([0, 0]), np.array([0, 1]),
                                 np.array([1.0, 0.05], dtype=np.float32)))
    after = items[:, 2:] @ users[0, 2:]
    assert after[0] > before[0] + 0.01 and after[1] < before[1] - 0.01
    assert np.array_equal(users[0, :2], biases[0]) and np.array_equal(items[:, :2], biases[1])  # stars untouched
