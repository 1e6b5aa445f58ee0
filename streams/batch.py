"""Turn one batch of stream events into numpy columns, and dead-letter what does not parse."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from streams.app import dead_letter_topic
from streams.dead_letter import dead_letter_record
from streams.schemas import EventColumns, EventLists, Invalid, decode_message

FULL_VIEW_S = 90 * 60.0  # a watch of 90 minutes counts as complete when the event does not say so


@dataclass(frozen=True)
class Batch:
    """The valid events of a batch and where each came from in Kafka."""

    events: EventColumns
    partitions: np.ndarray  # int64
    offsets: np.ndarray  # int64

    def __len__(self) -> int:
        return len(self.events)

    @property
    def confidence(self) -> np.ndarray:
        """Ratings: 1; watches: the completion ratio."""
        e = self.events
        return np.where(e.kinds, np.where(e.completed, 1.0, np.minimum(np.nan_to_num(e.seconds) / FULL_VIEW_S, 1.0)),
                        1.0)


async def collect(events: Sequence[Any], dead_letter: frozenset[str] = frozenset()) -> Batch:
    """The batch's valid events; refused messages from a topic in ``dead_letter`` are
    dead-lettered (each topic's dead letters are owned by one agent, so none is sent twice)."""
    parts: list[EventLists] = []
    where: list[tuple[int, int, int]] = []
    for event in events:
        message = event.message
        parsed = decode_message(event.value)
        if isinstance(parsed, Invalid):
            if message.topic in dead_letter:
                await dead_letter_topic.send(value=dead_letter_record(
                    event.value, message.topic, message.partition, message.offset, parsed.reason))
            continue
        parts.append(parsed)
        where.append((message.partition, message.offset, len(parsed.users)))
    table = np.array(where, dtype=np.int64).reshape(-1, 3)
    return Batch(EventColumns.of(parts), np.repeat(table[:, 0], table[:, 2]), np.repeat(table[:, 1], table[:, 2]))
