"""A batch's events as numpy columns: what every agent consumes.

Messages are decoded one by one (``contracts.events.decode_message``) into lists and joined into
arrays once per batch: a numpy array per field and message cost more than decoding the message.
"""

from __future__ import annotations

from dataclasses import dataclass
from itertools import chain
from typing import Any

import numpy as np

from contracts.events import Erasure, EventLists, Invalid, decode_message

_DTYPES = {"kinds": bool, "users": np.int64, "movies": np.int64, "ratings": np.float64, "seconds": np.float64,
           "completed": bool, "timestamps": np.float64}


@dataclass(frozen=True)
class EventColumns:
    """Events of one batch, a numpy column per field: what every agent consumes."""

    event_ids: list[str]
    kinds: np.ndarray  # bool: True for a watch
    users: np.ndarray  # int64
    movies: np.ndarray  # int64
    ratings: np.ndarray  # float64, NaN for watches
    seconds: np.ndarray  # float64, NaN for ratings
    completed: np.ndarray  # bool, False for ratings
    timestamps: np.ndarray  # float64
    sources: list[str]

    def __len__(self) -> int:
        return len(self.users)

    def take(self, keep: np.ndarray) -> EventColumns:
        """The events where ``keep`` is True (rare: a batch with refused events)."""
        at = np.flatnonzero(keep).tolist()
        return EventColumns(event_ids=[self.event_ids[j] for j in at], sources=[self.sources[j] for j in at],
                            **{name: getattr(self, name)[keep] for name in _DTYPES})

    @staticmethod
    def of(parts: list[EventLists]) -> EventColumns:
        def joined(name: str) -> list[Any]:
            return list(chain.from_iterable(getattr(part, name) for part in parts))

        arrays = {name: np.array(joined(name), dtype=dtype) for name, dtype in _DTYPES.items()}
        return EventColumns(event_ids=joined("event_ids"), sources=joined("sources"), **arrays)


def parse_message(raw: bytes | None) -> EventColumns | Invalid:
    """``decode_message`` as columns: for one message on its own (a batch joins its messages first)."""
    decoded = decode_message(raw)
    if isinstance(decoded, Erasure):
        return Invalid("an erasure, not events")
    return decoded if isinstance(decoded, Invalid) else EventColumns.of([decoded])
