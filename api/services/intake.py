"""Event intake: what the event routes and the account routes send to Kafka, and how a send fails.

A send that Kafka does not acknowledge is a 503 the client retries; nothing is dropped silently.
"""

from __future__ import annotations

from typing import Any, Literal

from fastapi import HTTPException

from api.event_sender import Events, EventSender
from api.search import TitleIndex
from contracts.catalogue import encode_titles
from contracts.events import encode_erasure


def topic_of(settings: Any, kind: Literal["rating", "watch"]) -> str:
    return str(settings.topic_ratings if kind == "rating" else settings.topic_watches)


async def known_movies(db: Any, index: TitleIndex) -> TitleIndex:
    await index.ensure_fresh(db)
    return index


async def send_events(sender: EventSender, topic: str, events: Events) -> None:
    """Packed per partition with other requests' events (``api.event_sender``), acknowledged on return."""
    try:
        await sender.send(topic, events)
    except Exception as exc:  # the broker is down: the client retries, nothing is lost silently
        raise HTTPException(503, f"events not accepted, Kafka unavailable: {type(exc).__name__}") from exc


async def send_erasure(producer: Any, settings: Any, user_id: int) -> None:
    """Tell every worker to forget the person, on both topics (each learning agent reads one), keyed
    by the user id so it arrives after the person's last events on their partition."""
    try:
        for topic in (settings.topic_ratings, settings.topic_watches):
            await producer.send_and_wait(topic, encode_erasure(user_id), key=str(user_id).encode())
    except Exception as exc:
        raise HTTPException(503, f"cannot delete now, Kafka unavailable: {type(exc).__name__}; nothing was "
                                 "deleted, try again") from exc


async def send_titles(producer: Any, settings: Any, titles: list[dict[str, Any]]) -> None:
    """Titles added, changed or retired, in one message the catalogue agent applies whole, acknowledged
    on return (``contracts.catalogue``)."""
    key = str(titles[0]["movieId"]).encode() if len(titles) == 1 else None
    try:
        await producer.send_and_wait(settings.topic_movies, encode_titles(titles), key=key)
    except Exception as exc:
        raise HTTPException(503, f"catalogue change not accepted, Kafka unavailable: {type(exc).__name__}") from exc
