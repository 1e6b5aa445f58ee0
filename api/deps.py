"""Dependencies injected into routes: settings and the shared database connections."""

from __future__ import annotations

from typing import Annotated

import redis.asyncio as aioredis
from aiokafka import AIOKafkaProducer
from fastapi import Depends, Request
from motor.motor_asyncio import AsyncIOMotorDatabase

from api.event_sender import EventSender
from api.search import TitleIndex
from cinestream.settings import Settings
from storage.models import Models


async def get_app_settings(request: Request) -> Settings:
    return request.app.state.settings


async def get_db(request: Request) -> AsyncIOMotorDatabase:
    return request.app.state.db


async def get_models(request: Request) -> Models:
    return request.app.state.models


async def get_producer(request: Request) -> AIOKafkaProducer:
    return request.app.state.producer


async def get_sender(request: Request) -> EventSender:
    return request.app.state.sender


async def get_search(request: Request) -> TitleIndex:
    return request.app.state.search


async def get_redis(request: Request) -> aioredis.Redis:
    return request.app.state.redis


SettingsDep = Annotated[Settings, Depends(get_app_settings)]
DbDep = Annotated[AsyncIOMotorDatabase, Depends(get_db)]
RedisDep = Annotated[aioredis.Redis, Depends(get_redis)]
ModelsDep = Annotated[Models, Depends(get_models)]
SearchDep = Annotated[TitleIndex, Depends(get_search)]
ProducerDep = Annotated[AIOKafkaProducer, Depends(get_producer)]
SenderDep = Annotated[EventSender, Depends(get_sender)]
