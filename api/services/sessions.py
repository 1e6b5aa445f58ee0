"""Sessions: tokens and cookies opened at log-in, ended at log-out, password change and deletion.

A short-lived access token and a rotating refresh token of one family. Browsers get both as HttpOnly
SameSite=Lax cookies (Secure under TLS) plus a readable ``cs_csrf`` cookie to echo in
``X-CSRF-Token``; API clients read them from the body. Ending a family revokes its refresh tokens in
MongoDB and its access tokens in Redis until they would have expired anyway.
"""

from __future__ import annotations

import datetime as dt
import secrets
from typing import Any

from fastapi import Request, Response
from pydantic import BaseModel

from api.security import tokens
from api.security.policy import ACCESS_COOKIE, CSRF_COOKIE, REFRESH_COOKIE
from storage import revocations, user_store
from storage.field_crypto import FieldCipher


class Session(BaseModel):
    user_id: int
    access_token: str
    refresh_token: str
    token_type: str = "bearer"
    expires_in: int
    csrf_token: str


def address(request: Request) -> str:
    return request.client.host if request.client else "unknown"


async def open_session(request: Request, response: Response, user: dict[str, Any],
                       family: str | None = None) -> Session:
    """New access + refresh tokens (a new family unless continuing one), as body and cookies."""
    state, settings = request.app.state, request.app.state.settings
    family = family or tokens.new_family()
    access = tokens.access_token(state.secrets.jwt_secret, user["user_id"], user["roles"], family,
                                 settings.access_token_minutes)
    refresh = tokens.new_refresh_token()
    expires = dt.datetime.now(dt.UTC) + dt.timedelta(days=settings.refresh_token_days)
    await user_store.store_refresh(state.db, tokens.digest(refresh), user["user_id"], family, expires)
    csrf = secrets.token_urlsafe(24)
    secure = request.url.scheme == "https"
    minutes = settings.access_token_minutes
    response.set_cookie(ACCESS_COOKIE, access, max_age=minutes * 60, httponly=True, samesite="lax", secure=secure)
    response.set_cookie(REFRESH_COOKIE, refresh, max_age=settings.refresh_token_days * 86400, httponly=True,
                        samesite="lax", secure=secure, path="/api/auth")
    response.set_cookie(CSRF_COOKIE, csrf, max_age=settings.refresh_token_days * 86400, samesite="lax",
                        secure=secure)
    return Session(user_id=user["user_id"], access_token=access, refresh_token=refresh, expires_in=minutes * 60,
                   csrf_token=csrf)


def end_cookies(response: Response) -> None:
    response.delete_cookie(ACCESS_COOKIE)
    response.delete_cookie(REFRESH_COOKIE, path="/api/auth")
    response.delete_cookie(CSRF_COOKIE)


def cipher_of(request: Request) -> FieldCipher:
    return request.app.state.cipher


async def end_family(db: Any, redis: Any, access_minutes: int, family: str) -> None:
    await user_store.revoke_family(db, family)
    await revocations.revoke(redis, family, access_minutes * 60 + 60)


async def end_all_sessions(db: Any, redis: Any, access_minutes: int, user_id: int) -> None:
    """Every session of the person ends (password change, deletion)."""
    for family in await user_store.families(db, user_id):
        await end_family(db, redis, access_minutes, family)
