"""The catalogue while the system runs: titles added, changed or retired by admins and by platforms
holding a ``catalogue:write`` key.

Each change goes to the ``movies`` topic and is applied by the stream (``streams.agents.catalogue``):
a 202 means Kafka holds it, and within a second it is searchable, has a page and content neighbours,
and may be offered as new; a retired title leaves search, pages and lists, and histories keep it.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, HTTPException, Path
from pydantic import Field

from api.deps import DbDep, ProducerDep, SearchDep, SettingsDep
from api.errors import documented
from api.fields import Body
from api.security.policy import CATALOGUE_WRITER, Principal
from api.services.intake import known_movies, send_titles
from contracts.catalogue import MAX_TITLES, TITLE_LIMITS

router = APIRouter(prefix="/api/admin/movies", tags=["catalogue"])
MovieId = Annotated[int, Field(**TITLE_LIMITS["movieId"])]
Name = Annotated[str, Field(min_length=1, max_length=200)]


def _limited(name: str, default: Any = None) -> Any:
    if default is list:
        return Field(default_factory=list, **TITLE_LIMITS[name])
    return Field(default, **TITLE_LIMITS[name])


class TitleIn(Body):
    """A title's whole public record: what it leaves out is empty (a change replaces the record)."""

    title: str = _limited("title", ...)
    alt_title: str | None = _limited("alt_title")
    year: int | None = _limited("year")
    genres: list[Name] = _limited("genres", list)
    directors: list[Name] = _limited("directors", list)
    cast: list[Name] = _limited("cast", list)
    writers: list[Name] = _limited("writers", list)
    keywords: list[Name] = _limited("keywords", list)
    tags: list[Name] = _limited("tags", list)
    overview: str | None = _limited("overview")
    tagline: str | None = _limited("tagline")
    runtime: int | None = _limited("runtime")
    imdbId: int | None = _limited("imdbId")
    tmdbId: int | None = _limited("tmdbId")


class UpsertIn(TitleIn):
    op: Literal["upsert"]
    movieId: MovieId


class RetireIn(Body):
    op: Literal["retire"]
    movieId: MovieId


class TitlesIn(Body):
    titles: list[Annotated[UpsertIn | RetireIn, Field(discriminator="op")]] = Field(min_length=1,
                                                                                   max_length=MAX_TITLES)


class Accepted(Body):
    accepted: int = Field(description="changes Kafka holds; the stream applies them within about a second")


@router.put("/{movie_id}", status_code=202, responses=documented(422, 503))
async def put_title(movie_id: Annotated[int, Path(**TITLE_LIMITS["movieId"])], body: TitleIn, producer: ProducerDep,
                    settings: SettingsDep, who: Annotated[Principal, Depends(CATALOGUE_WRITER)]) -> Accepted:
    """Add a title, or replace a title's record."""
    await send_titles(producer, settings, [{"op": "upsert", "movieId": movie_id, **body.model_dump()}])
    return Accepted(accepted=1)


@router.delete("/{movie_id}", status_code=202, responses=documented(404, 422, 503))
async def retire_title(movie_id: Annotated[int, Path(**TITLE_LIMITS["movieId"])], db: DbDep, index: SearchDep,
                       producer: ProducerDep, settings: SettingsDep,
                       who: Annotated[Principal, Depends(CATALOGUE_WRITER)]) -> Accepted:
    """Retire a title: it leaves search, pages and every list; people's histories keep it."""
    if not (await known_movies(db, index)).has(movie_id):
        raise HTTPException(404, f"no movie with id {movie_id} in the catalogue")
    await send_titles(producer, settings, [{"op": "retire", "movieId": movie_id}])
    return Accepted(accepted=1)


@router.post("", status_code=202, responses=documented(422, 503))
async def post_titles(body: TitlesIn, db: DbDep, index: SearchDep, producer: ProducerDep, settings: SettingsDep,
                      who: Annotated[Principal, Depends(CATALOGUE_WRITER)]) -> Accepted:
    """Up to 500 changes, applied in order as one: a platform's new releases and withdrawals."""
    known = await known_movies(db, index)
    added = {t.movieId for t in body.titles if t.op == "upsert"}
    unknown = [t.movieId for t in body.titles
               if t.op == "retire" and not known.has(t.movieId) and t.movieId not in added]
    if unknown:
        raise HTTPException(422, f"cannot retire movies not in the catalogue: {unknown[:10]}; nothing was sent")
    await send_titles(producer, settings, [t.model_dump() for t in body.titles])
    return Accepted(accepted=len(body.titles))
