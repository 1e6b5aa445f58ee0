"""A batch's events as the documents the history keeps (MongoDB) and shows (Redis' recent history)."""

from __future__ import annotations

from typing import Any

from streams.batch import Batch


def documents(batch: Batch) -> list[dict[str, Any]]:
    """One document per event, ``_id`` its event id; a watch keeps its seconds, a rating its stars."""
    e = batch.events
    common = zip(e.event_ids, e.kinds.tolist(), e.users.tolist(), e.movies.tolist(), e.timestamps.tolist(), e.sources,
                 batch.partitions.tolist(), batch.offsets.tolist(), strict=True)
    kind_fields = zip(e.ratings.tolist(), e.seconds.tolist(), e.completed.tolist(), strict=True)
    return [{"_id": event_id, "type": "watch" if watch else "rating", "user_id": user, "movie_id": movie,
             "timestamp": timestamp, "source": source, "partition": partition, "offset": offset,
             **({"seconds_watched": seconds, "completed": completed} if watch else {"rating": rating})}
            for (event_id, watch, user, movie, timestamp, source, partition, offset), (rating, seconds, completed)
            in zip(common, kind_fields, strict=True)]
