"""Catalogue: search and a movie page, from the API's in-memory copy (``api.search``)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException, Path, Query, Response

from api.deps import DbDep, SearchDep
from api.errors import documented
from api.security.policy import PUBLIC, Principal
from cinestream.catalogue.titles import title_key
from streams.schemas import MAX_ID

router = APIRouter(prefix="/api/movies", tags=["movies"])
JSON_PAGES: dict[int | str, dict[str, Any]] = {
    200: {"description": "the movies' public fields", "content": {"application/json": {}}}}


@router.get("", responses={**JSON_PAGES, **documented(422)}, response_class=Response)
async def search(db: DbDep, index: SearchDep, who: Annotated[Principal, Depends(PUBLIC)],
                 q: str = Query(..., min_length=1, max_length=200, pattern=r"[A-Za-z0-9]",
                                description="words of the title: at least one letter or digit (A-Z, 0-9)"),
                 year: int | None = Query(None, ge=1870, le=2100)) -> Response:
    """Up to 20 movies: exact title matches first, then titles with a word starting with ``q``, the
    most rated first. Served from the API's memory, as stored JSON (``api.search``)."""
    key = title_key(q, None).split("|")[0]
    if not key:
        raise HTTPException(422, "the query has no letters or digits to search for")
    await index.ensure_fresh(db)
    pages = [index.pages[i] for i in index.search(key, year, limit=20)]
    return Response(b"[" + b",".join(pages) + b"]", media_type="application/json")


@router.get("/{movie_id}", responses={**JSON_PAGES, **documented(404, 422)}, response_class=Response)
async def movie(movie_id: Annotated[int, Path(ge=0, le=MAX_ID)], db: DbDep, index: SearchDep,
                who: Annotated[Principal, Depends(PUBLIC)]) -> Response:
    await index.ensure_fresh(db)
    page = index.pages.get(movie_id)
    if page is None:
        raise HTTPException(404, f"no movie with id {movie_id}")
    return Response(page, media_type="application/json")
