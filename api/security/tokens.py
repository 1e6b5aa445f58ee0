"""Access tokens (short-lived JWTs), refresh tokens (random, stored hashed) and service keys.

Only digests of refresh tokens and service-key secrets are stored, so a copy of the database
grants nothing. A service key reads ``csk_<id>_<secret>``: the id finds its record by ``_id``
(one indexed read), the secret is compared by digest in constant time.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import secrets
from typing import Any

import jwt

ALGORITHM = "HS256"
KEY_PREFIX = "csk_"


def digest(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def access_token(key: bytes, user_id: int, roles: list[str], family: str, minutes: int) -> str:
    now = dt.datetime.now(dt.UTC)
    claims = {"sub": str(user_id), "roles": roles, "fam": family, "typ": "access", "iat": now,
              "exp": now + dt.timedelta(minutes=minutes)}
    return jwt.encode(claims, key, algorithm=ALGORITHM)


def read_access_token(key: bytes, token: str) -> dict[str, Any] | None:
    """The claims of a valid, unexpired access token, else None."""
    try:
        claims = jwt.decode(token, key, algorithms=[ALGORITHM], options={"require": ["exp", "sub", "typ"]})
    except jwt.PyJWTError:
        return None
    return claims if claims.get("typ") == "access" else None


def new_refresh_token() -> str:
    return secrets.token_urlsafe(32)


def new_family() -> str:
    return secrets.token_hex(12)


def new_service_key() -> tuple[str, str, str]:
    """(the key shown once, its public id, the digest to store)."""
    key_id, secret = secrets.token_hex(6), secrets.token_urlsafe(32)
    return f"{KEY_PREFIX}{key_id}_{secret}", key_id, digest(secret)


def split_service_key(key: str) -> tuple[str, str] | None:
    if not key.startswith(KEY_PREFIX):
        return None
    key_id, sep, secret = key.removeprefix(KEY_PREFIX).partition("_")
    return (key_id, secret) if sep and key_id and secret else None


def secret_matches(secret: str, stored_digest: str) -> bool:
    return hmac.compare_digest(digest(secret), stored_digest)
