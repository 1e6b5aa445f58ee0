"""Administration: service keys (created, listed, revoked), people's roles, the stream's progress and
the model versions (listed, rolled back). Admins only."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException, Path
from pydantic import Field
from redis.exceptions import NoPermissionError

from api.deps import DbDep, ModelsDep, RedisDep, SettingsDep
from api.errors import documented
from api.fields import Body
from api.security.policy import ADMIN, ROLES, SCOPES, Principal, Role, Scope
from api.services import accounts
from contracts.events import MAX_ID, MAX_USER_ID
from storage import live_model_store, model_versions, refit_log, user_store
from streams.admin import consumer_lag

router = APIRouter(prefix="/api/admin", tags=["admin"])


class KeyIn(Body):
    name: str = Field(min_length=1, max_length=80)
    scopes: list[Scope] = Field(min_length=1, max_length=len(SCOPES))
    events_per_second: int | None = Field(default=None, ge=1, le=accounts.MAX_EVENTS_PER_SECOND,
                                          description="the key's event quota (default: the deployment's)")


class RolesIn(Body):
    roles: list[Role] = Field(min_length=1, max_length=len(ROLES), description="'user' is always granted")


@router.post("/keys", status_code=201, responses=documented(422))
async def create_key(body: KeyIn, db: DbDep, who: Annotated[Principal, Depends(ADMIN)]) -> dict[str, Any]:
    """A service key for a platform; the ``key`` is shown in this answer only."""
    try:
        return await accounts.create_service_key(db, body.name, body.scopes, who.actor, body.events_per_second)
    except accounts.AccountError as exc:
        raise HTTPException(422, str(exc)) from None


@router.get("/keys")
async def list_keys(db: DbDep, who: Annotated[Principal, Depends(ADMIN)]) -> dict[str, Any]:
    keys = await user_store.list_keys(db)
    return {"keys": [{**k, "key_id": k.pop("_id")} for k in keys]}


@router.delete("/keys/{key_id}", status_code=204, responses=documented(404, 422))
async def revoke_key(key_id: Annotated[str, Path(min_length=1, max_length=40, pattern=r"^[0-9a-f]+$")], db: DbDep,
                     who: Annotated[Principal, Depends(ADMIN)]) -> None:
    if not await accounts.revoke_service_key(db, key_id, who.actor):
        raise HTTPException(404, f"no active key {key_id}")


@router.put("/users/{user_id}/roles", responses=documented(404, 422))
async def set_roles(user_id: Annotated[int, Path(ge=0, le=MAX_USER_ID)], body: RolesIn, db: DbDep,
                    who: Annotated[Principal, Depends(ADMIN)]) -> dict[str, Any]:
    try:
        await accounts.set_roles(db, user_id, body.roles, who.actor)
    except accounts.AccountError as exc:
        raise HTTPException(404 if "no account" in str(exc) else 422, str(exc)) from None
    return {"user_id": user_id, "roles": sorted({"user", *body.roles})}


@router.get("/stream", responses=documented(503))
async def stream(models: ModelsDep, settings: SettingsDep, who: Annotated[Principal, Depends(ADMIN)]) -> dict[str, Any]:
    """How far each consumer group is behind the event topics, and how many ratings the online
    model has learned (a client polling this draws events/s from the count's change)."""
    try:
        lag = await consumer_lag(settings, [settings.topic_ratings, settings.topic_watches])
    except Exception as exc:  # the broker is down: say so, the rest of the page still works
        raise HTTPException(503, f"Kafka did not answer: {type(exc).__name__}") from exc
    return {"learned": (await models.mf.prequential()).get("n", 0), "groups": lag}


@router.get("/models")
async def list_models(redis: RedisDep, who: Annotated[Principal, Depends(ADMIN)]) -> dict[str, Any]:
    """The saved model versions, newest last; ``current`` marks the one serving."""
    return {"versions": await model_versions.versions(redis)}


@router.post("/models/{version}/rollback", responses=documented(403, 404, 422))
async def rollback_model(version: Annotated[int, Path(ge=1, le=MAX_ID)], redis: RedisDep, db: DbDep,
                         who: Annotated[Principal, Depends(ADMIN)]) -> dict[str, Any]:
    """Serve a saved version again; the API processes reload their item factors at once. With Redis
    ACL users the API may not rewrite the model (storage/redis_acl.py): 403, roll back from the CLI."""
    try:
        meta = await model_versions.rollback(redis, version)
    except KeyError as exc:
        raise HTTPException(404, f"no model version {version}") from exc
    except NoPermissionError as exc:
        raise HTTPException(403, "this API's Redis user may not rewrite the model: "
                                 f"run `cinestream model rollback {version}`") from exc
    await user_store.audit(db, "model-rollback", who.actor, subject=version)
    return {"version": version, **meta}


@router.get("/rankers")
async def list_rankers(redis: RedisDep, settings: SettingsDep,
                       who: Annotated[Principal, Depends(ADMIN)]) -> dict[str, Any]:
    """The ranker every list is served by: its kept versions (newest first, ``live`` marks the one
    serving), the scheduler's settings and last runs (trigger, data size, the candidate's and the live
    version's figures on the newest ratings, the decision and why)."""
    return {"versions": await live_model_store.versions(redis), "runs": await refit_log.runs(redis),
            "last": await refit_log.last(redis), "signals": await refit_log.signals(redis),
            "schedule": {"every_s": settings.refit_every_s, "after_events": settings.refit_after_events,
                         "on_drift": settings.refit_on_drift, "check_s": settings.refit_check_s,
                         "holdout": settings.refit_holdout, "margin": settings.refit_margin}}


@router.post("/rankers/{version}/promote", status_code=202, responses=documented(404, 422))
async def promote_ranker(version: Annotated[int, Path(ge=1, le=MAX_ID)], redis: RedisDep, db: DbDep,
                         who: Annotated[Principal, Depends(ADMIN)], force: bool = False) -> dict[str, Any]:
    """Ask the scheduler to make a kept version live: it judges the version against the live one on the
    newest ratings, as it judges every refit, and records its decision in ``runs``; ``force`` makes it
    live past the gate (audited)."""
    if not await live_model_store.is_kept(redis, version):
        raise HTTPException(404, f"no ranker version {version}")
    await refit_log.ask_promotion(redis, version, who.actor, force)
    await user_store.audit(db, "ranker-promotion" + (" (forced)" if force else ""), who.actor, subject=version)
    return {"version": version, "force": force, "status": "asked: the scheduler judges it at its next check"}
