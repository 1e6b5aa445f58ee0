"""The API over a live stream: events posted over HTTP change what the API recommends."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from api.services import accounts
from core.settings import Settings
from storage import recent_history
from tests.integration.helpers import isolated, learned_worker
from tests.integration.people import login, register, running

pytestmark = pytest.mark.integration

STAR_WARS, EMPIRE = 260, 1196


@pytest.fixture(scope="module")
def overrides(stack: Settings) -> dict[str, str]:
    return isolated(stack, 10, "api")


@pytest.fixture(scope="module")
def live(stack: Settings, overrides: dict[str, str], data_dir: Path,
         tmp_path_factory: pytest.TempPathFactory) -> Iterator[int]:
    """A worker with every agent, fed 20,000 real ratings; yields how many."""
    with learned_worker(stack, overrides, data_dir, tmp_path_factory.mktemp("api-worker"), similarity=True) as ratings:
        yield len(ratings)


@pytest.fixture()
async def client(stack: Settings, overrides: dict[str, str], live: int,
                 built_catalogue: str) -> AsyncIterator[httpx.AsyncClient]:
    """The API, reading as a platform's service key (people post as themselves, see :func:`person`)."""
    settings = Settings(topic_ratings=overrides["CINESTREAM_TOPIC_RATINGS"],
                        topic_watches=overrides["CINESTREAM_TOPIC_WATCHES"],
                        topic_movies=overrides["CINESTREAM_TOPIC_MOVIES"],
                        redis_url=overrides["CINESTREAM_REDIS_URL"], mongo_db="cinestream_test")
    async with running(settings) as http:
        key = await accounts.create_service_key(http.app.state.db, "reader",  # type: ignore[attr-defined]
                                                ["recommendations:read", "history:read"], "test")
        http.headers["Authorization"] = f"Bearer {key['key']}"
        yield http


async def person(client: httpx.AsyncClient, dataset_user: int | None = None) -> tuple[int, dict[str, str]]:
    """A person's id and Bearer header: a new account, or a login given to a dataset user."""
    if dataset_user is None:
        someone = await register(client)
        return someone.user_id, someone.auth
    state = client.app.state  # type: ignore[attr-defined]
    email, password = await accounts.demo_login(state.db, state.cipher, dataset_user)
    body = (await login(client, email, password)).json()
    return dataset_user, {"Authorization": f"Bearer {body['access_token']}"}


async def test_recommendations_carry_titles_and_reasons(client: httpx.AsyncClient, built_catalogue: None) -> None:
    body = (await client.get("/api/users/1/recommendations", params={"k": 10})).json()
    assert body["model"] == "online biased MF" and len(body["items"]) == 10
    assert all(item["title"] and item["reason"] for item in body["items"])
    assert any(item["reason"].startswith("because you rated ") and item["reason"].endswith("★")
               for item in body["items"]), body["items"]


async def test_a_posted_rating_makes_a_new_user_known_within_a_second(client: httpx.AsyncClient) -> None:
    new_user, auth = await person(client)
    cold = (await client.get(f"/api/users/{new_user}/recommendations")).json()
    assert cold["model"] == "trending (cold start)" and cold["items"][0]["reason"] == "trending now"
    response = await client.post("/api/events/ratings", json={"movie_id": STAR_WARS, "rating": 5}, headers=auth)
    assert response.status_code == 202
    deadline = time.monotonic() + 5
    while (body := (await client.get(f"/api/users/{new_user}/recommendations")).json())["model"] != "online biased MF":
        assert time.monotonic() < deadline, "the rating did not reach the model"
        await asyncio.sleep(0.05)
    assert STAR_WARS not in [item["movieId"] for item in body["items"]]  # what you rated is not suggested


async def test_a_watch_alone_makes_a_new_user_known(client: httpx.AsyncClient) -> None:
    """Implicit feedback reaches the online MF: a user who only watched gets personal suggestions."""
    new_user, auth = await person(client)
    response = await client.post("/api/events/watches", json={"movie_id": STAR_WARS, "seconds_watched": 7200,
                                                              "completed": True}, headers=auth)
    assert response.status_code == 202
    deadline = time.monotonic() + 5
    while (body := (await client.get(f"/api/users/{new_user}/recommendations")).json())["model"] != "online biased MF":
        assert time.monotonic() < deadline, "the watch did not reach the model"
        await asyncio.sleep(0.05)
    assert len(body["items"]) == 10


async def test_bad_events_are_4xx_with_a_message(client: httpx.AsyncClient) -> None:
    _, auth = await person(client)
    response = await client.post("/api/events/ratings", json={"movie_id": 2, "rating": 4.3}, headers=auth)
    assert response.status_code == 422 and "multiple of 0.5" in response.text
    response = await client.post("/api/events/watches", json={"movie_id": 2, "seconds_watched": -5}, headers=auth)
    assert response.status_code == 422 and "seconds_watched" in response.text


