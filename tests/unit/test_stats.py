import pandas as pd
import pytest

from catalogue.stats import movie_stats, normalise, user_stats


def test_bayesian_mean_shrinks_small_counts_towards_the_global_mean() -> None:
    ratings = pd.DataFrame({"userId": [1, 2, 3, 1], "movieId": [1, 1, 1, 2], "rating": [4.0, 4.0, 4.0, 1.0]})
    stats = movie_stats(ratings, prior_weight=2.0)
    mu = 13.0 / 4
    assert stats.loc[1, "bayes_mean"] == pytest.approx((2 * mu + 12) / 5)
    assert stats.loc[2, "bayes_mean"] == pytest.approx((2 * mu + 1) / 3)
    assert stats.loc[2, "count"] == 1


def test_normalise_centres_and_scales_per_user() -> None:
    ratings = pd.DataFrame({"userId": [1, 1, 2], "movieId": [1, 2, 1], "rating": [2.0, 4.0, 5.0]})
    out = normalise(ratings, user_stats(ratings))
    assert out["centred"].tolist() == [-1.0, 1.0, 0.0]
    assert out["z"].tolist() == [-1.0, 1.0, 0.0]  # user 2 has std 0: z is 0, not NaN
