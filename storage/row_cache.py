"""What a learning worker last read from or wrote to Redis for the model, kept to skip the read.

Without it a batch costs two round trips: read every row it touches, then compare-and-write them.
Most rows a batch touches were read or written by this worker a moment before (a user rates
film after film; popular films come back in every batch), and the rest are mostly new (a new
user, a new film). The compare-and-write already checks every row against Redis byte for byte,
and a refused write answers with the current state, so ``ModelStore.state`` starts a batch from this
cache, guesses "new" for what it lacks, and needs the read only when nothing is cached yet or
when recent reads showed the guess wrong. A stale row or a wrong guess then costs one refused
write, which is no more than the read it replaced.

What the cache cannot be trusted with is a *skip*: an applied offset held here may be ahead of
Redis (whose state was reset or lost), and a batch skipped on the cache's word would write
nothing, so nothing would check it. ``streams.mf_learning`` re-reads the offsets before it skips.

Bounded by ``limit`` rows: past it the cache is emptied (the next batches read again), which
keeps the hot path free of any bookkeeping per access.
"""

from __future__ import annotations

from collections.abc import Iterable


class RowCache:
    """Rows (``b""``: known to be absent) by (kind, id); applied offsets by (shard row, topic, partition)."""

    def __init__(self, limit: int = 200_000) -> None:
        self.limit = limit
        self.rows: dict[tuple[str, int], bytes] = {}
        self.applied: dict[tuple[int, str, int], int] = {}
        self.stats: tuple[float, int] | None = None  # (mean of the ratings learned, how many)

    def missing(self, kind: str, ids: Iterable[int]) -> list[int]:
        rows = self.rows
        return [i for i in ids if (kind, i) not in rows]

    def get(self, kind: str, ids: Iterable[int]) -> list[bytes]:
        """The cached rows; ``b""`` (absent) for those not cached."""
        rows = self.rows
        return [rows.get((kind, i), b"") for i in ids]

    def put(self, kind: str, ids: Iterable[int], blobs: Iterable[bytes]) -> None:
        self.rows.update(((kind, i), blob) for i, blob in zip(ids, blobs, strict=True))

    def forget_users(self, users: Iterable[int]) -> None:
        """Drop erased people's rows: a worker's memory keeps no more of them than Redis does."""
        for user in users:
            self.rows.pop(("u", user), None)

    def trim(self) -> None:
        """Empty the rows once past the limit (called between batches, never within one)."""
        if len(self.rows) > self.limit:
            self.rows.clear()

    def clear(self) -> None:
        self.rows.clear()
        self.applied.clear()
        self.stats = None
