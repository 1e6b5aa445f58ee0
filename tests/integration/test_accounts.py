"""Accounts against the real stack: encryption at rest, rate limits, token families, the boundary, erasure."""

from __future__ import annotations

import asyncio
import datetime as dt
import time
from collections.abc import AsyncIterator

import httpx
import pytest
import redis.asyncio as aioredis

from api.security.policy import CSRF_COOKIE
from api.services import accounts
from core.settings import Settings
from storage import erasure, export_store, user_store
from storage.field_crypto import FieldCipher
from tests.integration.people import PASSWORD, api_settings, login, make_admin, register, running

pytestmark = pytest.mark.integration

REDIS_DB = 3
ALIEN = 1214


@pytest.fixture()
async def http(stack: Settings, built_catalogue: str, redis_db: aioredis.Redis) -> AsyncIterator[httpx.AsyncClient]:
    async with running(api_settings(stack, REDIS_DB)) as client:
        yield client


async def test_the_database_holds_no_plaintext_and_rotation_reencrypts_every_account(
        http: httpx.AsyncClient) -> None:
    people = [await register(http, name) for name in ("Ada", "Alan", "Barbara")]
    db = http.app.state.db  # type: ignore[attr-defined]
    for person in people:
        raw = await db.users.find_one({"_id": str(person.user_id)})
        flat = repr(raw)
        assert person.email not in flat and "Lovelace" not in flat, flat
        assert raw["email"].startswith(http.app.state.cipher.current + ":")  # type: ignore[attr-defined]
    old: FieldCipher = http.app.state.cipher  # type: ignore[attr-defined]
    secrets = http.app.state.secrets  # type: ignore[attr-defined]
    newer = FieldCipher({"k-new": b"\x01" * 32, **secrets.data_keys}, "k-new", secrets.blind_index_key)
    seen, rewritten = await user_store.rotate_keys(db, newer)
    assert seen >= 3 and rewritten >= 3
    async for doc in db.users.find({}):
        assert newer.key_id(doc["email"]) == "k-new" and newer.key_id(doc["display_name"]) == "k-new"
    for person in people:  # log-in (blind index) and reading the profile still work
        assert (await user_store.find_by_email(db, newer, person.email))["user_id"] == person.user_id
    back = FieldCipher({"k-new": b"\x01" * 32, **secrets.data_keys}, old.current, secrets.blind_index_key)
    await user_store.rotate_keys(db, back)  # back under the app's key for the other tests


async def test_the_eleventh_wrong_password_in_a_minute_gets_429(http: httpx.AsyncClient) -> None:
    person = await register(http)
    answers = [(await login(http, person.email, "wrong password!")) for _ in range(11)]
    assert [a.status_code for a in answers[:10]] == [401] * 10
    assert answers[10].status_code == 429 and int(answers[10].headers["Retry-After"]) >= 1
    assert answers[10].json()["error"]["code"] == "rate_limited"
    assert (await login(http, person.email)).status_code == 429  # the right password waits too


async def test_a_refresh_token_used_twice_revokes_its_family(http: httpx.AsyncClient) -> None:
    person = await register(http)
    first = await http.post("/api/auth/refresh", json={"refresh_token": person.refresh})
    assert first.status_code == 200
    renewed = first.json()
    http.cookies.clear()
    replayed = await http.post("/api/auth/refresh", json={"refresh_token": person.refresh})
    assert replayed.status_code == 401
    http.cookies.clear()
    # the thief's replay ends the family: the legitimate newer tokens stop working too
    assert (await http.post("/api/auth/refresh", json={"refresh_token": renewed["refresh_token"]})).status_code == 401
    http.cookies.clear()
    me = await http.get("/api/me", headers={"Authorization": f"Bearer {renewed['access_token']}"})
    assert me.status_code == 401


