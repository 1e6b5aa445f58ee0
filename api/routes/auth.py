"""Accounts: register, log in, refresh, log out, change password.

Sessions are a short-lived access token and a rotating refresh token. Browsers get both as HttpOnly
SameSite=Lax cookies (Secure under TLS) plus a readable ``cs_csrf`` cookie to echo in
``X-CSRF-Token``; API clients read them from the body and send ``Authorization: Bearer``. Each
refresh spends its token and issues the next one of the same family; a spent token presented again
means it was stolen, so the whole family is revoked.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Cookie, Depends, HTTPException, Request, Response
from pydantic import Field

from api.deps import DbDep, RedisDep, SettingsDep
from api.errors import documented
from api.fields import Body
from api.security import passwords, tokens
from api.security.policy import PAGE, PERSON, PUBLIC, REFRESH_COOKIE, Principal
from api.security.rate import limit
from api.services.sessions import Session, address, cipher_of, end_all_sessions, end_cookies, end_family, open_session
from storage import rate_limits, user_store

router = APIRouter(prefix="/api/auth", tags=["auth"])

# local@domain.tld; whitespace spelled out, as JSON Schema's \s and Python's differ (U+0085)
EMAIL = r"^[^@ \t\r\n]{1,64}@[^@ \t\r\n]{1,189}\.[^@ \t\r\n]{1,63}$"


class Register(Body):
    email: str = Field(max_length=254, pattern=EMAIL)
    password: str = Field(min_length=10, max_length=128)
    display_name: str = Field(min_length=1, max_length=80)


class Credentials(Body):
    email: str = Field(max_length=254, pattern=EMAIL)
    password: str = Field(min_length=1, max_length=128)


class RefreshIn(Body):
    refresh_token: str | None = Field(None, min_length=20, max_length=100)


class PasswordChange(Body):
    current_password: str = Field(min_length=1, max_length=128)
    new_password: str = Field(min_length=10, max_length=128)


@router.post("/register", status_code=201, responses=documented(409, 422, 429))
async def register(body: Register, request: Request, response: Response, db: DbDep, settings: SettingsDep,
                   who: Annotated[Principal, Depends(PUBLIC)], redis: RedisDep) -> Session:
    """Create a person's account (role ``user``) and log them in."""
    await limit(redis, "register", address(request), settings.registrations_per_hour, 3600)
    user_id = await user_store.next_user_id(db, settings.first_account_id)
    try:
        user = await user_store.create_user(db, cipher_of(request), user_id, body.email, body.display_name,
                                            await passwords.hash_password(body.password), ["user"], "signup")
    except user_store.EmailTaken:
        raise HTTPException(409, "an account with this e-mail exists: log in instead") from None
    await user_store.audit(db, "register", f"user:{user_id}", address=address(request))
    return await open_session(request, response, user)


@router.post("/login", responses=documented(422, 429))
async def login(body: Credentials, request: Request, response: Response, db: DbDep, redis: RedisDep,
                settings: SettingsDep, who: Annotated[Principal, Depends(PUBLIC)]) -> Session:
    """Log in with e-mail and password. Wrong attempts are limited per account and per address."""
    cipher = cipher_of(request)
    account, where = cipher.blind_index(body.email), address(request)
    per_minute = settings.login_attempts_per_minute
    await limit(redis, "login-account", account, per_minute, 60, backoff=True)
    await limit(redis, "login-address", where, per_minute * 5, 60, backoff=True)
    user = await user_store.find_by_email(db, cipher, body.email)
    if not await passwords.verify_password(user["password_hash"] if user else None, body.password) or user is None:
        await user_store.audit(db, "login", f"email:{account[:16]}", "failed", where)
        raise HTTPException(401, "wrong e-mail or password", headers={"WWW-Authenticate": "Bearer"})
    await rate_limits.clear(redis, "login-account", account)  # a mistyped password or two is forgiven
    await user_store.audit(db, "login", f"user:{user['user_id']}", address=where)
    return await open_session(request, response, user)


@router.post("/refresh", responses=documented(422))
async def refresh(request: Request, response: Response, db: DbDep, redis: RedisDep, settings: SettingsDep,
                  who: Annotated[Principal, Depends(PUBLIC)], body: RefreshIn | None = None,
                  cs_refresh: Annotated[str | None, Cookie()] = None) -> Session:
    """Spend a refresh token (body, or the cookie) for a new pair. A token spent twice ends its family."""
    token = (body.refresh_token if body else None) or cs_refresh
    if not token:
        raise HTTPException(401, "no refresh token", headers={"WWW-Authenticate": "Bearer"})
    outcome, doc = await user_store.use_refresh(db, tokens.digest(token))
    if outcome == "reused" and doc is not None:
        await end_family(db, redis, settings.access_token_minutes, doc["family"])
        await user_store.audit(db, "refresh-reuse", f"user:{doc['user_id']}", "family revoked", address(request))
    if outcome != "ok" or doc is None:
        end_cookies(response)
        raise HTTPException(401, "refresh token not valid: log in again", headers={"WWW-Authenticate": "Bearer"})
    user = await user_store.get_user(db, doc["user_id"])
    if user is None:
        raise HTTPException(401, "the account no longer exists", headers={"WWW-Authenticate": "Bearer"})
    return await open_session(request, response, user, family=doc["family"])


@router.get("/session")
async def current_session(request: Request, who: Annotated[Principal, Depends(PAGE)]) -> dict[str, Any]:
    """Who the session cookie says you are, answered 200 to everyone: a page asks this before calling
    routes for people, so a visitor sees no 401s. ``refreshable``: no valid access token, but a
    refresh token to spend (``POST /api/auth/refresh``). Read from the token alone: no database."""
    return {"signed_in": who.kind == "user", "user_id": who.user_id, "roles": sorted(who.roles),
            "refreshable": who.kind != "user" and REFRESH_COOKIE in request.cookies}


@router.post("/logout", status_code=204)
async def logout(response: Response, db: DbDep, redis: RedisDep, settings: SettingsDep,
                 who: Annotated[Principal, Depends(PERSON)]) -> Response:
    """End this session: its refresh tokens and access tokens stop working at once."""
    if who.family:
        await end_family(db, redis, settings.access_token_minutes, who.family)
    response.status_code = 204
    end_cookies(response)
    return response


@router.post("/password", responses=documented(422))
async def change_password(body: PasswordChange, request: Request, response: Response, db: DbDep, redis: RedisDep,
                          settings: SettingsDep, who: Annotated[Principal, Depends(PERSON)]) -> Session:
    """Change the password; other sessions end, this one continues with new tokens."""
    user = await user_store.get_user(db, who.user_id or 0)
    if user is None or not await passwords.verify_password(user["password_hash"], body.current_password):
        raise HTTPException(403, "the current password is wrong")
    new_hash = await passwords.hash_password(body.new_password)
    await user_store.update_user(db, user["user_id"], {"password_hash": new_hash})
    await end_all_sessions(db, redis, settings.access_token_minutes, user["user_id"])
    await user_store.audit(db, "password-change", who.actor, address=address(request))
    return await open_session(request, response, user)
