"""The catalogue built from the real datasets, loaded into the real MongoDB-protocol server."""

from __future__ import annotations

import pytest
from motor.motor_asyncio import AsyncIOMotorDatabase
from rich.console import Console

from cinestream.catalogue.job import run_build
from cinestream.settings import Settings

pytestmark = pytest.mark.integration


async def test_movies_hold_every_ml_latest_small_movie(built_catalogue: str, db: AsyncIOMotorDatabase) -> None:
    assert await db.movies.count_documents({}) == 9742
    assert await db.user_stats.count_documents({}) == 610


async def test_toy_story_has_director_and_cast_from_tmdb(built_catalogue: str, db: AsyncIOMotorDatabase) -> None:
    movie = await db.movies.find_one({"title": "Toy Story", "year": 1995})
    assert movie is not None
    assert movie["directors"] == ["John Lasseter"]
    assert movie["cast"][:2] == ["Tom Hanks", "Tim Allen"]
    assert movie["genres"] == ["Adventure", "Animation", "Children", "Comedy", "Fantasy"]
    assert movie["kg"]["directors"]  # linked to ml-100k's knowledge graph too
    assert movie["stats"]["count"] == 215 and movie["stats"]["bayes_mean"] < movie["stats"]["mean"]


async def test_ratings_are_normalised_per_user(built_catalogue: str, db: AsyncIOMotorDatabase) -> None:
    user = await db.user_stats.find_one({"_id": 1})
    rating = await db.ratings.find_one({"_id": "movielens:1:1:964982703"})
    assert rating is not None and user is not None
    assert rating["centred"] == pytest.approx(4.0 - user["mean"], abs=1e-3)
    assert rating["z"] == pytest.approx((4.0 - user["mean"]) / user["std"], abs=1e-3)


async def test_a_missing_field_is_recorded_not_invented(built_catalogue: str, db: AsyncIOMotorDatabase) -> None:
    movie = await db.movies.find_one({"tmdbId": None})
    assert movie is not None and "tmdbId" in movie["missing"] and movie["directors"] == []


async def test_second_build_is_a_no_op(built_catalogue: str, stack: Settings) -> None:
    assert (await run_build(stack, Console(quiet=True))).startswith("catalogue up to date (9742 movies")


async def test_duplicate_rating_is_refused_by_the_unique_index(built_catalogue: str, db: AsyncIOMotorDatabase) -> None:
    from pymongo.errors import DuplicateKeyError

    with pytest.raises(DuplicateKeyError):
        await db.ratings.insert_one({"_id": "other-id", "userId": 1, "movieId": 1, "timestamp": 964982703})