@pytest.mark.parametrize(("path", "body"), [
    ("/api/auth/login", {"email": {"$gt": ""}, "password": "x"}),
    ("/api/auth/login", {"email": "a@b.org", "password": {"$gt": ""}}),
    ("/api/auth/register", {"email": "a@b.org", "password": {"$ne": None}, "display_name": "x"}),
    ("/api/auth/register", {"email": "a@b.org", "password": "long enough pw", "display_name": {"$gt": ""}}),
    ("/api/events/ratings", {"movie_id": {"$gt": ""}, "rating": 4}),
    ("/api/events/ratings", {"movie_id": 1, "rating": {"$gt": ""}}),
    ("/api/events/ratings", {"movie_id": 1, "rating": 4, "user_id": 2}),  # no one else's id, ever
    ("/api/me", {"display_name": {"$gt": ""}}),
])
async def test_an_operator_or_an_unknown_field_gets_422(http: httpx.AsyncClient, path: str, body: dict) -> None:
    person = await register(http)
    method = "PATCH" if path == "/api/me" else "POST"
    response = await http.request(method, path, json=body, headers=person.auth)
    assert response.status_code == 422, response.text
    error = response.json()["error"]
    assert error["code"] == "invalid" and isinstance(error["details"], list)


async def test_an_event_for_a_movie_not_in_the_catalogue_is_refused(http: httpx.AsyncClient) -> None:
    person = await register(http)
    response = await http.post("/api/events/ratings", json={"movie_id": 2_023_243_501, "rating": 4.5},
                               headers=person.auth)
    assert response.status_code == 422 and "not in the catalogue" in response.json()["error"]["message"]
    ok = await http.post("/api/events/ratings", json={"movie_id": ALIEN, "rating": 4.5}, headers=person.auth)
    assert ok.status_code == 202, ok.text


async def test_cookie_sessions_need_the_csrf_token_on_writes(http: httpx.AsyncClient) -> None:
    person = await register(http)
    await http.post("/api/auth/login", json={"email": person.email, "password": PASSWORD})
    assert (await http.get("/api/me")).status_code == 200  # reads need only the cookie
    refused = await http.post("/api/events/ratings", json={"movie_id": ALIEN, "rating": 4})
    assert refused.status_code == 403 and "CSRF" in refused.json()["error"]["message"]
    accepted = await http.post("/api/events/ratings", json={"movie_id": ALIEN, "rating": 4},
                               headers={"X-CSRF-Token": http.cookies[CSRF_COOKIE]})
    assert accepted.status_code == 202
    http.cookies.clear()


async def test_a_service_batch_answers_per_event_and_is_idempotent(http: httpx.AsyncClient) -> None:
    made = await accounts.create_service_key(http.app.state.db, "platform", ["events:write"], "test")  # type: ignore[attr-defined]
    auth = {"Authorization": f"Bearer {made['key']}"}
    now = time.time()
    events = [{"event_id": "e1", "type": "rating", "user_id": 42, "movie_id": ALIEN, "rating": 4.0, "timestamp": now},
              {"event_id": "e2", "type": "watch", "user_id": 42, "movie_id": ALIEN, "seconds_watched": 60.0,
               "timestamp": now},
              {"event_id": "e3", "type": "rating", "user_id": 42, "movie_id": 0, "rating": 4.0, "timestamp": now},
              {"event_id": "e4", "type": "rating", "user_id": 42, "movie_id": ALIEN, "rating": 4.0,
               "timestamp": -3.9e165},
              {"event_id": "e5", "type": "rating", "user_id": 42, "movie_id": ALIEN, "rating": 4.0,
               "timestamp": False}]
    first = await http.post("/api/events/batch", json={"events": [*events, events[0]]}, headers=auth)
    assert first.status_code == 200, first.text
    body = first.json()
    assert [r["status"] for r in body["results"]] == ["accepted", "accepted", "rejected", "rejected", "rejected",
                                                      "duplicate"]
    assert "catalogue" in body["results"][2]["reason"] and "timestamp" in body["results"][3]["reason"]
    assert body["results"][4]["reason"].startswith("timestamp: Input should be a valid number")
    assert (body["accepted"], body["duplicates"], body["rejected"]) == (2, 1, 3)
    again = (await http.post("/api/events/batch", json={"events": events[:2]}, headers=auth)).json()
    assert [r["status"] for r in again["results"]] == ["duplicate", "duplicate"]
    too_many = [{**events[0], "event_id": f"x{i}"} for i in range(1001)]
    assert (await http.post("/api/events/batch", json={"events": too_many}, headers=auth)).status_code == 422
    assert await accounts.revoke_service_key(http.app.state.db, made["key_id"], "test")  # type: ignore[attr-defined]
    http.app.state.key_cache.clear()  # type: ignore[attr-defined]  # (else: within 10 s)
    assert (await http.post("/api/events/batch", json={"events": events[:1]}, headers=auth)).status_code == 401


