"""``cinestream simulate`` against a real API process: the people go through the typed client with a
service key of their own, their events reach the stream's topics, and the key is revoked after."""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import pytest
import redis
import redis.asyncio as aioredis
from aiokafka import AIOKafkaConsumer
from rich.console import Console

from contracts.events import EventLists, decode_message
from core.settings import Settings
from jobs.simulate import release_people, simulate
from online_models.trending import Trending
from storage.mongo import connect, database
from storage.trending_store import TrendingStore
from streams.admin import delete_topics, ensure_topics
from streams.side_learning import learn_trending
from tests.integration.people import api_settings
from tests.serving import serving

pytestmark = pytest.mark.integration

REDIS_DB = 6
FIRST_USER = 6_100_000


async def _events_in(settings: Settings, topics: list[str]) -> list[tuple[int, int]]:
    """(user, movie) of every event in ``topics``, read from the start."""
    consumer = AIOKafkaConsumer(*topics, bootstrap_servers=settings.kafka_bootstrap, auto_offset_reset="earliest",
                                enable_auto_commit=False, consumer_timeout_ms=2000)
    await consumer.start()
    found: list[tuple[int, int]] = []
    try:
        while batch := await consumer.getmany(timeout_ms=2000):
            for messages in batch.values():
                for message in messages:
                    decoded = decode_message(message.value)
                    assert isinstance(decoded, EventLists), decoded
                    found.extend(zip(decoded.users, decoded.movies, strict=True))
    finally:
        await consumer.stop()
    return found


async def test_simulated_people_use_the_api_and_their_events_reach_the_stream(stack: Settings,
                                                                               built_catalogue: str,
                                                                               data_dir: Path) -> None:
    settings = api_settings(stack, REDIS_DB)
    redis.Redis.from_url(settings.redis_url).flushdb()
    topics = [settings.topic_ratings, settings.topic_watches]
    await ensure_topics(settings, topics, [])
    people, titles = release_people(settings, "ml-latest-small", 60, seed=3)
    # what a newcomer is shown before any model: trending, here the release's 30 most rated
    popular = people.movies[np.argsort(-people.popularity)[:30]]
    async with aioredis.Redis.from_url(settings.redis_url) as seeded:
        await learn_trending(TrendingStore(seeded), Trending(), popular, np.arange(30, 0, -1, dtype=np.float64),
                             np.full(30, time.time()))
    try:
        with serving(settings) as url:
            tally, trending = await simulate(settings, url, people, titles, duration_s=5, rate=4, think_s=0.1,
                                             first_user=FIRST_USER, seed=3, console=Console(quiet=True))
        events = await _events_in(settings, topics)
    finally:
        await delete_topics(settings, topics)
        redis.Redis.from_url(settings.redis_url).flushdb()
    assert tally.sessions >= 8, tally
    assert tally.shown["list"] > 0 and tally.shown["browse"] > 0, tally
    assert not tally.errors, tally.errors
    assert tally.events["rejected"] == 0 and tally.events["accepted"] == sum(tally.taken.values()) > 0, tally
    assert len(events) == tally.events["accepted"]
    assert all(FIRST_USER <= user < FIRST_USER + 60 for user, _ in events)
    assert {movie for _, movie in events} <= set(people.movies.tolist())
    assert len(trending) == 10 and set(trending) <= set(popular.tolist())
    client = connect(settings)
    try:
        keys = [k async for k in database(client, settings).api_keys.find({"name": "simulated people"})]
    finally:
        client.close()
    assert keys and all(k.get("revoked") for k in keys)  # no key left behind
