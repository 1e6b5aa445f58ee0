"""Catalogue: search and a movie page, from the API's in-memory copy (``api.search``)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException, Path, Query, Response

from api.deps import DbDep, SearchDep
from api.errors import documented
from api.security.policy import PUBLIC, Principal
from catalogue.titles import title_key
from contracts.events import MAX_MOVIE_ID

router = APIRouter(prefix="/api/movies", tags=["movies"])
JSON_PAGES: dict[int | str, dict[str, Any]] = {
    200: {"description": "the movies' public fields", "content": {"application/json": {}}}}


@router.get("", responses={**JSON_PAGES, **documented(422)}, response_class=Response)
async def search(db: DbDep, index: SearchDep, who: Annotated[Principal, Depends(PUBLIC)],
                 q: str | None = Query(None, min_length=1, max_length=200, pattern=r"[A-Za-z0-9]",
                                       description="words of a title or a director's or actor's name: at least "
                                                   "one letter or digit (A-Z, 0-9); none: the most rated"),
                 year: int | None = Query(None, ge=1870, le=2100),
                 genre: str | None = Query(None, min_length=1, max_length=40, description="one of /api/movies/genres"),
                 limit: int = Query(20, ge=1, le=100)) -> Response:
    """Movies by title, then by director or cast: exact title matches first, then titles with a word
    starting with ``q``, then people's names; the most rated first within each. Served from the
    API's memory, as stored JSON (``api.search``); fast enough to call on each key press."""
    key = ""
    if q is not None:
        key = title_key(q, None).split("|")[0]
        if not key:
            raise HTTPException(422, "the query has no letters or digits to search for")
    await index.ensure_fresh(db)
    pages = [index.pages[i] for i in index.search(key, year, limit, genre)]
    return Response(b"[" + b",".join(pages) + b"]", media_type="application/json")


@router.get("/genres")
async def genres(db: DbDep, index: SearchDep, who: Annotated[Principal, Depends(PUBLIC)]) -> dict[str, int]:
    """Every genre in the catalogue and how many movies carry it, most common first."""
    await index.ensure_fresh(db)
    return index.genres()


@router.get("/{movie_id}", responses={**JSON_PAGES, **documented(404, 410, 422)}, response_class=Response)
async def movie(movie_id: Annotated[int, Path(ge=0, le=MAX_MOVIE_ID)], db: DbDep, index: SearchDep,
                who: Annotated[Principal, Depends(PUBLIC)]) -> Response:
    await index.ensure_fresh(db)
    page = index.pages.get(movie_id)
    if page is None and movie_id in index.retired:
        raise HTTPException(410, f"movie {movie_id} was retired from the catalogue")
    if page is None:
        raise HTTPException(404, f"no movie with id {movie_id}")
    return Response(page, media_type="application/json")
