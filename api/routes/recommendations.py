"""Fresh recommendations from the models the stream keeps in Redis, each with its reason."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException, Path, Query

from api.deps import DbDep, ModelsDep, ProducerDep, RedisDep, SearchDep, SettingsDep
from api.errors import documented
from api.security.policy import OWNER_OR_HISTORY, OWNER_OR_READER, PUBLIC, Principal
from api.services.experiments import served_list
from api.services.lists import current, history_of, spare, titled
from contracts.events import MAX_MOVIE_ID, MAX_USER_ID
from storage import published_store, recent_history

router = APIRouter(prefix="/api", tags=["recommendations"])


@router.get("/users/{user_id}/recommendations", responses=documented(422))
async def recommendations(user_id: Annotated[int, Path(ge=0, le=MAX_USER_ID)], db: DbDep, index: SearchDep,
                          models: ModelsDep, redis: RedisDep, producer: ProducerDep, settings: SettingsDep,
                          who: Annotated[Principal, Depends(OWNER_OR_READER)],
                          k: int = Query(10, ge=1, le=100)) -> dict[str, Any]:
    """Top-k unseen movies, each with its reason, ranked from everything the person has done up to now:
    by the live ranker once a model is published (``online_models.live_ranker``), before that by the
    offline hybrid's list fused with the online MF; someone with no events and no model gets what is
    trending. While an experiment runs, the list is the person's arm's, or both arms' interleaved, and
    ``experiment`` says which (``/api/admin/experiments``)."""
    return await served_list(user_id, (index, db), models, redis, producer, settings, k)


@router.get("/users/{user_id}/history", responses=documented(422))
async def history(user_id: Annotated[int, Path(ge=0, le=MAX_USER_ID)], db: DbDep, index: SearchDep, redis: RedisDep,
                  who: Annotated[Principal, Depends(OWNER_OR_HISTORY)],
                  limit: int = Query(50, ge=1, le=recent_history.KEEP)) -> dict[str, Any]:
    """The user's latest ratings and watches, as the history agent stored them."""
    return await history_of(user_id, (index, db), redis, limit)


@router.get("/movies/{movie_id}/similar", responses=documented(410, 422))
async def similar(movie_id: Annotated[int, Path(ge=0, le=MAX_MOVIE_ID)], db: DbDep, index: SearchDep, models: ModelsDep,
                  redis: RedisDep,
                  who: Annotated[Principal, Depends(PUBLIC)], k: int = Query(10, ge=1, le=100)) -> dict[str, Any]:
    """Movies watched together with this one; for a movie too new for that, the closest in content."""
    if movie_id in index.retired:
        raise HTTPException(410, f"movie {movie_id} was retired from the catalogue")
    wanted = k + spare(index)
    neighbours = current(index, await models.similarity.similar(movie_id, wanted), k)
    basis = "watched together"
    if not neighbours:
        content = await published_store.similar(redis, movie_id)
        neighbours = current(index, [(int(m), float(s)) for m, s in content], k)
        basis = "content"
    movies = await titled((index, db), [m for m, _ in neighbours])
    return {"movieId": movie_id, "basis": basis,
            "items": [{**movies[m], "similarity": s} for m, s in neighbours]}


@router.get("/trending", responses=documented(422))
async def trending(db: DbDep, index: SearchDep, models: ModelsDep, who: Annotated[Principal, Depends(PUBLIC)],
                   k: int = Query(20, ge=1, le=100)) -> dict[str, Any]:
    top = current(index, await models.trending.top(k + spare(index)), k)
    movies = await titled((index, db), [m for m, _ in top])
    return {"items": [{**movies[m], "score": s} for m, s in top]}
