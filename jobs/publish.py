"""``cinestream model publish``: fit the hybrid on the stored history and publish its lists to Redis.

The batch side of a lambda-style design: the hybrid (the best model ``bench/accuracy.py``
measures) is refitted periodically on everything MongoDB holds; the API blends its lists with
the online MF, which has seen the events since. Each list carries the movie that explains it.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd
import redis.asyncio as aioredis
from rich.console import Console
from rich.progress import Progress

from core.settings import Settings
from recommenders.base import top_k
from recommenders.content import ContentBased, reduced
from recommenders.data import Ratings
from recommenders.explain import anchors
from recommenders.live_fit import fit_live
from recommenders.overview_embeddings import overview_embeddings
from recommenders.production import content_vectors, genre_names, genre_vectors, text_content_vectors, warm_up
from recommenders.production import hybrid as ranking_hybrid
from storage import catalogue_store, content_store, live_model_store, published_store, rating_store
from storage.mongo import connect, database
from storage.redis_store import connect as connect_redis

USERS_PER_BLOCK = 256
SIMILAR = 20


def catalogue_ratings(ratings: pd.DataFrame, documents: Mapping[int, Mapping[str, Any]]
                      ) -> tuple[Ratings, np.ndarray, np.ndarray]:
    """The ratings as codes over the whole catalogue (so films nobody rated get content neighbours
    and a place in the live ranker), the catalogue's ids and the people's ids."""
    catalogue = np.union1d(np.array(sorted(documents), dtype=np.int64), ratings["movieId"].to_numpy())
    user_ids, users = np.unique(ratings["userId"].to_numpy(), return_inverse=True)
    data = Ratings(users.astype(np.int64), np.searchsorted(catalogue, ratings["movieId"].to_numpy()),
                   ratings["rating"].to_numpy(np.float64), ratings["timestamp"].to_numpy(np.int64),
                   len(user_ids), len(catalogue))
    return data, catalogue, user_ids


async def publish_live(redis: aioredis.Redis, data: Ratings, catalogue: np.ndarray,
                       documents: Mapping[int, Mapping[str, Any]]) -> tuple[int, dict[str, object]]:
    """Fit the live ranker on ``catalogue_ratings``' codes (its blend learned on held-out people) and make
    it what every list is ranked by; returns its version and what was learned."""
    live, learned = await asyncio.to_thread(fit_live, data, catalogue,
                                            genre_vectors(catalogue, documents).astype(np.uint8),
                                            genre_names(documents))
    version = await live_model_store.install(redis, live, {"created": time.time(), "ratings": len(data),
                                                           "trigger": "published (cinestream model publish)",
                                                           "learned": learned})
    return version, learned


async def publish(settings: Settings, console: Console, k: int = 50, text: bool = True) -> str:
    client = connect(settings)
    try:
        with console.status("reading ratings and the catalogue from MongoDB…"):
            db = database(client, settings)
            ratings = await rating_store.all_ratings(db)
            documents = await catalogue_store.content_documents(db)
    finally:
        client.close()
    if ratings.empty:
        return "no ratings stored: run `cinestream catalogue build` first"
    started = time.monotonic()
    data, catalogue, user_ids = catalogue_ratings(ratings, documents)
    redis = connect_redis(settings)
    try:  # first: the lists of everyone, new people included, are ranked by it from now on
        with console.status(f"fitting the live ranker on {len(data):,} ratings…"):
            live_version, learned = await publish_live(redis, data, catalogue, documents)
    finally:
        await redis.aclose()
    with_text = text_content_vectors(catalogue, documents, settings.cache_dir, console=console) if text else None
    vectors = content_vectors(catalogue, documents) if with_text is None else with_text
    warm_up()
    with console.status(f"fitting the hybrid on {len(data):,} ratings…"):
        hybrid = ranking_hybrid(lambda: ContentBased(vectors), rate=False).fit(data)
    seen = data.matrix()
    lists: dict[int, np.ndarray] = {}
    with Progress(console=console, transient=True) as bar:
        task = bar.add_task("ranking every user's catalogue", total=data.n_users)
        for start in range(0, data.n_users, USERS_PER_BLOCK):
            block = np.arange(start, min(start + USERS_PER_BLOCK, data.n_users))
            scores = np.array(hybrid.score(block), dtype=np.float64)
            mine = seen[block]
            rows = mine.tocoo()
            scores[rows.row, rows.col] = -np.inf
            top = top_k(scores, k)
            for row, user in enumerate(block.tolist()):
                rated = mine.getrow(row)
                why = anchors(rated.indices, rated.data, vectors, top[row])
                lists[int(user_ids[user])] = np.column_stack([
                    catalogue[top[row]], scores[row, top[row]],
                    np.where(why >= 0, catalogue[np.maximum(why, 0)], -1)])
            bar.advance(task, len(block))
        similar: dict[int, np.ndarray] = {}
        task = bar.add_task("content neighbours of every movie", total=len(catalogue))
        for start in range(0, len(catalogue), 1000):
            rows = np.arange(start, min(start + 1000, len(catalogue)))
            sims = np.asarray((vectors[rows] @ vectors.T).todense())
            sims[np.arange(len(rows)), rows] = -np.inf
            best = top_k(sims, SIMILAR)
            for j, movie in enumerate(rows.tolist()):
                similar[int(catalogue[movie])] = np.column_stack([catalogue[best[j]], sims[j, best[j]]])
            bar.advance(task, len(rows))
    meta = {"created": time.time(), "model": "hybrid", "ratings": len(data), "users": len(lists),
            "movies": len(catalogue), "overview_embeddings": with_text is not None,
            "validation_ndcg@10": hybrid.validation_ndcg, "ranking_weights": list(hybrid.ranking_weights),
            "live_version": live_version, "live_learned": learned}
    redis = connect_redis(settings)
    try:
        await published_store.publish(redis, lists, similar, meta)
        await content_store.install(redis, catalogue, reduced(vectors))  # for the stream's correction
        # cached by text_content_vectors (read back, not computed again); without them, new titles are not embedded
        embedded = overview_embeddings(catalogue, documents, settings.cache_dir) if with_text is not None else None
        await content_store.install_overviews(redis, catalogue, embedded)
    finally:
        await redis.aclose()
    return (f"published the live ranker (version {live_version}) and the hybrid's top {k} for {len(lists):,} "
            f"users and content neighbours of "
            f"{len(similar):,} movies in {time.monotonic() - started:.1f}s "
            f"(validation NDCG@10 {hybrid.validation_ndcg:.4f})")
