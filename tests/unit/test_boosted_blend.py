"""The boosted rating blend learns what one weight per member cannot: how ratings drift in time."""

from __future__ import annotations

import numpy as np

from recommenders.baseline import Baseline, Popularity
from recommenders.data import Ratings
from recommenders.hybrid import Hybrid

DAY = 86_400


def drifting(seed: int) -> tuple[Ratings, Ratings]:
    """People who rate more generously the longer they have been rating (half a star a year, over two
    years), a fifth of the ratings held out at random: a blend of baselines learns each mean, not the
    drift."""
    rng = np.random.default_rng(seed)
    users, items, times = [], [], []
    for u in range(300):
        films = rng.choice(200, 60, replace=False)
        users += [u] * 60
        items += films.tolist()
        times += np.sort(rng.integers(0, 730 * DAY, 60)).tolist()
    t = np.array(times, dtype=np.int64)
    stars = np.clip(np.round(2.5 + 0.5 * t / (365 * DAY) + rng.normal(0, 0.3, len(t))) , 1, 5)
    data = Ratings(np.array(users), np.array(items), stars.astype(np.float64), t, 300, 200)
    held = rng.random(len(t)) < 0.2
    return data.subset(~held), data.subset(held)


def test_the_boosted_blend_follows_the_drift_the_ridge_blend_averages_away() -> None:
    train, test = drifting(0)
    errors = {}
    for blend in ("ridge", "boosted"):
        model = Hybrid(raters=[Baseline], rankers=[Popularity], rating_blend=blend).fit(train)
        errors[blend] = rmse(model.predict_at(test.users, test.items, test.timestamps), test)
        errors[f"{blend}, timeless"] = rmse(model.predict(test.users, test.items), test)
    assert errors["boosted"] < 0.9 * errors["ridge"], errors  # near the noise floor: rounding and 0.3 of noise
    assert errors["boosted"] < 0.8 * errors["boosted, timeless"], errors  # the time is what it learned
    assert errors["ridge"] == errors["ridge, timeless"]


def rmse(estimate: np.ndarray, test: Ratings) -> float:
    return float(np.sqrt(np.mean((estimate - test.ratings) ** 2)))
