"""Administration: service keys (created, listed, revoked) and people's roles. Admins only."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException, Path
from pydantic import BaseModel, ConfigDict, Field

from api.deps import DbDep
from api.errors import documented
from api.security.policy import ADMIN, Principal
from cinestream import accounts
from storage import user_store
from streams.schemas import MAX_ID

router = APIRouter(prefix="/api/admin", tags=["admin"])


class KeyIn(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)
    name: str = Field(min_length=1, max_length=80)
    scopes: list[str] = Field(min_length=1, max_length=3)


class RolesIn(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)
    roles: list[str] = Field(min_length=1, max_length=2)


@router.post("/keys", status_code=201, responses=documented(422))
async def create_key(body: KeyIn, db: DbDep, who: Annotated[Principal, Depends(ADMIN)]) -> dict[str, Any]:
    """A service key for a platform; the ``key`` is shown in this answer only."""
    try:
        return await accounts.create_service_key(db, body.name, body.scopes, who.actor)
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
async def set_roles(user_id: Annotated[int, Path(ge=0, le=MAX_ID)], body: RolesIn, db: DbDep,
                    who: Annotated[Principal, Depends(ADMIN)]) -> dict[str, Any]:
    try:
        await accounts.set_roles(db, user_id, body.roles, who.actor)
    except accounts.AccountError as exc:
        raise HTTPException(404 if "no account" in str(exc) else 422, str(exc)) from None
    return {"user_id": user_id, "roles": sorted(set(body.roles))}
