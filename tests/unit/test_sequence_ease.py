"""The sum of the sequence ranker and EASE: EASE's weight is the one of the grid that ranks best on
each person's latest training ratings, and the scores are the standardised sum with that weight."""

from __future__ import annotations

import numpy as np

from recommenders.data import Ratings
from recommenders.hybrid import standardised_rows
from recommenders.sequence_ease import GRID, SequenceEASE, latest


def test_latest_holds_each_persons_newest_and_leaves_one() -> None:
    data, _, _ = Ratings.from_ids([1, 1, 1, 2, 2, 3], [1, 2, 3, 1, 2, 3], [4] * 6, [30, 10, 20, 5, 6, 1])
    held = latest(data, 2)
    assert sorted(zip(data.users[held].tolist(), data.timestamps[held].tolist(), strict=True)) == \
        [(0, 20), (0, 30), (1, 6)]


def test_the_weight_is_the_grids_best_on_validation_and_the_scores_its_sum() -> None:
    rng = np.random.default_rng(2)
    n = 4000
    data, _, _ = Ratings.from_ids(rng.integers(0, 120, n), np.minimum(rng.zipf(1.3, n) - 1, 149),
                                  rng.integers(1, 6, n), rng.permutation(n))
    model = SequenceEASE(validation_last=3).fit(data)
    assert set(model.validation_ndcg) == set(GRID)
    assert model.validation_ndcg[model.ease_weight] == max(model.validation_ndcg.values())
    for w in (0.0, 2.0):  # each weight's figure is what a model offered only that weight measures
        alone = SequenceEASE(validation_last=3, grid=(w,)).fit(data)
        assert alone.ease_weight == w and alone.validation_ndcg[w] == model.validation_ndcg[w]
    people = np.arange(data.n_users)
    expected = (standardised_rows(model.sequence_.score(people))
                + model.ease_weight * standardised_rows(model.ease_.score(people)))
    np.testing.assert_allclose(model.score(people), expected)


def test_the_order_earns_the_sequence_its_weight() -> None:
    # everyone walks a circle of 80 films, one step a time from a random start: the next film is the one
    # after the latest, which the order shows and co-occurrence (the films on either side alike) does not
    rng = np.random.default_rng(4)
    people, steps = np.repeat(np.arange(300), 12), np.tile(np.arange(12), 300)
    films = (rng.integers(0, 80, 300)[people] + steps) % 80
    ordered, _, _ = Ratings.from_ids(people, films, np.full(len(films), 5.0), steps)
    shuffled, _, _ = Ratings.from_ids(people, films, np.full(len(films), 5.0), rng.permutation(len(films)))
    assert SequenceEASE().fit(ordered).ease_weight < SequenceEASE().fit(shuffled).ease_weight
