"""Agent: teach the online MF what people watch (implicit feedback), next to what they rate.

Each watch moves the user's and the film's factors by its completion ratio
(``BiasedMF.learn_watches``): watched to the end pulls them together, abandoned early pushes
them apart. The same exactly-once store as the ratings (``storage.model_store``): the watches
topic has its own applied offsets, and user rows shared with the ratings agent are protected
by the same compare-and-write.
"""

from __future__ import annotations

import numpy as np

from online_models.mf_spec import MF
from storage.model_store import ModelStore
from streams.app import Worker
from streams.mf_agent import MFAgent
from streams.mf_learning import ExactlyOnceMF, RatingBatch
from streams.micro_batch import MicroBatch


def register(worker: Worker) -> None:
    topic = worker.settings.topic_watches
    model = MF.watches_learner()
    learner = ExactlyOnceMF(ModelStore(worker.redis(), model.width, worker.model_rows), model)
    model.warm_up()

    def watches(batch: MicroBatch) -> RatingBatch | None:
        e, watched = batch.events, batch.events.kinds
        if not watched.any():
            return None
        return RatingBatch(topic, batch.partitions[watched], batch.offsets[watched], e.users[watched],
                           e.movies[watched], batch.confidence[watched].astype(np.float32), watches=True)

    # the watches topic's dead letters are trending's
    agent = MFAgent(worker, topic, learner, watches, frozenset(), "online_mf_watches")
    worker.app.agent(worker.watches_topic, name=f"{__name__}.learn_watches")(agent.consume)
