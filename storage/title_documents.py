"""A title's stored document from one change on the ``movies`` topic (``contracts.catalogue``).

Pure: the worker agent (``streams.agents.catalogue``) reads what MongoDB holds, calls this, and
writes the result. A change carries the title's whole public record, which replaces the stored one;
what the catalogue derived or learned of it (rating statistics, sources, the MovieLens raw title,
when it was first added) is kept.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from catalogue.build import TRACKED_FIELDS, search_key
from storage.catalogue_store import movie_key

NO_STATS = {"count": 0, "mean": None, "bayes_mean": None}


def title_document(record: dict[str, Any], stored: dict[str, Any] | None, now: datetime) -> dict[str, Any]:
    """The document to store for ``record`` (the change's fields), given the one stored, if any."""
    kept = stored or {}
    doc: dict[str, Any] = {**kept, **record, "_id": movie_key(record["movieId"])}
    doc["search_key"] = search_key(doc["title"], doc.get("alt_title"))
    doc["stats"] = kept.get("stats") or dict(NO_STATS)
    doc["missing"] = [f for f in TRACKED_FIELDS if doc.get(f) in (None, [], "")]
    doc["sources"] = sorted({*kept.get("sources", []), "stream"})
    # a new release: the exploration slot offers it for a while (``api.services.lists``); a title of
    # the built catalogue changed through the stream is not new
    doc["added_at"] = kept.get("added_at") if stored is not None else now
    doc["updated_at"] = now
    return doc

