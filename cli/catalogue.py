"""``cinestream catalogue``: build the catalogue into MongoDB and look at it."""

from __future__ import annotations

import typer

from cli.common import console, fail, require
from core.settings import get_settings

app = typer.Typer(help="The movie catalogue in MongoDB.", no_args_is_help=True)


@app.command("build")


def catalogue_build(force: bool = typer.Option(False, help="Rebuild even if the inputs are unchanged.")) -> None:
    """Merge MovieLens + TMDB 5000 + ml-100k KG, clean it, and load it into MongoDB (idempotent; on a
    rebuild, the titles added, changed and dropped go to the movies topic as catalogue events)."""
    require("mongo")
    import asyncio

    from jobs.catalogue import CatalogueJobError, run_build

    try:
        outcome = asyncio.run(run_build(get_settings(), console, force=force))
    except CatalogueJobError as exc:
        fail(str(exc))
    console.print(outcome)


@app.command("report")


def catalogue_report_cmd() -> None:
    """Print the preprocessing report of the last build (from MongoDB)."""
    require("mongo")
    import asyncio

    from jobs.catalogue import print_report, stored_report

    report = asyncio.run(stored_report(get_settings()))
    if report is None:
        fail("no catalogue built yet: run `cinestream catalogue build`")
        return
    print_report(report, console)


@app.command("show")


def catalogue_show(title: str, year: int | None = typer.Option(None)) -> None:
    """Look a movie up by title (and year): director, cast, genres, rating statistics."""
    require("mongo")
    import asyncio
    import json

    from jobs.catalogue import find_movies

    movies = asyncio.run(find_movies(get_settings(), title, year))
    if not movies:
        fail(f"no movie titled {title!r}")
    for movie in movies:
        keep = ("movieId", "title", "year", "genres", "directors", "cast", "writers", "stats", "missing")
        console.print_json(json.dumps({k: movie.get(k) for k in keep}, default=str))
