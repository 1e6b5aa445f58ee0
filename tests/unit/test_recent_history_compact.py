"""Compacting packed recent histories: newest first, each record once, capped (pure numpy, no Redis)."""

from __future__ import annotations

import numpy as np

from storage.recent_history import KEEP, RECORD, compact

rng = np.random.default_rng(0)


def _events(n: int, after: float = 0.0) -> np.ndarray:
    events = np.zeros(n, dtype=RECORD)
    events["t"], events["movie"], events["stars"] = after + rng.random(n) * 1e6, rng.integers(0, 50, n), 8
    return events


def definition(owners: np.ndarray, events: np.ndarray, people: int) -> list[list[bytes]]:
    """Per owner: every distinct record, newest first (ties by bytes do not occur here), the first KEEP."""
    out = []
    for i in range(people):
        distinct = {r.tobytes(): float(r["t"]) for r in events[owners == i]}
        out.append(sorted(distinct, key=lambda raw: -distinct[raw])[:KEEP])
    return out


def test_compacted_histories_are_newest_first_distinct_and_capped_in_every_arrival_order() -> None:
    for trial in range(300):
        people = int(rng.integers(1, 6))
        n = int(rng.integers(0, 700))
        owners, events = rng.integers(0, people, n), _events(n)
        if n > 3 and trial % 3 == 0:
            events[1], owners[1] = events[0], owners[0]  # a redelivered event
        got_owners, got = compact(owners, events)
        assert (np.diff(got_owners) >= 0).all(), trial
        assert [[r.tobytes() for r in got[got_owners == i]] for i in range(people)] \
            == definition(owners, events, people), trial
