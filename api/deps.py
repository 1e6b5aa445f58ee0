"""Dependencies injected into routes: the settings and the connections ``api.main`` keeps on the app's
state for the process' lifetime, each declared once as an ``Annotated`` type the routes name."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Annotated, Any

import redis.asyncio as aioredis
from aiokafka import AIOKafkaProducer
from fastapi import Depends, Request
from motor.motor_asyncio import AsyncIOMotorDatabase

from api.event_sender import EventSender
from api.search import TitleIndex
from core.settings import Settings
from storage.models import Models


def from_state(name: str) -> Callable[[Request], Awaitable[Any]]:
    """A dependency answering ``app.state.<name>``."""

    async def read(request: Request) -> Any:
        return getattr(request.app.state, name)

    read.__name__ = f"get_{name}"
    return read


SettingsDep = Annotated[Settings, Depends(from_state("settings"))]
DbDep = Annotated[AsyncIOMotorDatabase, Depends(from_state("db"))]
RedisDep = Annotated[aioredis.Redis, Depends(from_state("redis"))]
ModelsDep = Annotated[Models, Depends(from_state("models"))]
SearchDep = Annotated[TitleIndex, Depends(from_state("search"))]
ProducerDep = Annotated[AIOKafkaProducer, Depends(from_state("producer"))]
SenderDep = Annotated[EventSender, Depends(from_state("sender"))]
