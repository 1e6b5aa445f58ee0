"""The signed-in person's own data: profile, history, recommendations, export, deletion.

No user id in any path or body: the token says whose data it is.
"""

from __future__ import annotations

import datetime as dt
import json
import time
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, HTTPException, Path, Query, Request, Response
from fastapi.responses import StreamingResponse
from pydantic import BaseModel, Field

from api.deps import DbDep, ModelsDep, ProducerDep, RedisDep, SearchDep, SettingsDep
from api.errors import documented
from api.fields import Body
from api.security import passwords
from api.security.policy import PERSON, Principal
from api.services import exports
from api.services.experiments import served_list
from api.services.intake import send_erasure
from api.services.lists import history_of
from api.services.sessions import address, cipher_of, end_all_sessions, end_cookies
from contracts.events import MAX_MOVIE_ID
from storage import erasure, export_store, live_model_store, recent_history, user_store

router = APIRouter(prefix="/api/me", tags=["me"])


class ProfileUpdate(Body):
    display_name: str | None = Field(None, min_length=1, max_length=80)
    favourite_genres: list[Annotated[str, Field(min_length=1, max_length=40)]] | None = Field(None, max_length=20)


class Deletion(Body):
    password: str = Field(min_length=1, max_length=128)


async def _account(db: Any, who: Principal) -> dict[str, Any]:
    user = await user_store.get_user(db, who.user_id or 0)
    if user is None:
        raise HTTPException(404, "this account no longer exists")
    return user


@router.get("", responses=documented(404))
async def profile(request: Request, db: DbDep, who: Annotated[Principal, Depends(PERSON)]) -> dict[str, Any]:
    return user_store.readable(cipher_of(request), await _account(db, who))


@router.patch("", responses=documented(404, 422))
async def update_profile(body: ProfileUpdate, request: Request, db: DbDep, redis: RedisDep,
                         who: Annotated[Principal, Depends(PERSON)]) -> dict[str, Any]:
    user = await _account(db, who)
    fields: dict[str, Any] = {}
    if body.display_name is not None:
        fields["display_name"] = cipher_of(request).encrypt("display_name", body.display_name)
    if body.favourite_genres is not None:
        fields["favourite_genres"] = sorted(set(body.favourite_genres))
    if fields:
        await user_store.update_user(db, user["user_id"], fields)
    if body.favourite_genres is not None:  # the live ranker reads them from Redis, never from MongoDB
        await live_model_store.set_genres(redis, user["user_id"], fields["favourite_genres"])
    return user_store.readable(cipher_of(request), await _account(db, who))


@router.get("/history", responses=documented(422))
async def my_history(db: DbDep, index: SearchDep, redis: RedisDep, who: Annotated[Principal, Depends(PERSON)],
                     limit: int = Query(50, ge=1, le=recent_history.KEEP)) -> dict[str, Any]:
    return await history_of(who.user_id or 0, (index, db), redis, limit)


@router.get("/recommendations", responses=documented(422))
async def my_recommendations(db: DbDep, index: SearchDep, models: ModelsDep, redis: RedisDep, producer: ProducerDep,
                             settings: SettingsDep, who: Annotated[Principal, Depends(PERSON)],
                             k: int = Query(10, ge=1, le=100)) -> dict[str, Any]:
    """Your list, as ``GET /api/users/{user_id}/recommendations`` gives it."""
    return await served_list(who.user_id or 0, (index, db), models, redis, producer, settings, k)


@router.get("/movies/{movie_id}", responses=documented(422))
async def my_movie(movie_id: Annotated[int, Path(ge=0, le=MAX_MOVIE_ID)], redis: RedisDep,
                   who: Annotated[Principal, Depends(PERSON)]) -> dict[str, Any]:
    """Your rating of the movie (or null) and whether you watched it, as the stream has learned them."""
    return await recent_history.about_movie(redis, who.user_id or 0, movie_id)


HEARTBEAT_S = 15.0  # proxies close connections idle for a minute or so; a comment line keeps them open
#: a stream ends after this long and the browser reconnects, showing its credentials again: a session
#: logged out or revoked meanwhile stops receiving within this bound
LIVE_MAX_S = 300.0


@router.get("/live", response_class=StreamingResponse, responses={
    200: {"description": "server-sent events: `recommendations`, the same body as GET /api/me/recommendations, "
                         "at once and again each time the stream has learned a new rating of yours",
          "content": {"text/event-stream": {}}}, **documented(422)})
