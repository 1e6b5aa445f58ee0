"""Who may call a route, declared beside it: ``who: Annotated[Principal, Depends(OWNER)]``.

Each policy is a dependency that resolves the caller (:func:`resolve`) and refuses with 401 (no or
bad credentials) or 403 (known caller, not allowed). Its statuses are added to the route's OpenAPI by
:func:`document_policies`, and ``tests/integration/test_route_policies.py`` fails on any route without one.

Callers: a person (JWT access token in ``Authorization: Bearer`` or the HttpOnly ``cs_access`` cookie;
a cookie caller must echo the ``cs_csrf`` cookie in ``X-CSRF-Token`` on unsafe methods), a service
(``Authorization: Bearer csk_…``, scoped), or anonymous.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass, field
from typing import Any, Literal, get_args

from fastapi import APIRouter, HTTPException, Request
from fastapi.routing import APIRoute

from api.errors import documented
from api.security import tokens
from storage import revocations, user_store

SAFE_METHODS = {"GET", "HEAD", "OPTIONS"}
ACCESS_COOKIE, REFRESH_COOKIE, CSRF_COOKIE, CSRF_HEADER = "cs_access", "cs_refresh", "cs_csrf", "x-csrf-token"
# What a service key may be granted and what a person may be: the request models' enums and the checks
# in ``api.services.accounts`` are both these.
Scope = Literal["events:write", "recommendations:read", "history:read", "catalogue:write"]
SCOPES: tuple[str, ...] = get_args(Scope)
Role = Literal["user", "admin"]
ROLES: tuple[str, ...] = get_args(Role)
KEY_CACHE_S = 10.0  # a revoked service key stops working within about this many seconds in every API process


@dataclass(frozen=True)
class Principal:
    kind: Literal["anonymous", "user", "service"]
    user_id: int | None = None
    roles: frozenset[str] = frozenset()
    scopes: frozenset[str] = frozenset()
    key_id: str | None = None
    family: str | None = None
    events_per_second: int | None = None  # a service key's own event quota (None: the deployment's)

    @property
    def is_admin(self) -> bool:
        return "admin" in self.roles

    @property
    def actor(self) -> str:
        return f"user:{self.user_id}" if self.kind == "user" else f"key:{self.key_id}" if self.key_id else "anonymous"


ANONYMOUS = Principal("anonymous")


def _unauthenticated(message: str) -> HTTPException:
    return HTTPException(401, message, headers={"WWW-Authenticate": "Bearer"})


async def _key_document(state: Any, key_id: str) -> dict[str, Any] | None:
    """The key's stored document from this process' cache. A stale entry is still used while one
    task reloads it, and a missing one is loaded once however many requests ask at the same moment:
    a cache that expired for every request at once sent hundreds of reads to MongoDB together."""
    cache: dict[str, tuple[float, dict[str, Any] | None]] = state.key_cache
    loads: dict[str, asyncio.Task[dict[str, Any] | None]] = state.key_loads

    def load() -> asyncio.Task[dict[str, Any] | None]:
        if key_id not in loads:
            async def read() -> dict[str, Any] | None:
                try:
                    doc = await user_store.get_key(state.db, key_id)
                    cache[key_id] = (time.monotonic(), doc)
                    return doc
                finally:
                    loads.pop(key_id, None)
            loads[key_id] = asyncio.create_task(read())
        return loads[key_id]

    hit = cache.get(key_id)
    if hit is None:
        return await asyncio.shield(load())
    if time.monotonic() - hit[0] > KEY_CACHE_S:
        load()  # in the background: this request uses what the cache holds
    return hit[1]


async def _service(request: Request, key: str) -> Principal:
    parts = tokens.split_service_key(key)
    if parts is None:
        raise _unauthenticated("malformed service key")
    key_id, secret = parts
    doc = await _key_document(request.app.state, key_id)
    if doc is None or doc.get("revoked") or not tokens.secret_matches(secret, doc["hash"]):
        raise _unauthenticated("unknown or revoked service key")
    return Principal("service", roles=frozenset({"service"}), scopes=frozenset(doc["scopes"]), key_id=key_id,
                     events_per_second=doc.get("events_per_second"))


async def resolve(request: Request) -> Principal:
    """The caller, from the Authorization header or the session cookie (cached on the request)."""
    if (known := getattr(request.state, "principal", None)) is not None:
        return known
    header = request.headers.get("authorization", "")
    scheme, _, credential = header.partition(" ")
    from_cookie = False
    if header and scheme.lower() != "bearer":
        raise _unauthenticated("use 'Authorization: Bearer <token or service key>'")
    if not credential:
        credential = request.cookies.get(ACCESS_COOKIE, "")
        from_cookie = bool(credential)
    if not credential:
        principal = ANONYMOUS
    elif credential.startswith(tokens.KEY_PREFIX):
        principal = await _service(request, credential)
    else:
        claims = tokens.read_access_token(request.app.state.secrets.jwt_secret, credential)
        if claims is None:
            raise _unauthenticated("expired or invalid access token: refresh it or log in again")
        if await revocations.is_revoked(request.app.state.redis, claims.get("fam", "")):
            raise _unauthenticated("this session has ended: log in again")
        if from_cookie and request.method not in SAFE_METHODS:
            sent, expected = request.headers.get(CSRF_HEADER), request.cookies.get(CSRF_COOKIE)
            if not sent or sent != expected:
                raise HTTPException(403, "missing or wrong X-CSRF-Token header (it must echo the cs_csrf cookie)")
        principal = Principal("user", user_id=int(claims["sub"]), roles=frozenset(claims.get("roles", [])),
                              family=claims.get("fam"))
    request.state.principal = principal
    return principal


@dataclass(frozen=True)
class Policy:
    """Who may call: ``persons`` (any signed-in person), ``owner`` (the person whose ``user_id`` is in
    the path), ``admin``, ``scope`` (a service key holding it). ``public`` lets everyone in."""

    name: str
    public: bool = False
    persons: bool = False
    owner: bool = False
    admin: bool = True
    scope: str | None = None
    statuses: tuple[int, ...] = field(default=(401, 403))
    lenient: bool = False  # bad credentials make an anonymous caller instead of a 401 (the web app's pages)

    async def __call__(self, request: Request) -> Principal:
        try:
            principal = await resolve(request)
        except HTTPException:
            if not self.lenient:
                raise
            return ANONYMOUS
        if self.public:
            return principal
        if principal.kind == "anonymous":
            raise _unauthenticated("log in, or send a service key")
        if self.admin and principal.is_admin:
            return principal
        if principal.kind == "user" and self.persons:
            return principal
        if principal.kind == "user" and self.owner and str(principal.user_id) == request.path_params.get("user_id"):
            return principal
        if principal.kind == "service" and self.scope is not None and self.scope in principal.scopes:
            return principal
        raise HTTPException(403, f"not allowed: this route is for {self.name}")


PUBLIC = Policy("everyone", public=True, statuses=(401,))
#: the web app's pages: shells anyone may load, whose data comes from the API as the signed-in person;
#: an expired session cookie must still get the page (its script refreshes the session), never a 401
PAGE = Policy("everyone (the page's data comes from the API)", public=True, statuses=(), lenient=True)
PERSON = Policy("signed-in people", persons=True, admin=True)
ADMIN = Policy("admins")
OWNER_OR_READER = Policy("the person themself, admins, and services with recommendations:read", owner=True,
                         scope="recommendations:read")
OWNER_OR_HISTORY = Policy("the person themself, admins, and services with history:read", owner=True,
                          scope="history:read")
EVENT_WRITER = Policy("services with events:write", admin=False, scope="events:write")
CATALOGUE_WRITER = Policy("admins and services with catalogue:write", scope="catalogue:write")


def policy_of(route: APIRoute) -> Policy | None:
    """The policy a route declared (a dependency anywhere in its tree), or None."""
    stack = list(route.dependant.dependencies)
    while stack:
        dep = stack.pop()
        if isinstance(dep.call, Policy):
            return dep.call
        stack.extend(dep.dependencies)
    return None


def document_policies(router: APIRouter) -> APIRouter:
    """Add each route's policy statuses to its OpenAPI responses; call it before the router is included."""
    for route in router.routes:
        if isinstance(route, APIRoute) and (policy := policy_of(route)) is not None:
            route.responses = {**documented(*policy.statuses), **route.responses}
    return router
