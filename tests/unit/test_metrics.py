"""The shared accuracy measures agree with independent implementations."""

from __future__ import annotations

import numpy as np
from sklearn.metrics import ndcg_score

from online_models import metrics


def test_ndcg_matches_scikit_learn_on_random_lists() -> None:
    rng = np.random.default_rng(3)
    n_users, n_items, k = 40, 60, 10
    scores = rng.random((n_users, n_items))
    truth = (rng.random((n_users, n_items)) < 0.1).astype(float)
    truth[truth.sum(axis=1) == 0, 0] = 1.0
    top = np.argsort(-scores, axis=1)[:, :k]
    relevant = [set(np.flatnonzero(row).tolist()) for row in truth]
    hits = metrics.hit_matrix(top, relevant)
    ours = metrics.ndcg_at(hits, [len(r) for r in relevant], k)
    assert abs(ours - ndcg_score(truth, scores, k=k)) < 1e-9


def test_precision_recall_map_and_hit_rate_on_a_hand_worked_case() -> None:
    top = np.array([[5, 1, 7, 2], [0, 3, 4, 6]])
    relevant = [{1, 2, 9}, {8}]
    hits = metrics.hit_matrix(top, relevant)
    assert hits.astype(int).tolist() == [[0, 1, 0, 1], [0, 0, 0, 0]]
    assert metrics.precision_at(hits, 4) == (2 / 4 + 0) / 2
    assert metrics.recall_at(hits, [3, 1], 4) == (2 / 3 + 0) / 2
    assert abs(metrics.map_at(hits, [3, 1], 4) - ((1 / 2 + 2 / 4) / 3) / 2) < 1e-12
    assert metrics.hit_rate_at(hits, 4) == 0.5
    precision, recall = metrics.pr_curve(hits, [3, 1])
    assert precision.tolist() == [0.0, 0.25, 1 / 6, 0.25]
    assert recall[-1] == 1 / 3


def test_coverage_novelty_and_diversity_reward_what_they_should() -> None:
    popularity = np.array([100.0, 50, 1, 1])
    same = np.array([[0, 1], [0, 1]])
    varied = np.array([[2, 3], [0, 1]])
    assert metrics.coverage(varied, 4, 2) == 1.0 > metrics.coverage(same, 4, 2)
    assert metrics.novelty(varied, popularity, 100, 2) > metrics.novelty(same, popularity, 100, 2)
    genres = np.array([[1.0, 0], [1.0, 0], [0, 1.0], [1.0, 0]])
    assert metrics.diversity(np.array([[0, 2]]), genres, 2) == 1.0
    assert metrics.diversity(np.array([[0, 1]]), genres, 2) == 0.0