async def test_similar_and_trending_are_served(client: httpx.AsyncClient) -> None:
    similar = (await client.get(f"/api/movies/{STAR_WARS}/similar")).json()["items"]
    assert EMPIRE in [item["movieId"] for item in similar]
    trending = (await client.get("/api/trending", params={"k": 5})).json()["items"]
    assert len(trending) == 5 and trending[0]["score"] >= trending[-1]["score"]


async def test_the_history_page_lists_what_the_stream_stored(client: httpx.AsyncClient,
                                                              built_catalogue: None) -> None:
    deadline = time.monotonic() + 30  # FerretDB takes ~8k inserts/s: the history agent trails the model
    # user 1 has 232 ratings in the first 20,000; the page serves the latest KEEP of them
    while len(items := (await client.get("/api/users/1/history", params={"limit": recent_history.KEEP})).json()[
            "items"]) < min(232, recent_history.KEEP):
        assert time.monotonic() < deadline, len(items)
        await asyncio.sleep(0.5)
    assert items[0]["timestamp"] >= items[-1]["timestamp"] and items[0]["type"] == "rating"
    assert all(item["title"] for item in items)


async def test_metrics_and_learning_curve(client: httpx.AsyncClient, live: int) -> None:
    metrics = (await client.get("/api/metrics/prequential")).json()
    assert metrics["n"] >= live and 0.5 < metrics["rmse"] < 1.2 and metrics["batches"] > 0
    png = await client.get("/api/metrics/learning-curve.png")
    assert png.status_code == 200 and png.content.startswith(b"\x89PNG")


async def test_once_published_the_live_ranker_serves_every_list_with_reasons_and_fresh_events(
        client: httpx.AsyncClient, stack: Settings, overrides: dict[str, str]) -> None:
    from rich.console import Console

    from api.services.lists import LIVE_MODEL
    from jobs.publish import publish

    settings = Settings(redis_url=overrides["CINESTREAM_REDIS_URL"], mongo_db="cinestream_test")
    message = await publish(settings, Console(quiet=True), k=50, text=False)
    assert "published the live ranker (version 1) and the hybrid's top 50 for 610 users" in message
    body = (await client.get("/api/users/1/recommendations", params={"k": 10})).json()
    assert body["model"] == LIVE_MODEL
    assert sum(item["reason"].startswith("because you rated ") for item in body["items"]) >= 8, body["items"]

    first = body["items"][0]["movieId"]  # rate it now: it must leave the list at once
    _, auth = await person(client, dataset_user=1)
    response = await client.post("/api/events/ratings", json={"movie_id": first, "rating": 2}, headers=auth)
    assert response.status_code == 202
    deadline = time.monotonic() + 5
    while first in [i["movieId"] for i in (await client.get("/api/users/1/recommendations")).json()["items"]]:
        assert time.monotonic() < deadline, "a movie the user just rated is still recommended"
        await asyncio.sleep(0.05)

    # Someone no batch job has seen: their chosen genres place the first list, their first
    # ratings change it within a second, and a film is explained by a rated one or by the prior.
    _, plain = await person(client)
    newcomer, auth = await person(client)
    assert (await client.patch("/api/me", json={"favourite_genres": ["Animation"]}, headers=auth)).status_code == 200
    cold = (await client.get("/api/me/recommendations", headers=auth)).json()
    assert cold["model"] == LIVE_MODEL
    unchosen = (await client.get("/api/me/recommendations", headers=plain)).json()["items"]

    def animated(items: list[dict[str, Any]]) -> list[dict[str, Any]]:
        return [item for item in items if "Animation" in item["genres"]]

    assert len(animated(cold["items"])) > len(animated(unchosen)), (cold["items"], unchosen)
    assert {item["reason"] for item in animated(cold["items"])} == {"popular with people who like Animation"}
    for movie in (1, 2355, 4886):  # Toy Story, A Bug's Life, Monsters, Inc.
        posted = await client.post("/api/events/ratings", json={"movie_id": movie, "rating": 5}, headers=auth)
        assert posted.status_code == 202
    deadline = time.monotonic() + 10
    while True:  # the three ratings learned: the list is folded from them now
        warm = (await client.get("/api/me/recommendations", headers=auth)).json()["items"]
        shown = [item["movieId"] for item in warm]
        if shown != [item["movieId"] for item in cold["items"]] and not {1, 2355, 4886} & set(shown):
            break
        assert time.monotonic() < deadline, f"three 5★ ratings left the list as it was: {warm}"
        await asyncio.sleep(0.05)
    anchors = {item["reason"] for item in warm if item["reason"].startswith("because you rated")}
    assert anchors <= {"because you rated Toy Story 5★", "because you rated Bug's Life, A 5★",
                       "because you rated A Bug's Life 5★", "because you rated Monsters, Inc. 5★"}, anchors
    assert newcomer


async def test_a_movie_nobody_rated_has_content_neighbours(client: httpx.AsyncClient) -> None:
    unrated = 1076  # in movies.csv, in no rating of ml-latest-small
    body = (await client.get(f"/api/movies/{unrated}/similar", params={"k": 5})).json()
    assert body["basis"] == "content" and len(body["items"]) == 5
