"""Events in: a platform (or the web app) posts ratings and watches; they go to Kafka."""

from __future__ import annotations

import time
import uuid
from typing import Any, Literal

from fastapi import APIRouter, HTTPException
from pydantic import BaseModel, Field, field_validator

from api.deps import ProducerDep, SettingsDep
from streams.schemas import encode_events

router = APIRouter(prefix="/api/events", tags=["events"])


class RatingIn(BaseModel):
    user_id: int = Field(ge=0)
    movie_id: int = Field(ge=0)
    rating: float = Field(ge=0.5, le=5.0, description="0.5 to 5.0 in steps of 0.5")
    timestamp: float | None = None
    source: str = Field("api", max_length=64)

    @field_validator("rating")
    @classmethod
    def half_stars(cls, value: float) -> float:
        if value * 2 != int(value * 2):
            raise ValueError("rating must be in steps of 0.5")
        return value


class WatchIn(BaseModel):
    user_id: int = Field(ge=0)
    movie_id: int = Field(ge=0)
    seconds_watched: float = Field(ge=0)
    completed: bool = False
    timestamp: float | None = None
    source: str = Field("api", max_length=64)


async def _publish(producer: Any, topic: str, kind: Literal["rating", "watch"], event: BaseModel) -> dict[str, str]:
    body = event.model_dump()
    body.update(type=kind, event_id=uuid.uuid4().hex, timestamp=body["timestamp"] or time.time())
    try:
        await producer.send_and_wait(topic, encode_events([body]), key=str(body["user_id"]).encode())
    except Exception as exc:  # the broker is down: tell the client to retry, lose nothing silently
        raise HTTPException(503, f"event not accepted, Kafka unavailable: {type(exc).__name__}") from exc
    return {"event_id": body["event_id"], "status": "accepted"}


@router.post("/ratings", status_code=202)
async def post_rating(event: RatingIn, producer: ProducerDep, settings: SettingsDep) -> dict[str, str]:
    return await _publish(producer, settings.topic_ratings, "rating", event)


@router.post("/watches", status_code=202)
async def post_watch(event: WatchIn, producer: ProducerDep, settings: SettingsDep) -> dict[str, str]:
    return await _publish(producer, settings.topic_watches, "watch", event)
