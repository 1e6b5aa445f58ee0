"""Agent: learn the online MF model from rating events, one micro-batch at a time.

``take_adaptive`` (``streams/take.py``) hands over up to 2,000 messages with their partition and
offset, closing a batch 0.5 ms after its last message, or up to 30 ms later while Kafka holds a
backlog; every rating of the batch is learned in order (``online_models.biased_mf``), its
prediction corrected by the user's recent errors on similar films (``online_models.residual_knn``,
once ``model publish`` has installed the content vectors), in two Redis round trips: the shards'
compare-and-writes, then the commit (``streams.mf_learning`` over ``storage.model_store``). This
agent owns the ratings topic's dead letters: a malformed message goes there with its reason and
the stream goes on.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from online_models.mf_spec import MF
from online_models.residual_knn import ResidualKNN
from storage import applied_counts, erasure
from storage.model_store import ModelStore
from storage.redis_store import connect
from streams.app import app, model_rows, ratings_topic, settings
from streams.batch import collect
from streams.mf_learning import OnlineMF, RatingBatch
from streams.resume import resumable
from streams.retry import until_stored
from streams.rewind import rewind_to_redis
from streams.take import learning_batches

model = MF.ratings_learner()
store = ModelStore(connect(settings), model.width, model_rows)
learner = OnlineMF(store, model, ResidualKNN())

model.warm_up()
if learner.correction is not None:
    learner.correction.warm_up()

rewind_to_redis(app, store, settings.topic_ratings)
resume = resumable(app)


@app.agent(ratings_topic)
async def learn_ratings(stream: Any) -> None:
    async for fetched in learning_batches(stream, settings):
        events = await resume.kept(app.consumer, settings.topic_ratings, fetched)
        if not events:
            continue
        batch = await collect(events, frozenset({settings.topic_ratings}))
        e = batch.events
        rated = ~e.kinds
        if rated.any():
            ratings = RatingBatch(settings.topic_ratings, batch.partitions[rated], batch.offsets[rated],
                                  e.users[rated], e.movies[rated], e.ratings[rated].astype(np.float32))
            if not await resume.learned(app.consumer, settings.topic_ratings, events, "online MF batch",
                                        learner.apply, ratings):
                continue  # Redis had lost writes this worker made: they are read again
            await until_stored("applied count", applied_counts.add, store.redis, "online_mf", len(ratings.users))
        if batch.erasures:  # after the batch: the person's last events came before their erasure
            model_rows.forget_users(batch.erasures)
            await until_stored("erasure", erasure.forget_users, store.redis, batch.erasures)
