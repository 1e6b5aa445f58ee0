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

import numpy as np

from online_models.mf_spec import MF
from online_models.residual_knn import ResidualKNN
from storage.model_store import ModelStore
from streams.app import Worker
from streams.mf_agent import MFAgent
from streams.mf_learning import ExactlyOnceMF, RatingBatch
from streams.micro_batch import MicroBatch


def register(worker: Worker) -> None:
    topic = worker.settings.topic_ratings
    model = MF.ratings_learner()
    learner = ExactlyOnceMF(ModelStore(worker.redis(), model.width, worker.model_rows), model, ResidualKNN())
    model.warm_up()
    if learner.correction is not None:
        learner.correction.warm_up()

    def ratings(batch: MicroBatch) -> RatingBatch | None:
        e, rated = batch.events, ~batch.events.kinds
        if not rated.any():
            return None
        return RatingBatch(topic, batch.partitions[rated], batch.offsets[rated], e.users[rated], e.movies[rated],
                           e.ratings[rated].astype(np.float32))

    agent = MFAgent(worker, topic, learner, ratings, frozenset({topic}), "online_mf")
    worker.app.agent(worker.ratings_topic, name=f"{__name__}.learn_ratings")(agent.consume)
