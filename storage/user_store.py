"""Accounts, refresh tokens, service keys and the audit log in MongoDB.

Every lookup on a request's path is by ``_id`` (FerretDB pushes down nothing else: any other
filter scans the collection), so each collection is keyed by what the API looks it up by:

- ``users``: ``_id`` the user id as a string; e-mail and display name encrypted (storage/field_crypto.py),
  never in plaintext; roles; the argon2id hash; favourite genres; demographics of imported users.
- ``user_emails``: ``_id`` the e-mail's blind index -> user id (log-in, uniqueness).
- ``refresh_tokens``: ``_id`` SHA-256 of the token -> user, family, expiry, used flag.
- ``token_families``: ``_id`` family id, present once the family is revoked.
- ``api_keys``: ``_id`` the key's public id -> SHA-256 of its secret, scopes, revoked flag.
- ``counters``: the next account id. ``audit``: append-only records of security events.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import json
from typing import Any

from motor.motor_asyncio import AsyncIOMotorDatabase
from pymongo import ReturnDocument, UpdateOne
from pymongo.errors import DuplicateKeyError

from storage import export_store, history_store, rating_store
from storage.field_crypto import FieldCipher

ENCRYPTED = ("email", "display_name", "demographics")


class EmailTaken(Exception):
    pass


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


async def next_user_id(db: AsyncIOMotorDatabase, first: int) -> int:
    """A fresh account id, atomically: ``first``, ``first + 1``, …"""
    doc = await db.counters.find_one_and_update({"_id": "user_id"}, {"$inc": {"value": 1}}, upsert=True,
                                                return_document=ReturnDocument.AFTER)
    return first + int(doc["value"]) - 1


async def create_user(db: AsyncIOMotorDatabase, cipher: FieldCipher, user_id: int, email: str, display_name: str,
                      password_hash: str, roles: list[str], source: str,
                      extra: dict[str, Any] | None = None) -> dict[str, Any]:
    """Insert the account; raises :class:`EmailTaken` when the address already has one."""
    index = cipher.blind_index(email)
    try:
        await db.user_emails.insert_one({"_id": index, "user_id": user_id})
    except DuplicateKeyError:
        raise EmailTaken(email) from None
    doc = {"_id": str(user_id), "user_id": user_id, "email": cipher.encrypt("email", email), "email_index": index,
           "display_name": cipher.encrypt("display_name", display_name), "password_hash": password_hash,
           "roles": roles, "favourite_genres": [], "source": source, "created": _now(), **(extra or {})}
    # $set, not a replacement: an imported user's demographics (import_demographics) stay with the account
    await db.users.update_one({"_id": str(user_id)}, {"$set": doc}, upsert=True)
    return doc


async def import_demographics(db: AsyncIOMotorDatabase, cipher: FieldCipher, rows: list[dict[str, Any]]) -> int:
    """Keep a release's users' gender, age, occupation and zip code (one encrypted field per person:
    personal data), on their ``users`` document, made if they have no account yet. Re-importing
    replaces the field: idempotent. People without a document are inserted in bulk: FerretDB runs an
    upsert per document (ml-1m's 6,040 people: 30 s as upserts)."""
    if not rows:
        return 0
    fields = {str(row["userId"]): cipher.encrypt("demographics", json.dumps(
        {k: v for k, v in row.items() if k != "userId"}, sort_keys=True)) for row in rows}
    there = {d["_id"] async for d in db.users.find({"_id": {"$in": list(fields)}}, {"_id": 1})}
    new = [{"_id": key, "user_id": int(key), "source": "dataset", "roles": [], "demographics": value}
           for key, value in fields.items() if key not in there]
    if new:
        await db.users.insert_many(new, ordered=False)
    if there:
        await db.users.bulk_write([UpdateOne({"_id": key}, {"$set": {"demographics": fields[key]}})
                                   for key in there], ordered=False)
    return len(fields)


async def get_user(db: AsyncIOMotorDatabase, user_id: int) -> dict[str, Any] | None:
    return await db.users.find_one({"_id": str(user_id)})


async def find_by_email(db: AsyncIOMotorDatabase, cipher: FieldCipher, email: str) -> dict[str, Any] | None:
    link = await db.user_emails.find_one({"_id": cipher.blind_index(email)})
    return None if link is None else await get_user(db, int(link["user_id"]))


def readable(cipher: FieldCipher, doc: dict[str, Any]) -> dict[str, Any]:
    """The account as its owner sees it: decrypted fields, no hash, no internals."""
    return {"user_id": doc["user_id"], "email": cipher.decrypt("email", doc["email"]),
            "display_name": cipher.decrypt("display_name", doc["display_name"]), "roles": doc["roles"],
            "favourite_genres": doc.get("favourite_genres", []), "source": doc.get("source"),
            "created": doc["created"].isoformat() if doc.get("created") else None,
            **({"demographics": json.loads(cipher.decrypt("demographics", doc["demographics"]))}
               if doc.get("demographics") else {})}


async def events_of(db: AsyncIOMotorDatabase, user_id: int) -> list[dict[str, Any]]:
    """Every event and imported rating of the person, oldest first (scans: export only)."""
    stored, ratings = await asyncio.gather(  # FerretDB scans for both: at once, not one after the other
        history_store.of_user(db, user_id),
        rating_store.of_user(db, user_id))
    events = list(stored)
    imported = [{"type": "rating", "movie_id": r["movieId"], "rating": r["rating"], "timestamp": r.get("timestamp"),
                 "source": "dataset"} for r in ratings]
    return sorted(imported + events, key=lambda e: float(e.get("timestamp") or 0))


async def update_user(db: AsyncIOMotorDatabase, user_id: int, fields: dict[str, Any]) -> None:
    await db.users.update_one({"_id": str(user_id)}, {"$set": fields})


async def rotate_keys(db: AsyncIOMotorDatabase, cipher: FieldCipher) -> tuple[int, int]:
    """Re-encrypt every personal field not under the current key; returns (users seen, users rewritten)."""
    seen = rewritten = 0
    async for doc in db.users.find({}, {f: 1 for f in ENCRYPTED}):
        seen += 1
        stale = {f: doc[f] for f in ENCRYPTED if f in doc and cipher.key_id(doc[f]) != cipher.current}
        if stale:
            await db.users.update_one({"_id": doc["_id"]},
                                      {"$set": {f: cipher.encrypt(f, cipher.decrypt(f, v)) for f, v in stale.items()}})
            rewritten += 1
    return seen, rewritten


async def delete_user(db: AsyncIOMotorDatabase, user_id: int) -> None:
    """The account and everything MongoDB holds about the person (events, ratings and export included;
    a message's archived events of other people stay)."""
    doc = await get_user(db, user_id)
    if doc is not None and "email_index" in doc:  # an imported user without a login has none
        await db.user_emails.delete_one({"_id": doc["email_index"]})
    await db.users.delete_one({"_id": str(user_id)})
    await asyncio.gather(db.refresh_tokens.delete_many({"user_id": user_id}),
                         history_store.forget(db, [user_id]), rating_store.forget(db, user_id),
                         export_store.forget(db, user_id), db.user_stats.delete_many({"userId": user_id}))


# --- refresh tokens ---------------------------------------------------------------------------

async def store_refresh(db: AsyncIOMotorDatabase, token_hash: str, user_id: int, family: str,
                        expires: dt.datetime) -> None:
    await db.refresh_tokens.insert_one({"_id": token_hash, "user_id": user_id, "family": family,
                                        "expires": expires, "used": False})


async def use_refresh(db: AsyncIOMotorDatabase, token_hash: str) -> tuple[str, dict[str, Any] | None]:
    """Spend a refresh token once: ("ok", doc), ("reused", doc) — its family must go — or ("unknown", None)."""
    doc = await db.refresh_tokens.find_one_and_update({"_id": token_hash, "used": False}, {"$set": {"used": True}})
    if doc is not None:
        if await db.token_families.find_one({"_id": doc["family"]}) is not None:
            return "reused", doc
        expires = doc["expires"]
        return ("ok", doc) if expires > _now() else ("unknown", None)
    doc = await db.refresh_tokens.find_one({"_id": token_hash})
    return ("reused", doc) if doc is not None else ("unknown", None)


async def families(db: AsyncIOMotorDatabase, user_id: int) -> list[str]:
    """Every session family the person has (a scan: only password changes and deletions ask)."""
    return sorted({doc["family"] async for doc in db.refresh_tokens.find({"user_id": user_id}, {"family": 1})})


async def revoke_family(db: AsyncIOMotorDatabase, family: str) -> None:
    await db.token_families.replace_one({"_id": family}, {"_id": family, "revoked": _now()}, upsert=True)


async def family_revoked(db: AsyncIOMotorDatabase, family: str) -> bool:
    return await db.token_families.find_one({"_id": family}) is not None


# --- service keys -----------------------------------------------------------------------------

async def create_key(db: AsyncIOMotorDatabase, key_id: str, secret_hash: str, name: str, scopes: list[str],
                     created_by: str, events_per_second: int | None = None) -> None:
    """``events_per_second``: the key's own quota (None: the deployment's default, read when used)."""
    await db.api_keys.insert_one({"_id": key_id, "hash": secret_hash, "name": name, "scopes": scopes,
                                  "events_per_second": events_per_second, "created": _now(),
                                  "created_by": created_by, "revoked": None})


async def get_key(db: AsyncIOMotorDatabase, key_id: str) -> dict[str, Any] | None:
    return await db.api_keys.find_one({"_id": key_id})


async def list_keys(db: AsyncIOMotorDatabase) -> list[dict[str, Any]]:
    return [{k: v for k, v in doc.items() if k != "hash"} async for doc in db.api_keys.find({})]


async def revoke_key(db: AsyncIOMotorDatabase, key_id: str) -> bool:
    result = await db.api_keys.update_one({"_id": key_id, "revoked": None}, {"$set": {"revoked": _now()}})
    return bool(result.modified_count)


# --- audit ------------------------------------------------------------------------------------

async def audit(db: AsyncIOMotorDatabase, action: str, actor: str, outcome: str = "ok",
                address: str | None = None, **detail: Any) -> None:
    """Append one security event (log-in, failure, key or role change, export, deletion)."""
    await db.audit.insert_one({"at": _now(), "action": action, "actor": actor, "outcome": outcome,
                               "address": address, **detail})
