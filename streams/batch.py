"""Turn one ``take_events`` batch into numpy columns, and dead-letter what does not parse."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from streams.app import dead_letter_topic
from streams.dead_letter import dead_letter_record
from streams.schemas import Invalid, Rating, parse_message

FULL_VIEW_S = 90 * 60.0  # a watch of 90 minutes counts as complete when the event does not say so


@dataclass(frozen=True)
class Columns:
    partitions: np.ndarray
    offsets: np.ndarray
    users: np.ndarray
    movies: np.ndarray
    ratings: np.ndarray  # NaN for watches
    confidence: np.ndarray  # ratings: 1; watches: completion ratio
    timestamps: np.ndarray

    def __len__(self) -> int:
        return len(self.users)


async def collect(events: Sequence[Any], dead_letter: frozenset[str] = frozenset()) -> Columns:
    """Columns of the batch's valid events; refused messages from a topic in ``dead_letter``
    are dead-lettered (each topic's dead letters are owned by one agent, so none is sent twice)."""
    rows: list[tuple[int, int, int, int, float, float, float]] = []
    for event in events:
        message = event.message
        parsed = parse_message(event.value)
        if isinstance(parsed, Invalid):
            if message.topic in dead_letter:
                await dead_letter_topic.send(value=dead_letter_record(
                    event.value, message.topic, message.partition, message.offset, parsed.reason))
            continue
        for item in parsed:
            if isinstance(item, Rating):
                rows.append((message.partition, message.offset, item.user_id, item.movie_id, item.rating, 1.0,
                             item.timestamp))
            else:
                done = 1.0 if item.completed else min(item.seconds_watched / FULL_VIEW_S, 1.0)
                rows.append((message.partition, message.offset, item.user_id, item.movie_id, float("nan"), done,
                             item.timestamp))
    table = np.array(rows, dtype=np.float64).reshape(-1, 7)
    ints = table[:, :4].astype(np.int64)
    return Columns(ints[:, 0], ints[:, 1], ints[:, 2], ints[:, 3], table[:, 4], table[:, 5], table[:, 6])
