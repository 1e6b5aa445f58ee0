"""The faust application: broker, topics and timings, wired once from the settings."""

from __future__ import annotations

import faust

from cinestream.settings import get_settings
from storage import redis_store
from storage.mongo import connect, database
from storage.row_cache import RowCache
from streams.kafka_auth import MECHANISM, password
from streams.known_movies import KnownMovies

settings = get_settings()


def faust_credentials() -> faust.SASLCredentials | None:
    if not settings.kafka_sasl:
        return None
    return faust.SASLCredentials(username=settings.kafka_user, password=password(settings), mechanism=MECHANISM)


app = faust.App(
    settings.worker_group,
    broker=f"kafka://{settings.kafka_bootstrap}",
    broker_credentials=faust_credentials(),
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

ratings_topic = app.topic(settings.topic_ratings, value_serializer="raw", partitions=settings.partitions)
watches_topic = app.topic(settings.topic_watches, value_serializer="raw", partitions=settings.partitions)
events_topic = app.topic(settings.topic_ratings, settings.topic_watches, value_serializer="raw")
dead_letter_topic = app.topic(settings.topic_dead_letter, value_serializer="raw", partitions=1)
movies_topic = app.topic(settings.topic_movies, value_serializer="raw", partitions=1)
# The MF rows this worker last read or wrote, shared by the agents that learn the MF (ratings and
# watches write the same user rows: one cache keeps each from refusing the other's writes).
model_rows = RowCache(settings.model_cache_rows)
# The catalogue's movie ids: every agent drops events for other movies (streams/batch.py).
known_movies = KnownMovies()
catalogue_db = database(connect(settings), settings)


catalogue_redis = redis_store.connect(settings)


@app.task
async def keep_known_movies_fresh() -> None:
    await known_movies.ready(catalogue_db)
    await known_movies.keep_fresh(catalogue_db)


@app.task
async def follow_catalogue_changes() -> None:
    """Titles added or retired while the worker runs are known (or refused) within milliseconds."""
    await known_movies.follow(catalogue_db, catalogue_redis)
