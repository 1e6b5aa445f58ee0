import numpy as np

from online_models.biased_mf import BiasedMF, MFBatch
from online_models.rounds import learning_rounds, occurrence_rank


def test_occurrence_rank_counts_earlier_equal_keys() -> None:
    assert occurrence_rank(np.array([5, 3, 5, 5, 3, 9])).tolist() == [0, 0, 1, 2, 1, 0]


def test_rounds_are_exact_for_early_events_then_grow_as_sqrt() -> None:
    rounds = learning_rounds(np.zeros(30, dtype=np.int64), exact=4)
    assert rounds[:4].tolist() == [0, 1, 2, 3]
    assert rounds[4:8].tolist() == [4, 5, 5, 5]  # 4 + floor(sqrt(rank - 4))
    assert np.all(np.diff(rounds) >= 0)
    assert learning_rounds(np.array([1, 1, 1]), exact=0).tolist() == [0, 0, 0]


def test_a_users_second_event_is_predicted_after_learning_the_first() -> None:
    batch_rows = BiasedMF(n_factors=4, seed=0)
    users, items = batch_rows.new_rows(1), batch_rows.new_rows(2)
    batch = MFBatch(users, items, np.array([0, 0]), np.array([0, 1]), np.array([5.0, 5.0], dtype=np.float32))
    predicted = BiasedMF(n_factors=4, seed=0).learn_many(batch, global_mean=3.0)
    assert predicted[1] > predicted[0] + 0.05  # one step did not see the other

    users, items = batch_rows.new_rows(1), batch_rows.new_rows(2)
    batch = MFBatch(users, items, np.array([0, 0]), np.array([0, 1]), np.array([5.0, 5.0], dtype=np.float32))
    one_step = BiasedMF(n_factors=4, seed=0, exact_rounds=0).learn_many(batch, global_mean=3.0)
    assert abs(one_step[1] - one_step[0]) < 0.05
