"""A batch's events as the documents the archive keeps in MongoDB."""

from __future__ import annotations

from typing import Any

import numpy as np

from online_models.runs import run_starts
from streams.micro_batch import MicroBatch


def archived(batch: MicroBatch) -> list[dict[str, Any]]:
    """The batch as the documents the archive stores (``storage.history_store``): one per message
    and kind of event, its events as columns. A message's events arrive together and in order."""
    e, n = batch.events, len(batch)
    if not n:
        return []
    starts = run_starts(batch.partitions, batch.offsets, e.kinds)
    watch = e.kinds.tolist()
    columns = {
        "event_id": e.event_ids, "type": ["watch" if w else "rating" for w in watch], "user_id": e.users.tolist(),
        "movie_id": e.movies.tolist(), "timestamp": e.timestamps.tolist(), "source": e.sources,
        "rating": [None if w else r for w, r in zip(watch, e.ratings.tolist(), strict=True)],
        "seconds_watched": [s if w else None for w, s in zip(watch, e.seconds.tolist(), strict=True)],
        "completed": [c if w else None for w, c in zip(watch, e.completed.tolist(), strict=True)]}
    return [{"_id": e.event_ids[a], "partition": int(batch.partitions[a]), "offset": int(batch.offsets[a]),
             "n": b - a, **{name: values[a:b] for name, values in columns.items()}}
            for a, b in zip(starts.tolist(), np.r_[starts[1:], n].tolist(), strict=True)]
