"""The one place a MongoDB connection is made (motor, async)."""

from __future__ import annotations

from motor.motor_asyncio import AsyncIOMotorClient, AsyncIOMotorDatabase

from core.settings import Settings


def connect(settings: Settings, timeout_ms: int = 5000) -> AsyncIOMotorClient:
    """A client with the deployment's write concern, retryable writes and read preference (see the
    settings: FerretDB 1.x answers no retryable-writes handshake, a replica set should have them)."""
    w: int | str = int(settings.mongo_write_concern) if settings.mongo_write_concern.isdigit() else "majority"
    return AsyncIOMotorClient(settings.mongo_uri, serverSelectionTimeoutMS=timeout_ms, tz_aware=True, w=w,
                              retryWrites=settings.mongo_retry_writes,
                              readPreference=settings.mongo_read_preference)


async def ping(settings: Settings, timeout_s: float = 3.0) -> None:
    """One round trip; raises when MongoDB does not answer within ``timeout_s``."""
    client = connect(settings, int(timeout_s * 1000))
    try:
        await client.admin.command("ping")
    finally:
        client.close()


def database(client: AsyncIOMotorClient, settings: Settings) -> AsyncIOMotorDatabase:
    return client[settings.mongo_db]
