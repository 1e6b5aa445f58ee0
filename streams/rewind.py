"""Resume a partition from what Redis has applied when Redis is behind Kafka's committed offset.

Redis appends every write to its AOF but fsyncs it once a second (``appendfsync everysec``): a
process crash loses nothing, a machine crash can lose up to a second of model writes whose Kafka
offsets were already committed. Read from the committed offset, those events would never be
learned. So when partitions are assigned, each one's committed offset is compared with the offset
Redis last applied (``{mf}:applied``, written by a batch's commit once every shard holds its part),
and where Redis is behind, the group's committed offset is moved back to just after it. This runs
on ``on_rebalance_complete``, which faust's recovery awaits right before it seeks every partition
to its committed offset and resumes fetching (``on_partitions_assigned`` is too early: recovery
does not wait for it, and may already be fetching from the old offsets). The events in between go
through the usual exactly-once apply again: skipped where applied, learned where lost.

Side agents consuming the same topic in the same worker see those events twice: ``history`` is
idempotent by event id; ``trending`` and ``similarity`` count them again (approximate by design).
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from typing import Any

import faust
from faust.types import TP

from storage.model_store import ModelStore
from streams.retry import until_stored

log = logging.getLogger(__name__)


def behind(assigned: Iterable[TP], topic: str, committed: dict[TP, int | None], applied: dict[int, int]
           ) -> dict[TP, int]:
    """The offsets to resume from: just after Redis' applied offset, where that is before the committed one."""
    return {tp: applied[tp.partition] + 1 for tp in assigned
            if tp.topic == topic and tp.partition in applied and committed.get(tp) is not None
            and applied[tp.partition] + 1 < (committed[tp] or 0)}


def rewind_to_redis(app: faust.App, store: ModelStore, topic: str) -> None:
    """After every rebalance, empty ``store``'s row cache and move the committed offsets of
    ``topic`` back to what it has applied."""

    async def before_fetching(sender: Any, *args: Any, signal: Any, **kwargs: Any) -> None:
        store.forget()  # partitions may have changed hands: the rows cached from them may be stale
        consumer: Any = app.consumer  # the transport's consumer: commits offsets it did not read
        ours = [tp for tp in consumer.assignment() if tp.topic == topic]
        if not ours:
            return
        # Redis may be restarting (or loading its AOF) just when the group rebalances: wait for it,
        # as the agents do, rather than crash the worker (the soak met it)
        applied = await until_stored("reading Redis' applied offsets", store.applied_for, topic,
                                     [tp.partition for tp in ours])
        committed = dict(await consumer.seek_to_committed())
        rewind = behind(ours, topic, committed, applied)
        if rewind:
            log.warning("Redis is behind Kafka (writes lost, e.g. to a machine crash): resuming %s",
                        {f"{tp.topic}:{tp.partition}": (committed[tp], offset) for tp, offset in rewind.items()})
            await consumer._commit(rewind)  # faust then seeks every partition to its committed offset

    app.on_rebalance_complete.connect(before_fetching)  # type: ignore[arg-type]  # mode types the return as a union
