"""Events into the topics: ``cinestream replay`` (a release), ``load`` (synthetic users) and ``simulate``
(simulated people through the API)."""

from __future__ import annotations

import typer

from cli.common import console, fail, require
from core.settings import get_settings


def replay_cmd(
    dataset: str = typer.Option("ml-latest-small"),
    speed: str = typer.Option("max", help="'max' or events per second, e.g. 5000"),
    limit: int | None = typer.Option(None, help="Only the first N ratings (in time order)."),
    once: bool = typer.Option(False, help="Skip it if this dataset was already replayed into this stack's Redis."),
) -> None:
    """Replay a MovieLens dataset (any release's layout) into the ratings topic in timestamp order."""
    import asyncio

    from rich.progress import Progress, TaskID

    from catalogue.readers import BadFileError
    from jobs.replay import release_layout, replay_release

    settings = get_settings()
    try:
        layout = release_layout(settings, dataset)
    except FileNotFoundError as exc:
        fail(str(exc))
    require(*(("kafka", "redis") if once else ("kafka",)))
    rate = None if speed == "max" else float(speed)
    with Progress(console=console) as bar:
        task: list[TaskID] = []
        try:
            outcome = asyncio.run(replay_release(
                settings, dataset, layout, rate, limit, once,
                started=lambda total: task.append(bar.add_task(f"replaying {dataset}", total=total)),
                progress=lambda n: bar.advance(task[0], n)))
        except BadFileError as exc:
            fail(str(exc))
    if outcome.moved_keys:
        console.print(f"moved {outcome.moved_keys:,} Redis keys to the sharded layout (storage/key_migration.py)")
    if outcome.already is not None:
        console.print(f"{dataset} was replayed into this stack already ({outcome.already:,.0f} events): "
                      "not again (--no-once replays it anyway)")
        return
    if outcome.rejected:  # the catalogue build rejected the same rows: replay what it kept
        first = outcome.rejected[0]
        console.print(f"skipping {len(outcome.rejected)} rejected row(s), first {first.file}:{first.line}: "
                      f"{first.reason}")
    summary = outcome.summary
    assert summary is not None
    console.print(f"replayed {summary.events} events in {summary.messages} messages in {summary.seconds:.1f}s "
                  f"({summary.events / summary.seconds:,.0f} events/s)")


def load_cmd(users: int = typer.Option(1000), rate: float = typer.Option(1000.0, help="events per second"),
             duration: float = typer.Option(10.0, help="seconds")) -> None:
    """Generate synthetic users' ratings and watches into the topics (bounded, stops by itself)."""
    require("kafka")
    import asyncio

    import numpy as np

    from catalogue.layouts import find_layout, read_movies
    from catalogue.readers import BadFileError, Rejections
    from simulators.load import generate
    from simulators.replay import release_ratings

    settings = get_settings()
    try:  # the load draws movies from the catalogue's release (the stream refuses others), as often as rated
        layout = find_layout(settings.release_dir(settings.dataset))
        movies = np.array([m for _, m, _, _ in read_movies(layout, Rejections()) if m >= 0])
        counts = release_ratings(settings, settings.dataset)["movieId"].value_counts()
    except BadFileError as exc:
        fail(str(exc))
    weights = counts.reindex(movies, fill_value=0).to_numpy(dtype=np.float64) + 0.1  # the unrated now and then
    with console.status(f"{rate:,.0f} events/s for {duration:.0f}s…"):
        summary = asyncio.run(generate(settings, settings.topic_ratings, settings.topic_watches,
                                       users=users, movies=movies, rate=rate, duration_s=duration,
                                       popularity=weights / weights.sum()))
    console.print(f"sent {summary.ratings} ratings and {summary.watches} watches in {summary.seconds:.1f}s")


def simulate_cmd(dataset: str = typer.Option("ml-latest-small", help="the release whose people are simulated"),
                 people: int = typer.Option(1000, min=1, help="people, each a rater's taste with noise"),
                 duration: float = typer.Option(60.0, min=1, help="seconds of new sessions"),
                 rate: float = typer.Option(5.0, min=0.01, help="sessions started a second (open-loop)"),
                 think: float = typer.Option(1.0, min=0, help="mean seconds between a person's actions"),
                 first_user: int = typer.Option(5_000_000, min=1, help="the first simulated person's user id"),
                 seed: int = typer.Option(0)) -> None:
    """Simulated people fetch their lists through the running API and rate or watch what they are shown,
    as their hidden taste (fitted from DATASET) makes them choose; prints what they took from each kind
    of list and the trending list at the end."""
    require("mongo")
    import asyncio

    import httpx

    from catalogue.readers import BadFileError
    from jobs.simulate import release_people, report, simulate

    settings = get_settings()
    try:
        with console.status(f"fitting {people:,} people's hidden tastes from {dataset}…"):
            population, titles = release_people(settings, dataset, people, seed)
    except (BadFileError, FileNotFoundError) as exc:  # no such release here, or a bad file in it
        fail(str(exc))
    try:
        tally, trending = asyncio.run(simulate(settings, f"http://{settings.api_host}:{settings.api_port}", population,
                                               titles, duration, rate, think, first_user, seed, console))
    except httpx.TransportError as exc:
        fail(f"the API at {settings.api_host}:{settings.api_port} does not answer ({exc!r}): start the main job "
              "(scripts/main.sh) or `cinestream api`")
    report(tally, trending, population, titles, console)
