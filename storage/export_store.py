"""A person's prepared data export in MongoDB's ``exports`` collection, one document a person.

Gathering everything kept about someone reads the event archive by person, which FerretDB can only
scan (``storage.history_store``): seconds to minutes, far longer than a request may take. So an
export is prepared in the background and fetched when ready, as large services do::

    {"_id": "<user id>", "state": "preparing" | "ready" | "failed", "requested": <time>,
     "ready": <time>, "file": <the JSON file, encrypted as a personal field>, "reason": "…"}

Every read is by ``_id``. The file is personal data at rest, so it is sealed like the account's
fields (``storage.field_crypto``) and kept ``KEEP`` after it is ready; a read after that deletes it.
A preparation that finishes after the person asked again, or after they were erased, writes nothing:
the write matches the request's time.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any, Literal

from motor.motor_asyncio import AsyncIOMotorDatabase

from storage.field_crypto import FieldCipher

KEEP = dt.timedelta(hours=1)  # a ready file is kept this long
STALE = dt.timedelta(minutes=10)  # a preparation older than this is taken as lost (its process ended)
State = Literal["preparing", "ready", "failed"]


@dataclass(frozen=True)
class Export:
    state: State
    requested: dt.datetime
    ready: dt.datetime | None = None
    reason: str | None = None

    @property
    def expires(self) -> dt.datetime | None:
        return self.ready + KEEP if self.ready is not None else None


def _utc(value: dt.datetime) -> dt.datetime:
    return value if value.tzinfo is not None else value.replace(tzinfo=dt.UTC)  # BSON dates come back naive


def _stored(value: dt.datetime) -> dt.datetime:
    """The time as BSON keeps it (milliseconds), so a later write can match it exactly."""
    return value.replace(microsecond=value.microsecond // 1000 * 1000)


def _export(doc: dict[str, Any]) -> Export:
    return Export(doc["state"], _utc(doc["requested"]), _utc(doc["ready"]) if doc.get("ready") else None,
                  doc.get("reason"))


async def status(db: AsyncIOMotorDatabase, user_id: int, now: dt.datetime) -> Export | None:
    """The person's export, or None when there is none (or it expired, which deletes it)."""
    doc = await db.exports.find_one({"_id": str(user_id)}, {"file": 0})
    if doc is None:
        return None
    export = _export(doc)
    if export.expires is not None and export.expires <= now:
        await forget(db, user_id)
        return None
    return export


async def request(db: AsyncIOMotorDatabase, user_id: int, now: dt.datetime) -> tuple[Export, bool]:
    """Ask for a new export; returns it and whether the caller must prepare it (False while one that
    is not stale is being prepared: asking twice costs one scan)."""
    current, now = await status(db, user_id, now), _stored(now)
    if current is not None and current.state == "preparing" and now - current.requested < STALE:
        return current, False
    await db.exports.replace_one({"_id": str(user_id)}, {"state": "preparing", "requested": now}, upsert=True)
    return Export("preparing", now), True


async def finish(db: AsyncIOMotorDatabase, cipher: FieldCipher, user_id: int, requested: dt.datetime,
                 file: str, now: dt.datetime) -> bool:
    """Store the prepared file if this is still the person's latest request; returns whether it was."""
    done = await db.exports.update_one(
        {"_id": str(user_id), "requested": requested},
        {"$set": {"state": "ready", "ready": now, "file": cipher.encrypt("export", file)}})
    return done.matched_count == 1


async def fail(db: AsyncIOMotorDatabase, user_id: int, requested: dt.datetime, reason: str) -> None:
    await db.exports.update_one({"_id": str(user_id), "requested": requested},
                                {"$set": {"state": "failed", "reason": reason}})


async def file(db: AsyncIOMotorDatabase, cipher: FieldCipher, user_id: int, now: dt.datetime) -> str | None:
    """The ready file's JSON, or None when no file is ready (or it expired)."""
    doc = await db.exports.find_one({"_id": str(user_id)})
    if doc is None or doc["state"] != "ready" or _export(doc).expires <= now:  # type: ignore[operator]
        return None
    return cipher.decrypt("export", doc["file"])


async def forget(db: AsyncIOMotorDatabase, user_id: int) -> None:
    await db.exports.delete_one({"_id": str(user_id)})
