"""An async client for CineStream's REST API, thin over httpx: one method per thing a platform or an
app does, each answer typed by the generated ``schema`` module where the API declares its shape.

Routes are found by their handler's name in ``schema.OPERATIONS`` (generated from the app), never by a
path typed here, so a route that moves moves the client with it. Errors arrive as ``ApiError`` with the
API's one error shape; a person's session is refreshed once, by itself, when its access token expires.
The client speaks ``Authorization: Bearer`` only and keeps no cookies: cookies are the web app's, and
with them every write would need the CSRF header too.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Mapping, Sequence
from types import TracebackType
from typing import Any, cast
from urllib.parse import urlencode

import httpx

from cinestream_client.schema import OPERATIONS, BatchOut, CatalogueAccepted, EventsAccepted, Session, TitleIn


class ApiError(Exception):
    """A 4xx or 5xx answer: ``status``, the API's ``code`` and ``message``, its ``details`` (a refused
    field's location and reason) and ``retry_after`` in seconds (429 and 503), when given."""

    def __init__(self, status: int, code: str, message: str, details: Any = None,
                 retry_after: float | None = None) -> None:
        super().__init__(f"{status} {code}: {message}")
        self.status, self.code, self.message, self.details, self.retry_after = (status, code, message, details,
                                                                                  retry_after)

    @classmethod
    def of(cls, response: httpx.Response) -> ApiError:
        try:
            error = response.json()["error"]
        except (ValueError, KeyError, TypeError):
            error = {"code": "unexpected", "message": response.text[:200]}
        after = response.headers.get("Retry-After")
        return cls(response.status_code, str(error.get("code", "")), str(error.get("message", "")),
                   error.get("details"), float(after) if after and after.replace(".", "", 1).isdigit() else None)


