"""The catalogue built from the real datasets, loaded into the real MongoDB-protocol server."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from motor.motor_asyncio import AsyncIOMotorDatabase
from rich.console import Console

from core.settings import Settings
from jobs.catalogue import run_build
from storage import field_crypto, rating_store

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
    from api.services import accounts
    from core.secrets import load_secrets
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
        cipher = field_crypto.cipher_of(load_secrets(settings))
        email, _ = await accounts.demo_login(db, cipher, 1)
        account = await user_store.find_by_email(db, cipher, email)
        assert account is not None and user_store.readable(cipher, account)["demographics"] == {
            "age": "24", "gender": "M", "occupation": "technician", "zip": "85711"}  # kept through the login
    finally:
        await client.drop_database("cinestream_test_layouts")
        client.close()


async def test_a_rebuild_sends_what_changed_as_catalogue_events(stack: Settings, tmp_path: Path) -> None:
    """``catalogue build`` is one producer of the ``movies`` topic: over a stored catalogue, a rebuild
    whose movies file adds a title, renames one and drops one sends an upsert for each of the first
    two and a retirement for the third, and leaves the new title for the catalogue agent to insert
    (so it arrives as new, with its neighbours, in every process)."""
    import uuid

    from aiokafka import AIOKafkaConsumer

    from contracts.catalogue import decode_titles
    from storage.mongo import connect, database
    from streams.admin import delete_topics, ensure_topics

    topic = f"test-rebuild-movies-{uuid.uuid4().hex[:8]}"
    settings = stack.model_copy(update={"mongo_db": "cinestream_test_rebuild", "topic_movies": topic})
    await ensure_topics(settings, [], [topic])
    release = tmp_path / "data" / "ml-latest-small"
    release.mkdir(parents=True)
    for source in (stack.data_dir / "ml-latest-small").iterdir():
        if source.name != "movies.csv":
            (release / source.name).symlink_to(source)
    for shared in ("tmdb-5000", "ml-100k"):
        (tmp_path / "data" / shared).symlink_to(stack.data_dir / shared)
    lines = (stack.data_dir / "ml-latest-small" / "movies.csv").read_text().splitlines()
    lines = [line.replace("2,Jumanji (1995)", "2,Jumanji: The Game (1995)") for line in lines
             if not line.startswith("1076,")]  # The Innocents, rated by no one
    (release / "movies.csv").write_text("\n".join([*lines, "999999,A New Release (2026),Drama|Sci-Fi"]) + "\n")
    client = connect(settings)
    db = database(client, settings)
    try:
        first = await run_build(settings, Console(quiet=True), force=True)
        assert first.startswith("catalogue loaded") and '"stream"' not in first, first
        again = await run_build(settings.model_copy(update={"data_dir": tmp_path / "data"}), Console(quiet=True))
        assert '"stream": {"sent": 3, "written directly": 0}' in again, again
        consumer = AIOKafkaConsumer(topic, bootstrap_servers=settings.kafka_bootstrap, auto_offset_reset="earliest")
        await consumer.start()
        try:
            batches = await consumer.getmany(timeout_ms=10_000)
        finally:
            await consumer.stop()
        sent = [t for records in batches.values() for r in records for t in decode_titles(r.value)]
        assert [(t.op, t.movieId, t.title) for t in sent] == [
            ("upsert", 2, "Jumanji: The Game"), ("upsert", 999999, "A New Release"), ("retire", 1076, None)]
        assert sent[1].year == 2026 and sent[1].genres == ["Drama", "Sci-Fi"]
        assert await db.movies.find_one({"movieId": 999999}) is None  # the agent inserts it, not the bulk load
        assert (await db.movies.find_one({"movieId": 2}))["title"] == "Jumanji: The Game"
    finally:
        await client.drop_database("cinestream_test_rebuild")
        client.close()
        await delete_topics(settings, [topic])
