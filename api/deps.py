"""Dependencies injected into routes: settings and the shared database connections."""

from __future__ import annotations

from typing import Annotated

import redis.asyncio as aioredis
from fastapi import Depends, Request
from motor.motor_asyncio import AsyncIOMotorDatabase

from cinestream.settings import Settings


def get_app_settings(request: Request) -> Settings:
    return request.app.state.settings


def get_db(request: Request) -> AsyncIOMotorDatabase:
    return request.app.state.db


def get_redis(request: Request) -> aioredis.Redis:
    return request.app.state.redis


SettingsDep = Annotated[Settings, Depends(get_app_settings)]
DbDep = Annotated[AsyncIOMotorDatabase, Depends(get_db)]
RedisDep = Annotated[aioredis.Redis, Depends(get_redis)]
