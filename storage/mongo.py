"""The one place a MongoDB connection is made (motor, async)."""

from __future__ import annotations

from motor.motor_asyncio import AsyncIOMotorClient, AsyncIOMotorDatabase

from cinestream.settings import Settings


def connect(settings: Settings) -> AsyncIOMotorClient:
    # FerretDB 1.x answers no retryable-writes/sessions handshake; plain writes work on both it and MongoDB.
    return AsyncIOMotorClient(settings.mongo_uri, serverSelectionTimeoutMS=5000, retryWrites=False, tz_aware=True)


def database(client: AsyncIOMotorClient, settings: Settings) -> AsyncIOMotorDatabase:
    return client[settings.mongo_db]