async def test_a_deleted_account_leaves_nothing_and_cannot_log_in(http: httpx.AsyncClient,
                                                                   redis_db: aioredis.Redis) -> None:
    person = await register(http)
    db = http.app.state.db  # type: ignore[attr-defined]
    await db.events.insert_one({"_id": f"test-{person.user_id}", "user_id": person.user_id, "movie_id": ALIEN})
    for key in erasure.user_keys(person.user_id):  # as the workers would have written them
        await redis_db.set(key, b"x")
    assert (await http.post("/api/me/export", headers=person.auth)).status_code == 202
    refused = await http.request("DELETE", "/api/me", json={"password": "not it at all"}, headers=person.auth)
    assert refused.status_code == 403
    gone = await http.request("DELETE", "/api/me", json={"password": PASSWORD}, headers=person.auth)
    assert gone.status_code == 204
    for key in await redis_db.keys("*"):
        assert str(person.user_id).encode() not in key, key
    await asyncio.sleep(0.5)  # the export being prepared when the account went writes nothing
    for name in ("users", "user_emails", "refresh_tokens", "events", "exports"):
        async for doc in db[name].find({}):
            assert person.user_id not in (doc.get("user_id"), doc.get("_id")) and str(person.user_id) != doc["_id"]
    assert (await login(http, person.email)).status_code == 401
    assert (await http.get("/api/me", headers=person.auth)).status_code == 401
    admin = await make_admin(http)
    cold = (await http.get(f"/api/users/{person.user_id}/recommendations", headers=admin.auth)).json()
    assert cold["model"] == "trending (cold start)"


async def test_an_export_is_prepared_in_the_background_sealed_at_rest_and_expires(http: httpx.AsyncClient) -> None:
    person, other = await register(http), await register(http, "Grace")
    db = http.app.state.db  # type: ignore[attr-defined]
    await db.events.insert_one({  # one archived message holding both people's events, as the history agent writes
        "_id": f"export-{person.user_id}", "partition": 0, "offset": 0, "n": 2, "event_id": ["a", "b"],
        "type": ["rating", "rating"], "user_id": [person.user_id, other.user_id], "movie_id": [ALIEN, 1],
        "timestamp": [1.0, 2.0], "source": ["web", "web"], "rating": [5.0, 1.0],
        "seconds_watched": [None, None], "completed": [None, None]})
    assert (await http.get("/api/me/export", headers=person.auth)).status_code == 404
    asked = await http.post("/api/me/export", headers=person.auth)
    assert asked.status_code == 202 and asked.headers["location"] == "/api/me/export", asked.text
    assert asked.json()["state"] == "preparing"
    again = await http.post("/api/me/export", headers=person.auth)  # while it is prepared: the same request
    assert again.json()["requested"] == asked.json()["requested"]
    deadline, state = time.monotonic() + 30, asked.json()
    while state["state"] == "preparing" and time.monotonic() < deadline:
        await asyncio.sleep(0.2)
        state = (await http.get("/api/me/export", headers=person.auth)).json()
    assert state["state"] == "ready" and state["expires"], state
    got = await http.get(state["file"], headers=person.auth)
    assert got.status_code == 200 and "attachment" in got.headers["content-disposition"]
    body = got.json()
    assert body["profile"]["email"] == person.email
    assert [(r["movie_id"], r["rating"]) for r in body["ratings"]] == [(ALIEN, 5.0)]  # not the other person's
    stored = await db.exports.find_one({"_id": str(person.user_id)})
    assert person.email not in str(stored)  # sealed like the account's own fields
    assert http.app.state.cipher.decrypt("export", stored["file"]) == got.text  # type: ignore[attr-defined]
    assert (await http.get("/api/me/export/file", headers=other.auth)).status_code == 404  # theirs only
    later = dt.datetime.now(dt.UTC) + export_store.KEEP + dt.timedelta(seconds=1)
    assert await export_store.status(db, person.user_id, later) is None
    assert await db.exports.find_one({"_id": str(person.user_id)}) is None
    assert (await http.get("/api/me/export/file", headers=person.auth)).status_code == 404


