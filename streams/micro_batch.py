"""Turn one batch of stream events into numpy columns, and dead-letter what does not parse."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from contracts.events import Erasure, EventLists, Invalid, decode_message
from online_models.feedback import confidence
from streams.app import Worker
from streams.dead_letter import dead_letter_record
from streams.event_columns import EventColumns


@dataclass(frozen=True)
class MicroBatch:
    """The valid events of a batch and where each came from in Kafka."""

    events: EventColumns
    partitions: np.ndarray  # int64
    offsets: np.ndarray  # int64
    erasures: tuple[int, ...] = ()  # people whose accounts were deleted: each agent forgets them

    def __len__(self) -> int:
        return len(self.events)

    @property
    def confidence(self) -> np.ndarray:
        """Ratings: 1; watches: the completion ratio."""
        return confidence(self.events.kinds, self.events.completed, self.events.seconds)


async def collect(worker: Worker, events: Sequence[Any], dead_letter: frozenset[str] = frozenset()) -> MicroBatch:
    """The batch's valid events; refused messages from a topic in ``dead_letter`` are
    dead-lettered (each topic's dead letters are owned by one agent, so none is sent twice).

    An event for a movie not in the catalogue is dropped; its message is dead-lettered with the
    reason, and the message's other events are learned."""
    known = await worker.known_movies.ready(worker.catalogue_db)
    parts: list[EventLists] = []
    where: list[tuple[int, int, int]] = []
    kept: list[Any] = []
    erased: list[int] = []
    for event in events:
        message = event.message
        parsed = decode_message(event.value)
        if isinstance(parsed, Erasure):
            erased.append(parsed.user_id)
            continue
        if isinstance(parsed, Invalid):
            if message.topic in dead_letter:
                await worker.dead_letter_topic.send(value=dead_letter_record(
                    event.value, message.topic, message.partition, message.offset, parsed.reason))
            continue
        parts.append(parsed)
        kept.append(event)
        where.append((message.partition, message.offset, len(parsed.users)))
    table = np.array(where, dtype=np.int64).reshape(-1, 3)
    columns = EventColumns.of(parts)
    partitions, offsets = np.repeat(table[:, 0], table[:, 2]), np.repeat(table[:, 1], table[:, 2])
    unknown = known.unknown(columns.movies)
    if not unknown.any():
        return MicroBatch(columns, partitions, offsets, tuple(erased))
    message_of = np.repeat(np.arange(len(kept)), table[:, 2])
    await _dead_letter_unknown(worker, kept, message_of, columns, unknown, dead_letter)
    keep = ~unknown
    return MicroBatch(columns.take(keep), partitions[keep], offsets[keep], tuple(erased))


async def _dead_letter_unknown(worker: Worker, messages: list[Any], message_of: np.ndarray, columns: EventColumns,
                               unknown: np.ndarray, dead_letter: frozenset[str]) -> None:
    """One dead letter per message holding events for movies outside the catalogue."""
    for j in np.unique(message_of[unknown]).tolist():
        message = messages[j].message
        if message.topic not in dead_letter:
            continue
        bad = np.flatnonzero(unknown & (message_of == j))
        named = ", ".join(f"movie_id {columns.movies[b]} (event {columns.event_ids[b]})" for b in bad[:5].tolist())
        more = f" and {len(bad) - 5} more" if len(bad) > 5 else ""
        reason = f"not in the catalogue: {named}{more}; {len(bad)} of {int((message_of == j).sum())} events refused"
        await worker.dead_letter_topic.send(value=dead_letter_record(
            messages[j].value, message.topic, message.partition, message.offset, reason))
