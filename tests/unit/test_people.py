"""Simulated people (``simulators.people``): their hidden tastes, fitted from a real release, make a
better list taken more often, and the release's own distributions shape their sessions."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from simulators.people import population, sessions_of, taken
from simulators.replay import load_ratings


@pytest.fixture(scope="module")
def ratings(data_dir: Path) -> pd.DataFrame:
    return load_ratings(data_dir / "ml-latest-small" / "ratings.csv")


def take_rate(people: object, lists: object, rng: np.random.Generator, n: int = 300) -> float:
    shown = taken_n = 0
    for person in range(n):
        percentiles = people.percentiles(person)  # type: ignore[attr-defined]
        columns = lists(person, percentiles)  # type: ignore[operator]
        taken_n += len(taken(columns, percentiles, rng))
        shown += len(columns)
    return taken_n / shown


def test_a_list_closer_to_the_hidden_taste_is_taken_more_often(ratings: pd.DataFrame) -> None:
    rng = np.random.default_rng(0)
    people = population(ratings, 300, rng)
    best = take_rate(people, lambda p, pc: np.argsort(-pc)[:10], rng)
    popular = take_rate(people, lambda p, pc: np.argsort(-people.popularity)[:10], rng)
    anything = take_rate(people, lambda p, pc: rng.integers(0, len(pc), 10), rng)
    assert best > 1.2 * popular > 5 * anything, (best, popular, anything)
    # the people's own tastes, not one taste for all: their first choices differ
    firsts = {int(np.argmax(people.percentiles(p))) for p in range(100)}
    assert len(firsts) >= 20


def test_stars_follow_the_hidden_taste_and_the_rater_s_mean(ratings: pd.DataFrame) -> None:
    rng = np.random.default_rng(1)
    people = population(ratings, 200, rng)
    liked, disliked = [], []
    for person in range(200):
        order = np.argsort(-(people.star_items @ people.stars[person]))
        liked.append(people.stars_for(person, order[:20], rng).mean())
        disliked.append(people.stars_for(person, order[-20:], rng).mean())
        stars = people.stars_for(person, order[:50], rng)
        assert set(np.unique(stars * 2)) <= set(range(1, 11))  # half stars from 0.5 to 5
    assert np.mean(liked) > np.mean(disliked) + 1.0


def test_sessions_split_where_an_hour_passes() -> None:
    frame = pd.DataFrame({"userId": [1, 1, 1, 1, 2, 2], "movieId": [1, 2, 3, 4, 1, 2],
                          "rating": [4.0] * 6, "timestamp": [0, 60, 4000, 4100, 50, 9000]})
    assert sorted(sessions_of(frame).tolist()) == [1, 1, 2, 2]


def test_activity_and_popularity_come_from_the_release(ratings: pd.DataFrame) -> None:
    people = population(ratings, 2000, np.random.default_rng(2))
    counts = ratings["movieId"].value_counts()
    top = people.movies[np.argsort(-people.popularity)[:10]]
    assert set(top.tolist()) == set(counts.index[:10].tolist())
    assert people.activity.sum() == pytest.approx(1.0)
    assert people.activity.max() > 20 * np.median(people.activity)  # a few people rate far more than most
