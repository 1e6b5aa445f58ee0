"""Every route declares who may call it, and every caller is answered accordingly.

The table below is the intended access of each route; the test fails on a route missing from it,
on a route without a policy, and on any caller let in or refused against the table. Person A is
the owner of every ``{user_id}`` in a path; B is another person; neither may touch the other's data.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest
import redis.asyncio as aioredis
from fastapi.routing import APIRoute, iter_route_contexts

from api.security.policy import policy_of
from api.services import accounts
from core.settings import Settings
from tests.integration.people import Person, api_settings, login, make_admin, register, running

pytestmark = pytest.mark.integration

REDIS_DB = 4
CALLERS = ("anonymous", "owner", "other", "admin", "service")
EVERYONE = set(CALLERS)
PEOPLE = {"owner", "other", "admin"}
ADMIN = {"admin"}
OWNER_READ = {"owner", "admin", "service"}
FRAMEWORK = {"/openapi.json", "/static"}

ACCESS: dict[tuple[str, str], set[str]] = {
    ("GET", "/health"): EVERYONE, ("GET", "/metrics"): EVERYONE,
    **{("GET", page): EVERYONE for page in ("/", "/login", "/signup", "/onboarding", "/search", "/movies/{movie_id}",
                                            "/history", "/profile", "/admin")},  # shells: their data is the API's
    ("GET", "/api/auth/session"): EVERYONE,
    ("POST", "/api/auth/register"): EVERYONE, ("POST", "/api/auth/login"): EVERYONE,
    ("POST", "/api/auth/refresh"): EVERYONE,
    ("POST", "/api/auth/logout"): PEOPLE, ("POST", "/api/auth/password"): PEOPLE,
    ("GET", "/api/me"): PEOPLE, ("PATCH", "/api/me"): PEOPLE, ("DELETE", "/api/me"): PEOPLE,
    ("GET", "/api/me/history"): PEOPLE, ("GET", "/api/me/recommendations"): PEOPLE,
    ("GET", "/api/me/export"): PEOPLE, ("POST", "/api/me/export"): PEOPLE, ("GET", "/api/me/export/file"): PEOPLE,
    ("GET", "/api/me/movies/{movie_id}"): PEOPLE, ("GET", "/api/me/live"): PEOPLE,
    ("GET", "/api/admin/stream"): ADMIN, ("GET", "/api/admin/models"): ADMIN,
    ("POST", "/api/admin/models/{version}/rollback"): ADMIN,
    # the catalogue: admins, and services whose key holds catalogue:write (this test's key does not)
    ("PUT", "/api/admin/movies/{movie_id}"): ADMIN, ("DELETE", "/api/admin/movies/{movie_id}"): ADMIN,
    ("POST", "/api/admin/movies"): ADMIN,
    ("GET", "/api/admin/rankers"): ADMIN, ("POST", "/api/admin/rankers/{version}/promote"): ADMIN,
    ("POST", "/api/admin/experiments"): ADMIN, ("GET", "/api/admin/experiments"): ADMIN,
    ("GET", "/api/admin/experiments/{name}"): ADMIN, ("POST", "/api/admin/experiments/{name}/stop"): ADMIN,
    ("POST", "/api/admin/experiments/{name}/promote"): ADMIN,
    ("GET", "/api/movies/genres"): EVERYONE,
    ("POST", "/api/admin/keys"): ADMIN, ("GET", "/api/admin/keys"): ADMIN,
    ("DELETE", "/api/admin/keys/{key_id}"): ADMIN, ("PUT", "/api/admin/users/{user_id}/roles"): ADMIN,
    ("GET", "/api/movies"): EVERYONE, ("GET", "/api/movies/{movie_id}"): EVERYONE,
    ("GET", "/api/movies/{movie_id}/similar"): EVERYONE, ("GET", "/api/trending"): EVERYONE,
    ("GET", "/api/users/{user_id}/recommendations"): OWNER_READ,
    ("GET", "/api/users/{user_id}/history"): OWNER_READ,
    ("POST", "/api/events/ratings"): PEOPLE, ("POST", "/api/events/watches"): PEOPLE,
    ("POST", "/api/events/batch"): {"service"},
    ("GET", "/api/metrics/prequential"): EVERYONE, ("GET", "/api/metrics/learning-curve.png"): EVERYONE,
    ("GET", "/api/evaluation"): EVERYONE, ("GET", "/api/evaluation/{run}/precision-recall.png"): EVERYONE,
}
POLICY_REFUSALS = ("log in, or send a service key", "not allowed: this route is for")


@pytest.fixture()
async def http(stack: Settings, built_catalogue: str, redis_db: aioredis.Redis) -> AsyncIterator[httpx.AsyncClient]:
    async with running(api_settings(stack, REDIS_DB)) as client:
        yield client


def routes(app: object) -> list[tuple[str, str, APIRoute]]:
    found = []
    for context in iter_route_contexts(app.routes):  # type: ignore[attr-defined]
        route = context.original_route
        if isinstance(route, APIRoute):
            found += [(method, route.path, route) for method in sorted(route.methods)]
        else:
            assert context.path in FRAMEWORK, f"{context.path}: a route outside FastAPI's APIRoute"
    return found


def refused_by_policy(response: httpx.Response) -> bool:
    if response.status_code not in (401, 403):
        return False
    message = response.json().get("error", {}).get("message", "")
    return message.startswith(POLICY_REFUSALS)


async def test_every_route_has_a_policy_and_answers_every_caller_as_declared(http: httpx.AsyncClient) -> None:
    table = routes(http.app)  # type: ignore[attr-defined]
    missing = [f"{m} {p}" for m, p, r in table if policy_of(r) is None]
    assert not missing, f"routes without a policy: {missing}"
    assert {(m, p) for m, p, _ in table} == set(ACCESS), "the access table and the app's routes differ"

    owner, other, admin = await register(http, "Ada"), await register(http, "Bob"), await make_admin(http)
    key = await accounts.create_service_key(http.app.state.db, "platform",  # type: ignore[attr-defined]
                                            ["events:write", "recommendations:read", "history:read"], "test")
    headers: dict[str, dict[str, str]] = {"anonymous": {}, "owner": owner.auth, "other": other.auth,
                                          "admin": admin.auth, "service": {"Authorization": f"Bearer {key['key']}"}}
    tried = 0
    for method, path, _ in table:
        url = path.replace("{user_id}", str(owner.user_id)).replace("{movie_id}", "1").replace(
            "{key_id}", "abc123").replace("{run}", "evaluation-none").replace("{version}", "999").replace(
            "{name}", "none")
        for caller in CALLERS:
            auth = headers[caller]
            if path == "/api/auth/logout" and caller in PEOPLE:  # a session of its own, or the others end
                auth = await _fresh_session(http, {"owner": owner, "other": other, "admin": admin}[caller])
            body = {} if method in ("POST", "PUT", "PATCH", "DELETE") and path != "/api/auth/logout" else None
            allowed = caller in ACCESS[(method, path)]
            if allowed and path == "/api/me/live":
                continue  # an event stream answers until the client leaves (the browser tests follow it)
            response = await http.request(method, url, json=body, headers=auth)
            http.cookies.clear()
            tried += 1
            assert refused_by_policy(response) != allowed, f"{caller} {method} {url}: {response.status_code} " \
                                                           f"{response.text[:200]}"
            if not allowed:
                assert response.status_code == (401 if caller == "anonymous" else 403)
    print(f"route policies: {len(table)} routes x {len(CALLERS)} callers = {tried} calls checked")


async def _fresh_session(http: httpx.AsyncClient, person: Person) -> dict[str, str]:
    """A new log-in (a family of its own): logging it out leaves the person's other session alone."""
    body = (await login(http, person.email)).json()
    return {"Authorization": f"Bearer {body['access_token']}"}


async def test_a_service_key_without_the_scope_is_refused(http: httpx.AsyncClient) -> None:
    owner = await register(http)
    key = await accounts.create_service_key(http.app.state.db, "writer", ["events:write"], "test")  # type: ignore[attr-defined]
    response = await http.get(f"/api/users/{owner.user_id}/recommendations",
                              headers={"Authorization": f"Bearer {key['key']}"})
    assert response.status_code == 403


async def test_the_openapi_documents_every_status_with_one_error_shape(http: httpx.AsyncClient) -> None:
    spec = (await http.get("/openapi.json")).json()
    lenient = {(m.lower(), p) for m, p, r in routes(http.app)  # type: ignore[attr-defined]
               if (policy := policy_of(r)) is not None and policy.lenient}  # bad credentials: anonymous, not 401
    assert "ErrorBody" in spec["components"]["schemas"]
    for path, operations in spec["paths"].items():
        for method, operation in operations.items():
            codes = set(operation["responses"])
            assert "401" in codes or (method, path) in lenient, f"{method} {path}: 401 undocumented"
            if operation.get("parameters") or operation.get("requestBody"):
                assert "422" in codes, f"{method} {path}: 422 undocumented"
