"""The synthetic release reads like a real one, in either layout, with MovieLens' shape."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from catalogue.readers import Rejections
from catalogue.sources import read_movielens
from releases.synthetic import generate


@pytest.fixture(scope="module")
def template(data_dir: Path) -> pd.DataFrame:
    return pd.read_csv(data_dir / "ml-latest-small" / "movies.csv")


@pytest.mark.parametrize("layout", ["csv", "dat"])
def test_a_generated_release_reads_as_its_layout_with_movielens_shape(tmp_path: Path, template: pd.DataFrame,
                                                                      layout: str) -> None:
    made = generate(tmp_path / "synthetic", 500, 12_000, 60_000, layout, template, seed=1)
    rejections = Rejections()
    ml = read_movielens(tmp_path / "synthetic", rejections)
    assert not rejections.rows and ml.layout == layout
    ratings = ml.ratings
    assert len(ratings) == made.ratings and 0.93 * 60_000 < made.ratings < 1.1 * 60_000
    assert ratings["userId"].nunique() == 500 and ratings.groupby("userId").size().min() >= 20
    assert not ratings.duplicated(["userId", "movieId"]).any()
    steps = np.arange(0.5, 5.01, 0.5) if layout == "csv" else np.arange(1.0, 5.01)
    assert set(ratings["rating"].unique()) <= set(steps)
    assert 3.2 < ratings["rating"].mean() < 3.8 and 0.8 < ratings["rating"].std() < 1.2
    counts = ratings["movieId"].value_counts()
    assert counts.iloc[: len(counts) // 100].sum() > 0.05 * len(ratings)  # a long tail: popular films dominate
    per_user = ratings.groupby("userId")["timestamp"]
    assert (per_user.is_monotonic_increasing).all()  # each user's ratings in time order, as the files are
    # 12,000 movies from 9,742 real titles: the rest are numbered parts, years kept
    assert ml.movies[0]["raw_title"] == "Toy Story (1995)"
    assert ml.movies[9742]["raw_title"] == "Toy Story: Part 2 (1995)"
    if layout == "dat":
        assert len(ml.users) == 500 and set(ml.users["gender"]) <= {"F", "M"}


def test_the_same_seed_makes_the_same_release(tmp_path: Path, template: pd.DataFrame) -> None:
    generate(tmp_path / "a", 50, 500, 3000, "dat", template, seed=7)
    generate(tmp_path / "b", 50, 500, 3000, "dat", template, seed=7)
    assert (tmp_path / "a" / "ratings.dat").read_bytes() == (tmp_path / "b" / "ratings.dat").read_bytes()


def test_which_films_a_person_rates_follows_their_taste(tmp_path: Path, template: pd.DataFrame) -> None:
    """A person's films lean to their genres: their genre mix strays further from the catalogue's than
    the same films dealt out at random (drawn by popularity alone, the two are equal: 0.54 and 0.56),
    so a ranker has more than popularity to learn from."""
    generate(tmp_path / "s", 300, 3000, 30_000, "csv", template, seed=2)
    ratings = pd.read_csv(tmp_path / "s" / "ratings.csv")
    genres = pd.read_csv(tmp_path / "s" / "movies.csv").set_index("movieId")["genres"].str.get_dummies()

    def stray(frame: pd.DataFrame) -> float:
        """The mean over people of how far their genre mix is from everyone's (L1)."""
        listed = genres.loc[frame["movieId"]].to_numpy()
        per_user = pd.DataFrame(listed).groupby(frame["userId"].to_numpy()).mean()
        return float((per_user - listed.mean(axis=0)).abs().sum(axis=1).mean())

    dealt = ratings.assign(movieId=np.random.default_rng(0).permutation(ratings["movieId"].to_numpy()))
    assert stray(ratings) > 1.15 * stray(dealt)
