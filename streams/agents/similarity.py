"""Agent: item–item co-occurrence from positive ratings (≥3.5★) and watches (by completion)."""

from __future__ import annotations

from typing import Any

from online_models.cooccurrence import CoOccurrence
from storage import applied_counts, erasure
from storage.similarity_store import SimilarityStore
from streams.app import Worker
from streams.micro_batch import collect
from streams.retry import until_stored
from streams.side_learning import learn_similarity
from streams.take import side_batches


def register(worker: Worker) -> None:
    settings = worker.settings
    model = CoOccurrence()
    store = SimilarityStore(worker.redis())

    @worker.app.agent(worker.events_topic, name=f"{__name__}.similarity")
    async def similarity(stream: Any) -> None:
        async for events in side_batches(stream, settings, settings.similarity_window_ms):
            batch = await collect(worker, events)
            if len(batch):
                e = batch.events
                weights = model.event_weights(e.kinds, batch.confidence, e.ratings)
                await until_stored("similarity batch", learn_similarity, store, model, e.users, e.movies, weights)
                await until_stored("applied count", applied_counts.add, store.redis, "similarity", len(batch))
            if batch.erasures:
                await until_stored("erasure", erasure.forget_users, store.redis, batch.erasures)
