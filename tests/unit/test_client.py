"""The typed client: its generated half matches the app's schema, and its own logic (errors, paths,
a session's refresh, no cookies) behaves as documented. Against the real stack it runs in the
integration guide (tests/integration/test_integration_guide.py)."""

from __future__ import annotations

import json

import httpx
import pytest

from api.main import create_app
from cinestream_client import OPERATIONS, ApiError, Client
from cli.client_codegen import SCHEMA_MODULE, operations, render


def test_the_committed_client_matches_the_app_schema() -> None:
    app = create_app()
    assert SCHEMA_MODULE.read_text() == render(app), "run `cinestream client generate` and commit the result"
    assert dict(OPERATIONS) == operations(app)


def _client(handler: httpx.MockTransport, key: str | None = None) -> Client:
    return Client("http://api.test", key=key, http=httpx.AsyncClient(base_url="http://api.test", transport=handler))


async def test_an_error_answer_is_an_api_error_with_its_code_and_retry_after() -> None:
    def answer(request: httpx.Request) -> httpx.Response:
        return httpx.Response(429, headers={"Retry-After": "2"}, json={"error": {
            "status": 429, "code": "too_many_requests", "message": "slow down", "details": []}})

    async with _client(httpx.MockTransport(answer), key="csk_a_b") as client:
        with pytest.raises(ApiError) as raised:
            await client.post_events([{"event_id": "e1"}])
    assert (raised.value.status, raised.value.code, raised.value.retry_after) == (429, "too_many_requests", 2.0)


async def test_routes_come_from_the_generated_table_with_the_key_as_bearer() -> None:
    seen: list[httpx.Request] = []

    def answer(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(200, json={"userId": 7, "items": []})

    async with _client(httpx.MockTransport(answer), key="csk_a_b") as client:
        await client.recommendations(7, k=5)
        assert client.url("similar", {"k": 3}, movie_id=1) == "http://api.test/api/movies/1/similar?k=3"
    assert seen[0].method == "GET" and seen[0].url.path == "/api/users/7/recommendations"
    assert seen[0].url.params["k"] == "5" and seen[0].headers["Authorization"] == "Bearer csk_a_b"


async def test_an_expired_access_token_is_refreshed_once_and_cookies_are_never_sent() -> None:
    calls: list[tuple[str, str | None, str | None]] = []
    session = {"user_id": 1, "access_token": "old", "refresh_token": "r1" * 10, "token_type": "bearer",
               "expires_in": 900, "csrf_token": "c"}

    def answer(request: httpx.Request) -> httpx.Response:
        calls.append((request.url.path, request.headers.get("Authorization"), request.headers.get("Cookie")))
        if request.url.path == "/api/auth/login":
            return httpx.Response(200, json=session, headers={"Set-Cookie": "cs_access=x; Path=/"})
        if request.url.path == "/api/auth/refresh":
            assert json.loads(request.content) == {"refresh_token": session["refresh_token"]}
            return httpx.Response(200, json={**session, "access_token": "new", "refresh_token": "r2" * 10})
        if request.headers["Authorization"] == "Bearer old":
            return httpx.Response(401, json={"error": {"status": 401, "code": "unauthenticated", "message": "expired"}})
        return httpx.Response(200, json={"userId": 1, "items": []})

    async with _client(httpx.MockTransport(answer)) as client:
        await client.login("a@example.org", "secret")
        assert (await client.my_recommendations())["userId"] == 1
    assert [c[0] for c in calls] == ["/api/auth/login", "/api/me/recommendations", "/api/auth/refresh",
                                     "/api/me/recommendations"]
    assert calls[-1][1] == "Bearer new" and all(cookie is None for _, _, cookie in calls)
