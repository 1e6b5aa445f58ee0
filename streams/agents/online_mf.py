"""Agent: learn the online MF model from rating events, one micro-batch at a time.

``take_events`` hands over up to 2,000 messages (or what arrived within 50 ms) with their
partition and offset; every event of the batch goes through one vectorised SGD step and two
Redis round trips (``storage.model_store``). Malformed messages go to the dead-letter topic
with their reason; the stream never stops for them.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from online_models.biased_mf import BiasedMF
from storage.model_store import ModelStore, RatingBatch
from storage.redis_store import connect
from streams.app import app, dead_letter_topic, ratings_topic, settings
from streams.dead_letter import dead_letter_record
from streams.schemas import Invalid, Rating, parse_message

store = ModelStore(connect(settings), BiasedMF(n_factors=32, seed=0))


@app.agent(ratings_topic)
async def learn_ratings(stream: Any) -> None:
    async for events in stream.take_events(2000, within=0.05):
        partitions: list[int] = []
        offsets: list[int] = []
        users: list[int] = []
        movies: list[int] = []
        ratings: list[float] = []
        for event in events:
            message = event.message
            parsed = parse_message(event.value)
            if isinstance(parsed, Invalid):
                await dead_letter_topic.send(value=dead_letter_record(
                    event.value, message.topic, message.partition, message.offset, parsed.reason))
                continue
            for item in parsed:
                if isinstance(item, Rating):
                    partitions.append(message.partition)
                    offsets.append(message.offset)
                    users.append(item.user_id)
                    movies.append(item.movie_id)
                    ratings.append(item.rating)
        if users:
            await store.apply(RatingBatch(
                settings.topic_ratings, np.array(partitions, dtype=np.int64), np.array(offsets, dtype=np.int64),
                np.array(users, dtype=np.int64), np.array(movies, dtype=np.int64),
                np.array(ratings, dtype=np.float32)))
