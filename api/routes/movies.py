"""Catalogue: search and a movie page."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException, Path, Query

from api.deps import DbDep, SearchDep
from api.errors import documented
from api.security.policy import PUBLIC, Principal
from cinestream.catalogue.titles import title_key
from storage import catalogue_store
from streams.schemas import MAX_ID

router = APIRouter(prefix="/api/movies", tags=["movies"])

PUBLIC_FIELDS = ("movieId", "title", "alt_title", "year", "genres", "directors", "cast", "writers",
                 "overview", "tagline", "runtime", "keywords", "tags", "stats", "imdbId", "tmdbId", "missing")


def public(movie: dict[str, Any]) -> dict[str, Any]:
    return {k: movie.get(k) for k in PUBLIC_FIELDS}


@router.get("", responses=documented(422))
async def search(db: DbDep, index: SearchDep, who: Annotated[Principal, Depends(PUBLIC)],
                 q: str = Query(..., min_length=1, max_length=200, pattern=r"[A-Za-z0-9]",
                                description="words of the title: at least one letter or digit (A-Z, 0-9)"),
                 year: int | None = Query(None, ge=1870, le=2100)) -> list[dict[str, Any]]:
    key = title_key(q, None).split("|")[0]
    if not key:
        raise HTTPException(422, "the query has no letters or digits to search for")
    await index.ensure_fresh(db)
    ids = index.search(key, year, limit=20)
    found = {m["movieId"]: m for m in await catalogue_store.get_movies(db, ids, full=True)}
    return [public(found[i]) for i in ids if i in found]


@router.get("/{movie_id}", responses=documented(404, 422))
async def movie(movie_id: Annotated[int, Path(ge=0, le=MAX_ID)], db: DbDep,
                who: Annotated[Principal, Depends(PUBLIC)]) -> dict[str, Any]:
    found = await catalogue_store.get_movie(db, movie_id)
    if found is None:
        raise HTTPException(404, f"no movie with id {movie_id}")
    return public(found)
