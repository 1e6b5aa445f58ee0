"""An API over the real stack (test database, a Redis database and topics of its own) with people in it."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass

import httpx

from api.main import create_app
from api.services import accounts
from core.settings import Settings

PASSWORD = "correct horse battery"


@dataclass
class Person:
    user_id: int
    email: str
    token: str
    refresh: str

    @property
    def auth(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}


def api_settings(stack: Settings, redis_db: int, **overrides: object) -> Settings:
    run = uuid.uuid4().hex[:8]
    return Settings(mongo_db="cinestream_test", redis_url=stack.redis_url.rsplit("/", 1)[0] + f"/{redis_db}",
                    topic_ratings=f"people-ratings-{run}", topic_watches=f"people-watches-{run}",
                    topic_movies=f"people-movies-{run}",
                    **overrides)  # type: ignore[arg-type]


@asynccontextmanager
async def running(settings: Settings) -> AsyncIterator[httpx.AsyncClient]:
    app = create_app(settings)
    transport = httpx.ASGITransport(app=app)
    async with app.router.lifespan_context(app), httpx.AsyncClient(transport=transport, base_url="http://t") as http:
        http.app = app  # type: ignore[attr-defined]
        yield http


async def register(http: httpx.AsyncClient, name: str = "Ada") -> Person:
    email = f"{name.lower()}-{uuid.uuid4().hex[:10]}@example.org"
    response = await http.post("/api/auth/register", json={"email": email, "password": PASSWORD,
                                                          "display_name": f"{name} Lovelace"})
    assert response.status_code == 201, response.text
    body = response.json()
    http.cookies.clear()  # API clients in these tests speak Bearer, not cookies
    return Person(body["user_id"], email, body["access_token"], body["refresh_token"])


async def login(http: httpx.AsyncClient, email: str, password: str = PASSWORD) -> httpx.Response:
    response = await http.post("/api/auth/login", json={"email": email, "password": password})
    http.cookies.clear()
    return response


async def make_admin(http: httpx.AsyncClient) -> Person:
    person = await register(http, "Grace")
    await accounts.set_roles(http.app.state.db, person.user_id, ["user", "admin"], "test")  # type: ignore[attr-defined]
    body = (await login(http, person.email)).json()
    return Person(person.user_id, person.email, body["access_token"], body["refresh_token"])
