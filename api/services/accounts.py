"""Account operations shared by the CLI and the admin routes: service keys, demo logins, key rotation."""

from __future__ import annotations

import secrets
from collections.abc import Sequence
from typing import Any

from motor.motor_asyncio import AsyncIOMotorDatabase

from api.security import passwords, tokens
from api.security.policy import ROLES, SCOPES
from storage import user_store
from storage.field_crypto import FieldCipher


class AccountError(ValueError):
    """A request the operator can correct; the message says how."""


MAX_EVENTS_PER_SECOND = 1_000_000  # a key's quota: twenty times what the stream learns


async def create_service_key(db: AsyncIOMotorDatabase, name: str, scopes: Sequence[str], actor: str,
                             events_per_second: int | None = None) -> dict[str, Any]:
    """A new key, returned with its secret this once; only its digest is stored. ``events_per_second``
    is its event quota (None: the deployment's ``service_events_per_second``)."""
    unknown = sorted(set(scopes) - set(SCOPES))
    if unknown or not scopes:
        raise AccountError(f"scopes must be among {', '.join(SCOPES)} (got {', '.join(scopes) or 'none'})")
    if events_per_second is not None and not 1 <= events_per_second <= MAX_EVENTS_PER_SECOND:
        raise AccountError(f"events per second must be between 1 and {MAX_EVENTS_PER_SECOND:,}")
    key, key_id, secret_digest = tokens.new_service_key()
    granted = sorted(set(scopes))
    await user_store.create_key(db, key_id, secret_digest, name, granted, actor, events_per_second)
    await user_store.audit(db, "key-create", actor, key_id=key_id, scopes=granted, events_per_second=events_per_second)
    return {"key": key, "key_id": key_id, "name": name, "scopes": granted, "events_per_second": events_per_second}


async def revoke_service_key(db: AsyncIOMotorDatabase, key_id: str, actor: str) -> bool:
    revoked = await user_store.revoke_key(db, key_id)
    await user_store.audit(db, "key-revoke", actor, "ok" if revoked else "unknown", key_id=key_id)
    return revoked


async def set_roles(db: AsyncIOMotorDatabase, user_id: int, roles: Sequence[str], actor: str) -> None:
    """Every account is a user; ``roles`` may add 'admin'."""
    if not set(roles) <= set(ROLES):
        raise AccountError(f"roles must be among {', '.join(ROLES)} (got {', '.join(roles)})")
    if await user_store.get_user(db, user_id) is None:
        raise AccountError(f"no account with id {user_id}")
    granted = sorted({"user", *roles})
    await user_store.update_user(db, user_id, {"roles": granted})
    await user_store.audit(db, "roles-change", actor, subject=user_id, roles=granted)


async def demo_login(db: AsyncIOMotorDatabase, cipher: FieldCipher, user_id: int,
                     roles: list[str] | None = None) -> tuple[str, str]:
    """Give an imported dataset user a login (a new password each time); returns (e-mail, password)."""
    email, password = f"user{user_id}@demo.cinestream.local", secrets.token_urlsafe(12)
    digest = await passwords.hash_password(password)
    existing = await user_store.find_by_email(db, cipher, email)
    if existing is None:
        await user_store.create_user(db, cipher, user_id, email, f"MovieLens user {user_id}", digest,
                                     roles or ["user"], "dataset")
    else:
        await user_store.update_user(db, user_id, {"password_hash": digest, **({"roles": roles} if roles else {})})
    await user_store.audit(db, "demo-login", "cli", subject=user_id)
    return email, password
