"""Fresh recommendations from the models the stream keeps in Redis, each with its reason."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Query

from api.deps import DbDep, ModelsDep
from storage import catalogue_store, history_store

router = APIRouter(prefix="/api", tags=["recommendations"])


async def _titled(db: Any, ids: list[int]) -> dict[int, dict[str, Any]]:
    return {m["movieId"]: m for m in await catalogue_store.get_movies(db, ids)}


def _card(movie_id: int, movies: dict[int, dict[str, Any]]) -> dict[str, Any]:
    movie = movies.get(movie_id, {})
    return {"movieId": movie_id, "title": movie.get("title"), "year": movie.get("year"),
            "genres": movie.get("genres", [])}


@router.get("/users/{user_id}/recommendations")
async def recommendations(user_id: int, db: DbDep, models: ModelsDep,
                          k: int = Query(10, ge=1, le=100)) -> dict[str, Any]:
    """Top-k unseen movies by the online MF model; a new user gets what is trending."""
    scored = await models.mf.recommend(user_id, k)
    if not scored:
        trending = await models.trending.top(k)
        movies = await _titled(db, [m for m, _ in trending])
        return {"userId": user_id, "model": "trending (cold start)",
                "items": [{**_card(m, movies), "score": s, "reason": "trending now"} for m, s in trending]}
    rated = await models.mf.rated(user_id)
    liked = sorted(rated, key=lambda m: -rated[m])[:20]
    anchors = await models.similarity.best_anchor([m for m, _ in scored], liked)
    movies = await _titled(db, [m for m, _ in scored] + [a for a in anchors.values() if a is not None])
    items = []
    for movie_id, score in scored:
        anchor = anchors.get(movie_id)
        if anchor is not None:
            reason = f"because you rated {movies.get(anchor, {}).get('title', anchor)} {rated[anchor]:g}★"
        else:
            reason = "matches the taste your ratings show"
        items.append({**_card(movie_id, movies), "score": score, "reason": reason})
    return {"userId": user_id, "model": "online biased MF", "items": items}


@router.get("/users/{user_id}/history")
async def history(user_id: int, db: DbDep, limit: int = Query(50, ge=1, le=500)) -> dict[str, Any]:
    """The user's latest ratings and watches, as the history agent stored them."""
    events = await history_store.user_history(db, user_id, limit)
    movies = await _titled(db, [e["movie_id"] for e in events])
    return {"userId": user_id, "items": [
        {**_card(e["movie_id"], movies), **{k: e.get(k) for k in ("type", "rating", "seconds_watched", "completed",
                                                                  "timestamp", "source")}} for e in events]}


@router.get("/movies/{movie_id}/similar")
async def similar(movie_id: int, db: DbDep, models: ModelsDep, k: int = Query(10, ge=1, le=100)) -> dict[str, Any]:
    neighbours = await models.similarity.similar(movie_id, k)
    movies = await _titled(db, [m for m, _ in neighbours])
    return {"movieId": movie_id, "items": [{**_card(m, movies), "similarity": s} for m, s in neighbours]}


@router.get("/trending")
async def trending(db: DbDep, models: ModelsDep, k: int = Query(20, ge=1, le=100)) -> dict[str, Any]:
    top = await models.trending.top(k)
    movies = await _titled(db, [m for m, _ in top])
    return {"items": [{**_card(m, movies), "score": s} for m, s in top]}
