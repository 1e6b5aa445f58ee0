"""The trending learner's update (pure numpy), against its definition: a score is the sum of each event's
weight halved every half-life before now, whatever epochs the batches moved through."""

from __future__ import annotations

import numpy as np

from online_models.trending import Trending, TrendingUpdate


def _apply(scores: dict[int, float], update: TrendingUpdate) -> None:
    """What the store does with an update (``storage.trending_store``), on a dict."""
    for movie in scores:
        scores[movie] *= update.factor
    for movie, inc in zip(update.movies.tolist(), update.increments.tolist(), strict=True):
        scores[movie] = scores.get(movie, 0.0) + inc


def test_batches_over_decades_rank_as_decayed_counts_at_the_last_event() -> None:
    rng = np.random.default_rng(3)
    half_life = 30 * 86400.0
    trend = Trending(half_life_s=half_life)
    times = np.sort(rng.uniform(8.3e8, 1.5e9, 3000))  # 21 years: the epoch has to move
    movies, weights = rng.zipf(1.6, 3000) % 50, rng.choice([1.0, 0.5], 3000)
    scores: dict[int, float] = {}
    epoch = None
    for part in np.array_split(np.arange(3000), 17):
        update = trend.update(movies[part], weights[part], times[part], epoch, now=2e9)
        _apply(scores, update)
        epoch = update.epoch
    assert epoch is not None and epoch > 8.3e8  # moved at least once
    now = times[-1]
    definition = {int(m): 0.0 for m in np.unique(movies)}
    for m, w, t in zip(movies.tolist(), weights.tolist(), times.tolist(), strict=True):
        definition[m] += w * 2.0 ** (-(now - t) / half_life)
    ranked = sorted(scores, key=lambda m: -scores[m])[:10]
    assert ranked == sorted(definition, key=lambda m: -definition[m])[:10]
    ratio = [scores[m] / definition[m] for m in ranked]  # the same common factor for every movie
    assert np.allclose(ratio, ratio[0], rtol=1e-9)


def test_an_event_from_the_far_future_counts_as_now_plus_five_minutes() -> None:
    trend = Trending(half_life_s=3600.0)
    update = trend.update(np.array([1, 2]), np.ones(2), np.array([1000.0, 1e12]), epoch=None, now=1000.0)
    assert update.increments[1] / update.increments[0] == 2.0 ** (300.0 / 3600.0)
