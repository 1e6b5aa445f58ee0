"""``cinestream model repair``: undo what phantom movies and wild timestamps did before the boundary.

Trending and item–item similarity are rebuilt from the stored history (MongoDB ``events``), keeping
only movies in the catalogue and bounding every timestamp by now; the MF's phantom item rows are
dropped. User rows are kept: an event for a phantom movie moved a user's row by one SGD step,
which later ratings have long averaged out, and rebuilding them would need the whole history replayed.
Stop the side-role workers first (they would write while the rebuild runs).
"""

from __future__ import annotations

import time

import numpy as np
from rich.console import Console
from rich.progress import Progress

from core.settings import Settings
from online_models.cooccurrence import CoOccurrence
from online_models.feedback import confidence
from online_models.trending import Trending
from storage import catalogue_store, history_store, model_store
from storage.mongo import connect, database
from storage.redis_store import connect as connect_redis
from storage.similarity_store import SimilarityStore
from storage.trending_store import TrendingStore
from streams.side_learning import learn_similarity, learn_trending

CHUNK = 10_000


async def repair(settings: Settings, console: Console) -> str:
    started, now = time.monotonic(), time.time()
    client, redis = connect(settings), connect_redis(settings)
    try:
        db = database(client, settings)
        known = np.sort(await catalogue_store.movie_ids(db))
        if not len(known):
            raise RuntimeError("no catalogue in MongoDB: run `cinestream catalogue build` first")
        with console.status("reading the stored history from MongoDB…"):
            events = await history_store.all_events(db)
        valid = events[np.isin(events["movie_id"].to_numpy(), known)]
        cooc, trend = CoOccurrence(), Trending()
        trending, similarity = TrendingStore(redis), SimilarityStore(redis)
        await trending.clear()
        await similarity.clear()
        phantoms = await model_store.drop_items(redis, known)
        with Progress(console=console) as bar:
            task = bar.add_task("rebuilding trending and similarity", total=len(valid))
            for start in range(0, len(valid), CHUNK):
                chunk = valid.iloc[start:start + CHUNK]
                watches, movies = chunk["watch"].to_numpy(), chunk["movie_id"].to_numpy(dtype=np.int64)
                trust = confidence(watches, chunk["completed"].to_numpy(), chunk["seconds_watched"].to_numpy())
                await learn_trending(trending, trend, movies, trust, chunk["timestamp"].to_numpy(), now=now)
                await learn_similarity(similarity, cooc, chunk["user_id"].to_numpy(dtype=np.int64), movies,
                                       cooc.event_weights(watches, trust, chunk["rating"].to_numpy()))
                bar.advance(task, len(chunk))
        return (f"repaired in {time.monotonic() - started:.1f}s: {len(valid)} of {len(events)} stored events "
                f"replayed into trending and similarity ({len(events) - len(valid)} for movies outside the "
                f"catalogue dropped), {len(phantoms)} phantom MF item rows deleted")
    finally:
        client.close()
        await redis.aclose()
