"""``cinestream data``: MovieLens releases, downloaded or generated."""

from __future__ import annotations

import typer

from cli.common import console, fail
from core.settings import get_settings

app = typer.Typer(help="Datasets: download and locate.", no_args_is_help=True)


@app.command("fetch")


def data_fetch(
    name: str = typer.Argument("ml-latest-small", help="ml-latest-small, ml-100k, ml-1m, ml-25m, ml-32m …"),
) -> None:
    """Download a MovieLens archive (checksummed, cached, resumable) into CINESTREAM_DATA_DIR."""
    from rich.progress import DownloadColumn, Progress, TransferSpeedColumn

    from releases.fetch import FetchError, fetch

    settings = get_settings()
    with Progress(*Progress.get_default_columns(), DownloadColumn(), TransferSpeedColumn(),
                  console=console, transient=True) as bar:
        task = bar.add_task(f"fetching {name}", total=None)

        def advance(received: int, total: int | None) -> None:
            bar.update(task, advance=received, total=total)

        try:
            folder = fetch(name, settings.dataset_base_url, settings.cache_dir, settings.release_dir(name).parent,
                           advance)  # a generated release counts as fetched
        except (FetchError, OSError) as exc:
            fail(str(exc))
    console.print(f"{name}: ready in {folder}")


@app.command("generate")


def data_generate(
    name: str = typer.Argument(..., help="the release's name, e.g. ml-1m-synthetic (then CINESTREAM_DATASET=it)"),
    like: str = typer.Option("ml-1m", help="imitate this release's users, movies, ratings and layout: "
                                           "ml-100k, ml-1m, ml-10m or ml-25m"),
    scale: float = typer.Option(1.0, help="multiply users and ratings (movies stay)"),
    layout: str | None = typer.Option(None, help="'csv' or 'dat' (default: the imitated release's)"),
    seed: int = typer.Option(0),
) -> None:
    """Write a synthetic MovieLens release (Zipf popularity, MovieLens-shaped users and timestamps, real
    titles reused) into the cache's generated folder, for sizes this machine cannot download."""
    from rich.progress import Progress

    from releases.synthetic import LIKE, generate

    if like not in LIKE:
        fail(f"--like must be one of {', '.join(LIKE)}, not {like!r}")
    settings = get_settings()
    template = settings.data_dir / "ml-latest-small" / "movies.csv"
    if not template.is_file():
        fail(f"{template} not found: the generator reuses ml-latest-small's titles; run "
              "`cinestream data fetch ml-latest-small` or set CINESTREAM_DATA_DIR")
    if (settings.data_dir / name).exists():
        fail(f"{settings.data_dir / name} exists: a generated release must not shadow a real one; pick another name")
    import pandas as pd

    users, movies, ratings, shipped = LIKE[like]
    users, ratings = max(1, round(users * scale)), max(1, round(ratings * scale))
    with Progress(console=console) as bar:
        task = bar.add_task(f"generating {name} ({ratings:,} ratings)", total=ratings)
        made = generate(settings.generated_dir / name, users, movies, ratings, layout or shipped,
                        pd.read_csv(template), seed, progress=lambda n: bar.advance(task, n))
    console.print(f"{name}: {made.ratings:,} ratings of {made.users:,} users on {made.movies:,} movies in "
                  f"{made.folder} (use it with CINESTREAM_DATASET={name})")
