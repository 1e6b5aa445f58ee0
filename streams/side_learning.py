"""One batch into a side model: read what its learner needs from its store, let the learner compute the
update, have the store write it. The agents and the repair job (``jobs.repair``) learn through these, so
the learner (``online_models``) and its store (``storage``) never call each other.
"""

from __future__ import annotations

import time

import numpy as np

from online_models.cooccurrence import CoOccurrence
from online_models.trending import Trending
from storage.similarity_store import SimilarityStore
from storage.trending_store import TrendingStore


async def learn_trending(store: TrendingStore, model: Trending, movies: np.ndarray, weights: np.ndarray,
                         timestamps: np.ndarray, now: float | None = None) -> None:
    """``now``: the learner's clock, which bounds the events' timestamps (``Trending.bounded``)."""
    if not len(movies):
        return
    await store.write(model.update(movies, weights, timestamps, await store.epoch(),
                                   time.time() if now is None else now))


async def learn_similarity(store: SimilarityStore, model: CoOccurrence, users: np.ndarray, movies: np.ndarray,
                           weights: np.ndarray) -> int:
    """Returns how many movies' rows were written (events of weight 0 teach nothing)."""
    positive = weights > 0
    recent = await store.recent(users[positive]) if positive.any() else {}
    return await store.write(model.update(users, movies, weights, recent))
