"""The API against the real servers: /health sees all three, the catalogue answers."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest

from api.main import create_app
from core.settings import Settings

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
async def client(stack: Settings) -> AsyncIterator[httpx.AsyncClient]:
    app = create_app(stack)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://cinestream") as http:
            yield http


async def test_health_checks_every_server(client: httpx.AsyncClient) -> None:
    response = await client.get("/health")
    body = response.json()
    assert response.status_code == 200, body
    healthy = {name: check["ok"] for name, check in body["checks"].items()}
    assert healthy == dict.fromkeys(("mongo", "redis", "kafka"), True)


async def test_health_reports_a_dead_server_as_503() -> None:
    settings = Settings(redis_url="redis://127.0.0.1:1/0")  # nothing listens on port 1
    app = create_app(settings)
    transport = httpx.ASGITransport(app=app)
    async with app.router.lifespan_context(app), httpx.AsyncClient(transport=transport, base_url="http://x") as http:
        response = await http.get("/health")
    assert response.status_code == 503
    assert response.json()["checks"]["redis"]["ok"] is False


async def test_unknown_movie_is_a_404_with_a_message(client: httpx.AsyncClient) -> None:
    response = await client.get("/api/movies/999999999")
    assert response.status_code == 404 and "999999999" in response.json()["error"]["message"]


async def test_search_without_letters_is_a_422(client: httpx.AsyncClient) -> None:
    response = await client.get("/api/movies", params={"q": "!!"})
    assert response.status_code == 422
