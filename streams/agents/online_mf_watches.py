"""Agent: teach the online MF what people watch (implicit feedback), next to what they rate.

Each watch moves the user's and the film's factors by its completion ratio
(``BiasedMF.learn_watches``): watched to the end pulls them together, abandoned early pushes
them apart. The same exactly-once store as the ratings (``storage.model_store``): the watches
topic has its own applied offsets, and user rows shared with the ratings agent are protected
by the same compare-and-write.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from online_models.mf_spec import MF
from storage import applied_counts, erasure
from storage.model_store import ModelStore
from storage.redis_store import connect
from streams.app import app, model_rows, settings, watches_topic
from streams.batch import collect
from streams.mf_learning import OnlineMF, RatingBatch
from streams.resume import resumable
from streams.retry import until_stored
from streams.rewind import rewind_to_redis
from streams.take import learning_batches

model = MF.watches_learner()
store = ModelStore(connect(settings), model.width, model_rows)
learner = OnlineMF(store, model)

model.warm_up()

rewind_to_redis(app, store, settings.topic_watches)
resume = resumable(app)


@app.agent(watches_topic)
async def learn_watches(stream: Any) -> None:
    async for fetched in learning_batches(stream, settings):
        events = await resume.kept(app.consumer, settings.topic_watches, fetched)
        if not events:
            continue
        batch = await collect(events)  # the watches topic's dead letters are trending's
        watched = batch.events.kinds
        if watched.any():
            watches = RatingBatch(settings.topic_watches, batch.partitions[watched], batch.offsets[watched],
                                  batch.events.users[watched], batch.events.movies[watched],
                                  batch.confidence[watched].astype(np.float32), watches=True)
            if not await resume.learned(app.consumer, settings.topic_watches, events, "online MF watches batch",
                                        learner.apply, watches):
                continue  # Redis had lost writes this worker made: they are read again
            await until_stored("applied count", applied_counts.add, store.redis, "online_mf_watches",
                               len(watches.users))
        if batch.erasures:  # after the batch: the person's last events came before their erasure
            model_rows.forget_users(batch.erasures)
            await until_stored("erasure", erasure.forget_users, store.redis, batch.erasures)