async def live(request: Request, db: DbDep, index: SearchDep, models: ModelsDep, redis: RedisDep,
               producer: ProducerDep, settings: SettingsDep, who: Annotated[Principal, Depends(PERSON)],
               k: int = Query(10, ge=1, le=100)) -> StreamingResponse:
    """Your recommendations, pushed: the open page changes within a poll (0.1 s) of the worker
    applying your rating, without asking (``storage.rating_watch``)."""
    user = who.user_id or 0

    async def current() -> str:
        body = await served_list(user, (index, db), models, redis, producer, settings, k)
        return f"event: recommendations\ndata: {json.dumps(body)}\n\n"

    async def events() -> Any:
        ends = time.monotonic() + LIVE_MAX_S
        yield "retry: 1000\n" + await current()  # the browser reconnects a second after the stream ends
        async for changed in models.watch.changes(user, HEARTBEAT_S):
            if time.monotonic() > ends or await request.is_disconnected():
                return
            yield await current() if changed else ": still here\n\n"

    return StreamingResponse(events(), media_type="text/event-stream",
                             headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"})


class ExportStatus(BaseModel):
    """Where the person's export stands; ``file`` is where the ready file is fetched."""

    state: Literal["preparing", "ready", "failed"]
    requested: dt.datetime
    ready: dt.datetime | None = None
    expires: dt.datetime | None = None
    reason: str | None = None
    file: str = "/api/me/export/file"


def _status(export: export_store.Export) -> ExportStatus:
    return ExportStatus(state=export.state, requested=export.requested, ready=export.ready,
                        expires=export.expires, reason=export.reason)


@router.post("/export", status_code=202, responses=documented(404))
async def request_export(request: Request, response: Response, db: DbDep,
                         who: Annotated[Principal, Depends(PERSON)]) -> ExportStatus:
    """Ask for everything kept about you as a JSON file: profile, ratings and watches. It is prepared
    in the background (it reads the whole event archive); poll ``GET /api/me/export`` until it is ready."""
    user = await _account(db, who)
    export = await exports.request_export(db, cipher_of(request), user["user_id"])
    await user_store.audit(db, "export-requested", who.actor, address=address(request))
    response.headers["Location"] = "/api/me/export"
    response.headers["Retry-After"] = "2"
    return _status(export)


@router.get("/export", responses=documented(404))
async def export_status(db: DbDep, who: Annotated[Principal, Depends(PERSON)]) -> ExportStatus:
    """Whether your export is being prepared, ready (until ``expires``) or failed (ask again)."""
    export = await export_store.status(db, who.user_id or 0, dt.datetime.now(dt.UTC))
    if export is None:
        raise HTTPException(404, "no export requested (POST /api/me/export), or it expired")
    return _status(export)


@router.get("/export/file", responses={200: {"content": {"application/json": {}},
                                            "description": "the export, as an attachment"},
                                       **documented(404)})
async def export_file(request: Request, db: DbDep, who: Annotated[Principal, Depends(PERSON)]) -> Response:
    """Your ready export as a JSON file."""
    file = await export_store.file(db, cipher_of(request), who.user_id or 0, dt.datetime.now(dt.UTC))
    if file is None:
        raise HTTPException(404, "no export is ready: see GET /api/me/export")
    await user_store.audit(db, "export", who.actor, address=address(request))
    return Response(file, media_type="application/json",
                    headers={"Content-Disposition": 'attachment; filename="cinestream-export.json"'})


@router.delete("", status_code=204, responses=documented(404, 422, 503))
async def delete_account(body: Deletion, request: Request, response: Response, db: DbDep, redis: RedisDep,
                         producer: ProducerDep, settings: SettingsDep,
                         who: Annotated[Principal, Depends(PERSON)]) -> Response:
    """Delete your account and what MongoDB and Redis hold about you (password required); an erasure
    event through Kafka makes every stream worker forget you too."""
    user = await _account(db, who)
    if not await passwords.verify_password(user["password_hash"], body.password):
        raise HTTPException(403, "wrong password")
    await send_erasure(producer, settings, user["user_id"])  # first: if Kafka is down, nothing is deleted
    await end_all_sessions(db, redis, settings.access_token_minutes, user["user_id"])
    await user_store.delete_user(db, user["user_id"])
    await erasure.forget_users(redis, [user["user_id"]])
    await user_store.audit(db, "delete-account", who.actor, address=address(request))
    response.status_code = 204
    end_cookies(response)
    return response
