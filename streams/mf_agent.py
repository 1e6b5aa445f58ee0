"""The loop both MF agents run (ratings, watches): take a learning batch, skip what a seek back left behind,
learn the kind of events the agent owns exactly once, count them, forget the people who asked to be erased.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from storage import applied_counts, erasure
from streams.app import Worker
from streams.mf_learning import ExactlyOnceMF, RatingBatch
from streams.micro_batch import MicroBatch, collect
from streams.resume import resumable
from streams.retry import until_stored
from streams.rewind import rewind_to_redis
from streams.take import learning_batches


class MFAgent:
    """One MF agent: ``learner`` learns ``topic``'s events that ``select`` takes from a batch (None: none);
    ``dead_letter``: the topics whose refused messages this agent dead-letters; ``counter``: its name in
    the applied-events counts."""

    def __init__(self, worker: Worker, topic: str, learner: ExactlyOnceMF,
                 select: Callable[[MicroBatch], RatingBatch | None], dead_letter: frozenset[str], counter: str) -> None:
        self.worker, self.topic, self.learner, self.select = worker, topic, learner, select
        self.dead_letter, self.counter = dead_letter, counter
        rewind_to_redis(worker.app, learner.store, topic)
        self.resume = resumable(worker.app)

    async def consume(self, stream: Any) -> None:
        app, redis = self.worker.app, self.learner.store.redis
        async for fetched in learning_batches(stream, self.worker.settings):
            events = await self.resume.kept(app.consumer, self.topic, fetched)
            if not events:
                continue
            batch = await collect(self.worker, events, self.dead_letter)
            learned = self.select(batch)
            if learned is not None:
                if not await self.resume.learned(app.consumer, self.topic, events, f"{self.counter} batch",
                                                 self.learner.apply, learned):
                    continue  # Redis had lost writes this worker made: they are read again
                await until_stored("applied count", applied_counts.add, redis, self.counter, len(learned.users))
            if batch.erasures:  # after the batch: the person's last events came before their erasure
                self.worker.model_rows.forget_users(batch.erasures)
                await until_stored("erasure", erasure.forget_users, redis, batch.erasures)
