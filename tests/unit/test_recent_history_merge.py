"""Merging a batch's events into people's packed recent histories (pure numpy, no Redis)."""

from __future__ import annotations

import numpy as np

from storage.recent_history import KEEP, RECORD, merge

rng = np.random.default_rng(0)


def _events(n: int, after: float = 0.0) -> np.ndarray:
    events = np.zeros(n, dtype=RECORD)
    events["t"], events["movie"], events["stars"] = after + rng.random(n) * 1e6, rng.integers(0, 50, n), 8
    return events


def _definition(stored: list[np.ndarray], users: np.ndarray, events: np.ndarray) -> list[list[bytes]]:
    """Per user: every distinct record, newest first (ties by bytes do not occur here), the first KEEP."""
    out = []
    for i, own in enumerate(stored):
        distinct = {r.tobytes(): float(r["t"]) for r in np.concatenate([own, events[users == i]])}
        out.append(sorted(distinct, key=lambda raw: -distinct[raw])[:KEEP])
    return out


def test_merged_histories_are_newest_first_distinct_and_capped_in_every_arrival_order() -> None:
    for trial in range(300):
        people = int(rng.integers(1, 6))
        histories = [_events(int(rng.integers(0, 260))) for _ in range(people)]
        stored = [own[np.argsort(-own["t"])][:KEEP] for own in histories]
        n = int(rng.integers(0, 60))
        users = rng.integers(0, people, n)
        events = _events(n, after=float(rng.choice([0.0, 2e6])))  # late arrivals, or all newer than stored
        if n and trial % 3 == 0 and len(stored[users[0]]):
            events[0] = stored[users[0]][0]  # a redelivered event
        owners, merged = merge(np.concatenate(stored), np.array([len(s) for s in stored]), users, events)
        got = [[r.tobytes() for r in merged[owners == i]] for i in range(people)]
        assert got == _definition(stored, users, events), trial
