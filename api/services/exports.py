"""Preparing a person's data export in the background: the request that asks for it answers at once.

The scan behind it (``storage.user_store.events_of``) takes seconds to minutes on FerretDB, so it runs
as a task of the API process, at most ``AT_ONCE`` of them in a process so that a queue of exports
cannot starve the requests' own MongoDB reads. A process that ends mid-way leaves a preparation that
``storage.export_store`` takes as lost after ``STALE``; asking again starts it anew.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import logging
from typing import Any

from storage import export_store, user_store
from storage.field_crypto import FieldCipher

log = logging.getLogger(__name__)
AT_ONCE = 2
_running: set[asyncio.Task[None]] = set()
_slots: asyncio.Semaphore | None = None


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


async def file_of(db: Any, cipher: FieldCipher, user_id: int) -> str:
    """Everything kept about the person, as the JSON file they download."""
    user = await user_store.get_user(db, user_id)
    if user is None:
        raise LookupError("the account no longer exists")
    events = await user_store.events_of(db, user_id)
    return json.dumps({"profile": user_store.readable(cipher, user),
                       "ratings": [e for e in events if e.get("type", "rating") == "rating"],
                       "watches": [e for e in events if e.get("type") == "watch"]}, default=str)


async def request_export(db: Any, cipher: FieldCipher, user_id: int) -> export_store.Export:
    """Ask for the person's export; it is prepared unless one is already being prepared."""
    export, start = await export_store.request(db, user_id, _now())
    if start:
        task = asyncio.create_task(_prepare(db, cipher, user_id, export.requested))
        _running.add(task)
        task.add_done_callback(_running.discard)
    return export


async def _prepare(db: Any, cipher: FieldCipher, user_id: int, requested: dt.datetime) -> None:
    global _slots
    _slots = _slots or asyncio.Semaphore(AT_ONCE)
    async with _slots:
        try:
            file = await file_of(db, cipher, user_id)
        except Exception as exc:  # the person sees the failure and asks again
            log.warning("export of %d failed: %s", user_id, exc)
            await export_store.fail(db, user_id, requested, f"{type(exc).__name__}: {exc}")
            return
        await export_store.finish(db, cipher, user_id, requested, file, _now())
