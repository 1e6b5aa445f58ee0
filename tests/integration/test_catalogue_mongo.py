"""The catalogue built from the real datasets, loaded into the real MongoDB-protocol server."""

from __future__ import annotations

import numpy as np
import pytest
from motor.motor_asyncio import AsyncIOMotorDatabase
from rich.console import Console

from cinestream.catalogue.job import run_build
from cinestream.settings import Settings
from storage import rating_store

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
    stored = await db.ratings.find_one({"_id": "movielens:1:0"})  # user 1's ratings as columns
    assert stored is not None and user is not None and stored["n"] == user["count"] == 232
    ratings = rating_store.columns(stored)
    j = int(np.flatnonzero(ratings["movieId"] == 1)[0])
    assert (ratings["rating"][j], ratings["timestamp"][j]) == (4.0, 964982703)
    assert ratings["centred"][j] == pytest.approx(4.0 - user["mean"], abs=1e-3)
    assert ratings["z"][j] == pytest.approx((4.0 - user["mean"]) / user["std"], abs=1e-3)
    assert (np.diff(ratings["timestamp"]) >= 0).all()


async def test_a_missing_field_is_recorded_not_invented(built_catalogue: str, db: AsyncIOMotorDatabase) -> None:
    movie = await db.movies.find_one({"tmdbId": None})
    assert movie is not None and "tmdbId" in movie["missing"] and movie["directors"] == []


async def test_second_build_is_a_no_op(built_catalogue: str, stack: Settings) -> None:
    assert (await run_build(stack, Console(quiet=True))).startswith("catalogue up to date (9742 movies")


async def test_a_second_document_for_a_person_s_part_is_refused(built_catalogue: str, db: AsyncIOMotorDatabase) -> None:
    from pymongo.errors import DuplicateKeyError

    with pytest.raises(DuplicateKeyError):
        await db.ratings.insert_one({"_id": "other-id", "userId": 1, "part": 0, "movieId": [1]})


async def test_the_shared_ml_100k_in_recbole_layout_builds_with_its_users_demographics(stack: Settings) -> None:
    """Another layout end to end: RecBole's atomic files, TMDB joined by title and year (no links file),
    the users' demographics kept encrypted on their documents and readable by their owner."""
    from cinestream import accounts
    from cinestream.secrets import load_secrets
    from storage import user_store
    from storage.mongo import connect, database

    settings = stack.model_copy(update={"dataset": "ml-100k", "mongo_db": "cinestream_test_layouts"})
    client = connect(settings)
    db = database(client, settings)
    try:
        said = await run_build(settings, Console(quiet=True), force=True)
        assert said.startswith("catalogue loaded") and '"demographics": {"users": 943}' in said, said
        assert await db.movies.count_documents({}) == 1682
        report = (await db.meta.find_one({"_id": "catalogue"}))["report"]
        assert report["layout"] == "recbole" and report["tmdb_by_title"] > 400 and not report["rejected"]
        toy = await db.movies.find_one({"movieId": 1})
        assert toy is not None and toy["title"] == "Toy Story" and toy["directors"] == ["John Lasseter"]
        stored = await db.users.find_one({"_id": "1"})
        assert stored is not None and "technician" not in str(stored)  # encrypted at rest
        cipher = load_secrets(settings).cipher()
        email, _ = await accounts.demo_login(db, cipher, 1)
        account = await user_store.find_by_email(db, cipher, email)
        assert account is not None and user_store.readable(cipher, account)["demographics"] == {
            "age": "24", "gender": "M", "occupation": "technician", "zip": "85711"}  # kept through the login
    finally:
        await client.drop_database("cinestream_test_layouts")
        client.close()
