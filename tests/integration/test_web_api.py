"""What the web app asks of the API beyond the REST basics: search by people with filters, a
person's own state for a movie, the live push's wake-ups, and the admin area's stream and models."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator

import httpx
import pytest
import redis.asyncio as aioredis

from core.settings import Settings
from storage import model_versions, recent_history
from storage.model_keys import seen_key, seen_version_key, user_key
from storage.rating_watch import EVERY_S, RatingWatch
from tests.integration.people import api_settings, make_admin, register, running

pytestmark = pytest.mark.integration

REDIS_DB = 4  # shared with test_route_policies (modules run one after the other; each empties it)
THE_MATRIX, BOUND = 2571, 1059


@pytest.fixture()
async def http(stack: Settings, built_catalogue: str, redis_db: aioredis.Redis) -> AsyncIterator[httpx.AsyncClient]:
    async with running(api_settings(stack, REDIS_DB)) as client:
        yield client


async def titles(http: httpx.AsyncClient, **params: object) -> list[str]:
    response = await http.get("/api/movies", params=params)
    assert response.status_code == 200, response.text
    return [m["title"] for m in response.json()]


async def test_search_finds_films_by_their_people_after_titles_and_filters_them(http: httpx.AsyncClient) -> None:
    by_director = await titles(http, q="wachowski", limit=10)
    assert by_director[:3] == ["The Matrix", "The Matrix Reloaded", "The Matrix Revolutions"]  # most rated first
    assert "Bound" in by_director and "Cloud Atlas" in by_director
    # a title match ("Keanu", 2016) comes before films with Keanu Reeves in their cast
    assert (await titles(http, q="keanu", limit=3)) == ["Keanu", "The Matrix", "Speed"]
    assert await titles(http, q="wachowski", genre="Thriller", year=1996) == ["Bound"]
    assert await titles(http, q="wachowski", genre="Musical") == []
    comedies = (await http.get("/api/movies", params={"genre": "Comedy", "limit": 5})).json()
    assert len(comedies) == 5 and all("Comedy" in m["genres"] for m in comedies)
    counts = [m["stats"]["count"] for m in comedies]
    assert counts == sorted(counts, reverse=True) and counts[0] > 300  # the most rated comedies (Forrest Gump: 329)
    genres = (await http.get("/api/movies/genres")).json()
    assert next(iter(genres)) == "Drama" and genres["Comedy"] > 3000
    assert (await http.get("/api/movies", params={"limit": 0})).status_code == 422


async def test_my_movie_says_my_rating_and_whether_i_watched_it(http: httpx.AsyncClient,
                                                               redis_db: aioredis.Redis) -> None:
    ada = await register(http)
    assert (await http.get(f"/api/me/movies/{THE_MATRIX}", headers=ada.auth)).json() == {
        "movieId": THE_MATRIX, "rating": None, "watched": False, "watchedAt": None}
    # as the workers write them: the model's ratings hash and the recent history
    await redis_db.hset(seen_key(ada.user_id), str(THE_MATRIX), "4.5")
    await recent_history.add(redis_db, [{"user_id": ada.user_id, "movie_id": THE_MATRIX, "type": "watch",
                                         "timestamp": 1_700_000_000.0, "seconds_watched": 8000.0, "completed": True},
                                        {"user_id": ada.user_id, "movie_id": BOUND, "type": "watch",
                                         "timestamp": 1_700_000_100.0, "seconds_watched": 60.0, "completed": False}])
    mine = (await http.get(f"/api/me/movies/{THE_MATRIX}", headers=ada.auth)).json()
    assert mine == {"movieId": THE_MATRIX, "rating": 4.5, "watched": True, "watchedAt": 1_700_000_000.0}
    assert (await http.get(f"/api/me/movies/{THE_MATRIX}")).status_code == 401


async def test_the_watch_wakes_a_page_when_its_persons_ratings_change_and_no_other(redis_db: aioredis.Redis) -> None:
    watch = RatingWatch(redis_db)
    polling = asyncio.create_task(watch.run())
    await redis_db.set(seen_version_key(7), "10")
    seven, eight = watch.changes(7, heartbeat_s=0.5), watch.changes(8, heartbeat_s=0.5)
    try:
        first_seven, first_eight = asyncio.ensure_future(anext(seven)), asyncio.ensure_future(anext(eight))
        await asyncio.sleep(3 * EVERY_S)  # both registered and polled: nothing changed yet
        assert not first_seven.done() and not first_eight.done()
        started = time.monotonic()
        await redis_db.set(seen_version_key(7), "11")  # the worker applied a rating of person 7
        assert await first_seven is True
        assert time.monotonic() - started < 2 * EVERY_S + 0.05
        assert await first_eight is False  # only a heartbeat for person 8, after 0.5 s
        await redis_db.set(seen_version_key(8), "3")  # person 8's first rating: no version before
        assert await anext(eight) is True
    finally:
        await seven.aclose()
        await eight.aclose()
        polling.cancel()
    assert not watch._waiters and not watch._versions  # closed pages leave nothing behind


async def test_the_admin_area_reads_the_stream_and_rolls_a_model_back(http: httpx.AsyncClient,
                                                                      redis_db: aioredis.Redis) -> None:
    admin, ada = await make_admin(http), await register(http)
    await redis_db.set(user_key(1), b"\x00" * 8)
    first = await model_versions.snapshot(redis_db, "before")
    await redis_db.set(user_key(1), b"\x01" * 8)
    second = await model_versions.snapshot(redis_db, "after")
    listed = (await http.get("/api/admin/models", headers=admin.auth)).json()["versions"]
    assert [(v["version"], v["note"]) for v in listed] == [(first, "before"), (second, "after")]
    assert (await http.get("/api/admin/models", headers=ada.auth)).status_code == 403
    back = await http.post(f"/api/admin/models/{first}/rollback", headers=admin.auth)
    assert back.status_code == 200 and back.json()["note"] == "before"
    assert await redis_db.get(user_key(1)) == b"\x00" * 8
    listed = (await http.get("/api/admin/models", headers=admin.auth)).json()["versions"]
    assert [v["current"] for v in listed] == [True, False]
    assert (await http.post("/api/admin/models/999/rollback", headers=admin.auth)).status_code == 404
    stream = (await http.get("/api/admin/stream", headers=admin.auth)).json()
    assert stream["learned"] == 0 and isinstance(stream["groups"], list)
    assert all(g["lag"] == g["end"] - g["committed"] >= 0 for g in stream["groups"])