async def test_every_answer_carries_the_security_headers(http: httpx.AsyncClient) -> None:
    for path in ("/", "/api/trending", "/openapi.json", "/api/me"):
        headers = (await http.get(path)).headers
        csp = headers["content-security-policy"]
        assert "unsafe-inline" not in csp and "frame-ancestors 'none'" in csp and "script-src 'self'" in csp
        assert headers["x-content-type-options"] == "nosniff" and headers["referrer-policy"]
        assert "strict-transport-security" not in headers  # plain HTTP: HSTS only under TLS
    assert (await http.get("/docs")).status_code == 404  # no CDN-loaded docs page


async def test_metrics_count_requests_by_route(http: httpx.AsyncClient) -> None:
    await http.get("/api/trending")
    body = (await http.get("/metrics")).text
    assert 'cinestream_http_requests_total{method="GET",route="/api/trending",status="200"}' in body


def _ratings(n: int, tag: str) -> dict[str, object]:
    return {"events": [{"event_id": f"{tag}-{i}", "type": "rating", "user_id": 7, "movie_id": 1, "rating": 4.0,
                        "timestamp": time.time()} for i in range(n)]}


async def test_a_service_key_gets_the_event_quota_it_was_created_with_and_429_beyond(http: httpx.AsyncClient) -> None:
    db = http.app.state.db  # type: ignore[attr-defined]
    with pytest.raises(accounts.AccountError):
        await accounts.create_service_key(db, "none at all", ["events:write"], "test", events_per_second=0)
    platform = await accounts.create_service_key(db, "large platform", ["events:write"], "test")
    as_platform = {"Authorization": f"Bearer {platform['key']}"}
    # the deployment's default is a platform's: 2,000 events in a second pass (the topics made here too)
    for part in range(2):
        answer = await http.post("/api/events/batch", json=_ratings(1000, f"big{part}"), headers=as_platform)
        assert answer.status_code == 200 and answer.json()["accepted"] == 1000, answer.text
    small = await accounts.create_service_key(db, "small platform", ["events:write"], "test", events_per_second=40)
    as_small = {"Authorization": f"Bearer {small['key']}"}
    within = await http.post("/api/events/batch", json=_ratings(40, "small"), headers=as_small)
    beyond = await http.post("/api/events/batch", json=_ratings(1, "over"), headers=as_small)
    assert within.status_code == 200 and within.json()["accepted"] == 40, within.text
    assert beyond.status_code == 429 and int(beyond.headers["Retry-After"]) >= 1, beyond.text
    # the quota is the key's: the large platform is still served meanwhile
    assert (await http.post("/api/events/batch", json=_ratings(1, "still"), headers=as_platform)).status_code == 200


async def test_scopes_and_roles_are_what_the_schema_names(http: httpx.AsyncClient) -> None:
    """The schema's enums are the checks: a value it names is granted, any other is a 422 before any write."""
    admin = await make_admin(http)
    as_admin = {"Authorization": f"Bearer {admin.token}"}
    spec = (await http.get("/openapi.json")).json()["components"]["schemas"]
    scopes = spec["KeyIn"]["properties"]["scopes"]["items"]["enum"]
    roles = spec["RolesIn"]["properties"]["roles"]["items"]["enum"]
    assert scopes == ["events:write", "recommendations:read", "history:read", "catalogue:write"]
    assert roles == ["user", "admin"]
    made = await http.post("/api/admin/keys", json={"name": "every scope", "scopes": scopes}, headers=as_admin)
    assert made.status_code == 201 and made.json()["scopes"] == sorted(scopes), made.text
    person = await register(http, "Edsger")
    for asked, granted in ((["admin"], ["admin", "user"]), (["user"], ["user"])):  # 'user' is always kept
        answer = await http.put(f"/api/admin/users/{person.user_id}/roles", json={"roles": asked}, headers=as_admin)
        assert answer.status_code == 200 and answer.json()["roles"] == granted, answer.text
    for path, method, body in (("/api/admin/keys", "POST", {"name": "bad", "scopes": [""]}),
                               (f"/api/admin/users/{person.user_id}/roles", "PUT", {"roles": ["root"]})):
        refused = await http.request(method, path, json=body, headers=as_admin)
        assert refused.status_code == 422, refused.text