class Client:
    """The API at ``base_url`` as a platform (``key``: a ``csk_…`` service key) or as a person (after
    ``login`` or ``register``, or with an access token they hold: ``token``). ``http``: an httpx client
    to share (its limits, its connections; any base URL it has is not used), closed with this one."""

    def __init__(self, base_url: str, *, key: str | None = None, token: str | None = None, timeout: float = 10.0,
                 http: httpx.AsyncClient | None = None) -> None:
        self.base_url = base_url.rstrip("/")
        self._client, self._timeout = http, timeout  # made at the first request: ``url`` alone needs none
        self._bearer = key or token
        self._refresh_token: str | None = None

    async def __aenter__(self) -> Client:
        return self

    async def __aexit__(self, kind: type[BaseException] | None, error: BaseException | None,
                        trace: TracebackType | None) -> None:
        await self.aclose()

    @property
    def _http(self) -> httpx.AsyncClient:
        if self._client is None:
            self._client = httpx.AsyncClient(base_url=self.base_url, timeout=self._timeout)
        return self._client

    async def aclose(self) -> None:
        if self._client is not None:
            await self._client.aclose()

    # -- any route ---------------------------------------------------------------------------------

    def path(self, operation: str, query: Mapping[str, Any] | None = None, **path: Any) -> str:
        """The path of a route by its handler's name, with its path and query parameters filled in."""
        _, template = OPERATIONS[operation]
        filled = template.format(**path)
        return f"{filled}?{urlencode(query)}" if query else filled

    def url(self, operation: str, query: Mapping[str, Any] | None = None, **path: Any) -> str:
        """The absolute URL of a route (for load tools given URLs, such as vegeta's targets)."""
        return self.base_url + self.path(operation, query, **path)

    @property
    def headers(self) -> dict[str, str]:
        """What a request carries to authenticate (for load tools sending requests of their own)."""
        return {"Authorization": f"Bearer {self._bearer}"} if self._bearer else {}

    async def call(self, operation: str, *, body: Any = None, query: Mapping[str, Any] | None = None,
                   **path: Any) -> Any:
        """Any route by its handler's name (``schema.OPERATIONS``); the decoded answer, None for 204."""
        method, _ = OPERATIONS[operation]
        response = await self._send(method, self.path(operation, **path), body, query)
        if response.status_code == 401 and self._refresh_token and operation != "refresh":
            await self.refresh()
            response = await self._send(method, self.path(operation, **path), body, query)
        if response.status_code >= 400:
            raise ApiError.of(response)
        return None if response.status_code == 204 or not response.content else response.json()

    async def _send(self, method: str, path: str, body: Any, query: Mapping[str, Any] | None) -> httpx.Response:
        response = await self._http.request(method, self.base_url + path, json=body, params=query, headers=self.headers)
        self._http.cookies.clear()
        return response

    # -- a person's session --------------------------------------------------------------------------

    def _opened(self, session: Session) -> Session:
        self._bearer, self._refresh_token = session["access_token"], session["refresh_token"]
        return session

    async def register(self, email: str, password: str, display_name: str) -> Session:
        """A new account, signed in."""
        return self._opened(await self.call("register", body={"email": email, "password": password,
                                                              "display_name": display_name}))

    async def login(self, email: str, password: str) -> Session:
        return self._opened(await self.call("login", body={"email": email, "password": password}))

    async def refresh(self) -> Session:
        """The next access token of this session (the refresh token is spent and replaced)."""
        return self._opened(await self.call("refresh", body={"refresh_token": self._refresh_token}))

    async def logout(self) -> None:
        await self.call("logout")
        self._bearer = self._refresh_token = None

    async def delete_account(self, password: str) -> None:
        """Erase the signed-in person: their account, history and what every model learned of them."""
        await self.call("delete_account", body={"password": password})
        self._bearer = self._refresh_token = None

    # -- service keys (admins) ------------------------------------------------------------------------

    async def create_key(self, name: str, scopes: Sequence[str], events_per_second: int | None = None
                         ) -> dict[str, Any]:
        """A service key for a platform; its ``key`` is in this answer only."""
        body: dict[str, Any] = {"name": name, "scopes": list(scopes)}
        if events_per_second is not None:
            body["events_per_second"] = events_per_second
        return cast(dict[str, Any], await self.call("create_key", body=body))

    async def revoke_key(self, key_id: str) -> None:
        await self.call("revoke_key", key_id=key_id)

    # -- events -------------------------------------------------------------------------------------

    async def post_events(self, events: Sequence[Mapping[str, Any]]) -> BatchOut:
        """Up to 1,000 of a platform's events, each ``accepted``, ``duplicate`` or ``rejected`` with its
        reason (``events:write``); an event id sent again within a day is stored once."""
        return cast(BatchOut, await self.call("post_batch", body={"events": list(events)}))

    async def rate(self, movie_id: int, rating: float) -> EventsAccepted:
        """The signed-in person rates a movie (their id is their token's, the time the server's)."""
        return cast(EventsAccepted, await self.call("post_rating", body={"movie_id": movie_id, "rating": rating}))

    async def watch(self, movie_id: int, seconds_watched: int, completed: bool = False) -> EventsAccepted:
        return cast(EventsAccepted, await self.call("post_watch", body={
            "movie_id": movie_id, "seconds_watched": seconds_watched, "completed": completed}))

    # -- lists --------------------------------------------------------------------------------------

    async def recommendations(self, user_id: int, k: int = 10) -> dict[str, Any]:
        """A person's list, each film with its reason (``recommendations:read``, or the person)."""
        return cast(dict[str, Any], await self.call("recommendations", query={"k": k}, user_id=user_id))

    async def my_recommendations(self, k: int = 10) -> dict[str, Any]:
        return cast(dict[str, Any], await self.call("my_recommendations", query={"k": k}))

    async def history(self, user_id: int, limit: int = 50) -> dict[str, Any]:
        return cast(dict[str, Any], await self.call("history", query={"limit": limit}, user_id=user_id))

    async def similar(self, movie_id: int, k: int = 10) -> dict[str, Any]:
        return cast(dict[str, Any], await self.call("similar", query={"k": k}, movie_id=movie_id))

    async def trending(self, k: int = 10) -> dict[str, Any]:
        return cast(dict[str, Any], await self.call("trending", query={"k": k}))

    async def live(self, k: int = 10) -> AsyncIterator[dict[str, Any]]:
        """The signed-in person's list at once, then again each time the stream learns one of their
        ratings (server-sent events); ends when the server closes the stream."""
        async with self._http.stream("GET", self.url("live", {"k": k}), headers=self.headers,
                                     timeout=httpx.Timeout(10.0, read=None)) as response:
            if response.status_code >= 400:
                await response.aread()
                raise ApiError.of(response)
            async for line in response.aiter_lines():
                if line.startswith("data: "):
                    yield json.loads(line[6:])

    # -- the catalogue ----------------------------------------------------------------------------------

    async def movie(self, movie_id: int) -> dict[str, Any]:
        return cast(dict[str, Any], await self.call("movie", movie_id=movie_id))

    async def search(self, q: str | None = None, limit: int = 10, **filters: Any) -> list[dict[str, Any]]:
        """Movies' public pages by title, director or cast (``q``), else the most rated; ``filters``:
        ``year``, ``genre``."""
        query = {"limit": limit, **filters} | ({"q": q} if q is not None else {})
        return cast(list[dict[str, Any]], await self.call("search", query=query))

    async def put_title(self, movie_id: int, title: TitleIn) -> CatalogueAccepted:
        """Add a title or replace its record (``catalogue:write``); searchable within about a second."""
        return cast(CatalogueAccepted, await self.call("put_title", body=title, movie_id=movie_id))

    async def retire_title(self, movie_id: int) -> CatalogueAccepted:
        return cast(CatalogueAccepted, await self.call("retire_title", movie_id=movie_id))

    async def change_titles(self, changes: Sequence[Mapping[str, Any]]) -> CatalogueAccepted:
        """Up to 500 ``{"op": "upsert", "movieId": …, …}`` or ``{"op": "retire", "movieId": …}``, in order."""
        return cast(CatalogueAccepted, await self.call("post_titles", body={"titles": list(changes)}))
