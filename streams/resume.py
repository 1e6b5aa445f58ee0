"""Read partitions again from an earlier offset, within a running worker.

When Redis loses writes while a learning worker keeps consuming (``storage.model_store.RedisBehind``),
the events it lost are behind the worker's position in Kafka, and no rebalance is coming to move it
back (``streams.rewind`` covers that case). The agent then seeks each partition of the failed batch
back: to the first offset some shard lacks, or to the batch's own first offset where nothing was
lost, so the whole batch is read again and each shard takes only what it lacks. The messages of
those partitions already fetched before the seek are still on their way to the agent; they are
dropped until the partition's first message read again arrives. (The topics' producers are
idempotent, not transactional: offsets are contiguous, so that message exists.)

Each such message, passing faust's fetch loop after the seek, moved faust's read offset past it, and
faust drops any message below its read offset: the messages read again would all have been dropped,
and the partition waited for one that never came (seen once, under heavy load: 11,114 of 18,000
events learned, then nothing). So every batch that drops messages of a partition seeks it back again.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

import faust
from faust.types import TP

from storage.model_store import RedisBehind
from streams.retry import until_stored

log = logging.getLogger(__name__)


class Resume:
    """The partitions sought back, and the offset each is waiting for."""

    def __init__(self) -> None:
        self.waiting: dict[int, int] = {}

    async def forget(self, *args: Any, **kwargs: Any) -> None:
        """After a rebalance nothing is awaited: every partition then resumes from its committed offset
        (moved back to what Redis holds where that is behind, ``streams.rewind``), and one that came
        back from another worker may never show the offset awaited here."""
        self.waiting.clear()

    async def kept(self, consumer: Any, topic: str, events: Sequence[Any]) -> list[Any]:
        """``events`` without those fetched before a seek (their partition's awaited offset not seen
        yet); a partition some were dropped from is sought back again (the module's docstring says why)."""
        kept, dropped = self.filtered(events)
        for partition in dropped:
            tp = TP(topic, partition)
            if tp in consumer.assignment():
                await consumer.seek(tp, self.waiting[partition])
                log.info("partition %d sought back again to %d (messages fetched before the seek dropped)",
                         partition, self.waiting[partition])
        return kept

    def filtered(self, events: Sequence[Any]) -> tuple[list[Any], set[int]]:
        """``events`` without those of partitions still awaiting an offset, and those partitions.

        >>> from types import SimpleNamespace as N
        >>> def e(p, o): return N(message=N(partition=p, offset=o))
        >>> r = Resume(); r.waiting = {0: 5, 2: 7}
        >>> kept, dropped = r.filtered([e(0, 9), e(1, 3), e(0, 5), e(0, 6), e(2, 8)])
        >>> [(x.message.partition, x.message.offset) for x in kept], dropped, r.waiting
        ([(1, 3), (0, 5), (0, 6)], {2}, {2: 7})
        """
        if not self.waiting:
            return list(events), set()
        kept, dropped = [], set()
        for event in events:
            partition, offset = event.message.partition, event.message.offset
            awaited = self.waiting.get(partition)
            if awaited is not None:
                if offset != awaited:
                    dropped.add(partition)
                    continue
                del self.waiting[partition]
            kept.append(event)
        return kept, {p for p in dropped if p in self.waiting}

    async def learned(self, consumer: Any, topic: str, events: Sequence[Any], what: str,
                      learn: Callable[[Any], Awaitable[Any]], batch: Any) -> bool:
        """``learn(batch)`` until stored; False when Redis had lost this worker's writes, the batch's
        partitions then sought back to read them again (the caller drops the batch)."""
        try:
            await until_stored(what, learn, batch)
        except RedisBehind as behind:
            sought = await self.seek(consumer, topic, events, behind.resume)
            log.warning("%s; partitions sought back to %s", behind, sought)
            return False
        return True

    async def seek(self, consumer: Any, topic: str, events: Sequence[Any], lost: dict[int, int]) -> dict[int, int]:
        """Seek every partition of ``events`` (one batch) back to where it must be read again; returns
        where each was sought."""
        start: dict[int, int] = {}
        for event in events:
            partition, offset = event.message.partition, event.message.offset
            start[partition] = min(offset, start.get(partition, offset))
        for partition, offset in lost.items():
            start[partition] = min(offset, start.get(partition, offset))
        sought = {}
        for partition, offset in start.items():
            tp = TP(topic, partition)
            if tp not in consumer.assignment():  # handed over meanwhile: its new owner rewinds it (streams.rewind)
                continue
            await consumer.seek(tp, offset)
            self.waiting[partition] = sought[partition] = offset
        return sought


def resumable(app: faust.App) -> Resume:
    """A ``Resume`` for one agent, forgotten at every rebalance of ``app``."""
    resume = Resume()
    app.on_rebalance_complete.connect(resume.forget)
    return resume
