"""Agent: learn the online MF model from rating events, one micro-batch at a time.

``take_events`` hands over up to 2,000 messages (or what arrived within 50 ms) with their
partition and offset; every rating of the batch goes through one vectorised learning step and
two Redis round trips (``storage.model_store``). This agent owns the ratings topic's dead
letters: a malformed message goes there with its reason and the stream goes on.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from online_models.biased_mf import BiasedMF
from storage.model_store import ModelStore, RatingBatch
from storage.redis_store import connect
from streams.app import app, ratings_topic, settings
from streams.batch import collect
from streams.retry import until_stored

store = ModelStore(connect(settings), BiasedMF(n_factors=32, seed=0))


@app.agent(ratings_topic)
async def learn_ratings(stream: Any) -> None:
    async for events in stream.take_events(settings.batch_max_messages, within=settings.batch_window_ms / 1000):
        batch = await collect(events, frozenset({settings.topic_ratings}))
        rated = ~np.isnan(batch.ratings)
        if rated.any():
            ratings = RatingBatch(settings.topic_ratings, batch.partitions[rated], batch.offsets[rated],
                                  batch.users[rated], batch.movies[rated], batch.ratings[rated].astype(np.float32))
            await until_stored("online MF batch", store.apply, ratings)
