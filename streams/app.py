"""The worker: a faust application with its topics, and what every agent of it shares (the catalogue's
movie ids, the MF rows last read, a dead-letter producer), built from the settings by the process that
starts it (``streams.worker``).

Nothing here runs at import: ``streams.micro_batch``, the decoders and the learners can be imported by a
test or a bench without a broker, a MongoDB client or an event loop being made.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import faust
from motor.motor_asyncio import AsyncIOMotorDatabase
from redis import asyncio as aioredis

from core.kafka_auth import MECHANISM, password
from core.settings import Settings
from storage import redis_store
from storage.mongo import connect, database
from storage.row_cache import RowCache
from streams.known_movies import KnownMovies


@dataclass(frozen=True)
class Worker:
    """One worker process' app and its shared parts; each agent module's ``register`` wires itself to it."""

    settings: Settings
    app: faust.App
    ratings_topic: Any
    watches_topic: Any
    events_topic: Any  # ratings and watches together, for the side models
    dead_letter_topic: Any
    movies_topic: Any
    # The MF rows this worker last read or wrote, shared by the agents that learn the MF (ratings and
    # watches write the same user rows: one cache keeps each from refusing the other's writes).
    model_rows: RowCache
    # The catalogue's movie ids: every agent drops events for other movies (streams/micro_batch.py).
    known_movies: KnownMovies
    catalogue_db: AsyncIOMotorDatabase
    catalogue_redis: aioredis.Redis

    def redis(self) -> aioredis.Redis:
        """A Redis client of the agent's own (each agent's scripts and pipelines on its connections)."""
        return redis_store.connect(self.settings)


def faust_credentials(settings: Settings) -> faust.SASLCredentials | None:
    if not settings.kafka_sasl:
        return None
    return faust.SASLCredentials(username=settings.kafka_user, password=password(settings), mechanism=MECHANISM)


def build_worker(settings: Settings) -> Worker:
    """The app, its topics and shared parts; the two tasks that keep the catalogue's ids fresh are on it."""
    app = faust.App(
        settings.worker_group,
        broker=f"kafka://{settings.kafka_bootstrap}",
        broker_credentials=faust_credentials(settings),
        value_serializer="raw",
        topic_partitions=settings.partitions,
        topic_replication_factor=settings.topic_replication,
        # Faust's defaults make the first group join take ~30 s; these keep restarts to a few seconds.
        broker_session_timeout=10.0,
        broker_heartbeat_interval=1.0,
        broker_rebalance_timeout=10.0,
        consumer_auto_offset_reset="earliest",
        web_enabled=False,
        store="memory://",
    )
    worker = Worker(
        settings=settings,
        app=app,
        ratings_topic=app.topic(settings.topic_ratings, value_serializer="raw", partitions=settings.partitions),
        watches_topic=app.topic(settings.topic_watches, value_serializer="raw", partitions=settings.partitions),
        events_topic=app.topic(settings.topic_ratings, settings.topic_watches, value_serializer="raw"),
        dead_letter_topic=app.topic(settings.topic_dead_letter, value_serializer="raw", partitions=1),
        movies_topic=app.topic(settings.topic_movies, value_serializer="raw", partitions=1),
        model_rows=RowCache(settings.model_cache_rows),
        known_movies=KnownMovies(),
        catalogue_db=database(connect(settings), settings),
        catalogue_redis=redis_store.connect(settings),
    )

    @app.task
    async def keep_known_movies_fresh() -> None:
        await worker.known_movies.ready(worker.catalogue_db)
        await worker.known_movies.keep_fresh(worker.catalogue_db)

    @app.task
    async def follow_catalogue_changes() -> None:
        """Titles added or retired while the worker runs are known (or refused) within milliseconds."""
        await worker.known_movies.follow(worker.catalogue_db, worker.catalogue_redis)

    return worker
